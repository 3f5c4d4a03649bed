//! What the dev tenant's endpoints share: its two error shapes (OAuth's and the Management
//! API's), request parameters, random tokens and the clock.

use crate::wire::Params;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::RngCore;
use serde_json::json;

pub(super) fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    let status = StatusCode::from_u16(status).expect("valid status");
    (status, Json(json!({"error": error, "error_description": description}))).into_response()
}

pub(super) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(super) fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// The parameters of a form or JSON body; unreadable: `400 invalid_request` (or `415`) and why.
pub(super) fn params_of(headers: &HeaderMap, body: &[u8]) -> Result<Params, crate::wire::Unreadable> {
    Params::from_body(headers.get("content-type").and_then(|v| v.to_str().ok()), body)
}

/// An error in Auth0's Management API shape.
pub(super) fn api_error(status: StatusCode, message: &str, code: &str) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or_default(),
        "message": message,
        "errorCode": code,
    });
    (status, Json(body)).into_response()
}

/// `400 invalid_body`: "Payload validation error: '<detail>'.".
pub(super) fn payload_error(detail: &str) -> Response {
    api_error(StatusCode::BAD_REQUEST, &format!("Payload validation error: '{detail}'."), "invalid_body")
}

pub(super) fn no_connection() -> Response {
    api_error(StatusCode::BAD_REQUEST, "The connection does not exist.", "inexistent_connection")
}
