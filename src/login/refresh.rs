//! `POST /oauth/refreshtoken`: a Bearer access token the tenant issued (expired is fine, up to
//! the configured grace) plus `{"refresh_token"}` → new tokens in the client's shape.

use super::token::refresh_grant;
use super::{check_client_id, read_params, LoginService};
use crate::config::Client;
use crate::error::ApiError;
use crate::guard::jwt::{verify, Policy, VerifyError};
use crate::reply::{Reply, Request};
use crate::session::session_token;

pub async fn handle(svc: &LoginService, client: &Client, req: &Request) -> Result<Reply, ApiError> {
    let token = bearer(req)
        .or_else(|| req.header("cookie").and_then(|c| session_token(&svc.config.session, c)))
        .ok_or_else(|| ApiError::invalid_token("An access token is required: Authorization: Bearer <token>."))?;
    let policy = Policy {
        issuer: svc.config.tenant.issuer.clone(),
        audiences: None,
        leeway_seconds: 30,
        expired_grace_seconds: Some(svc.config.session.refresh_expired_grace_seconds),
    };
    let claims = verify(token, &svc.jwks, &policy).await.map_err(|e| match e {
        VerifyError::KeysUnavailable => {
            ApiError::bad_gateway("The identity provider's signing keys could not be fetched.")
        }
        other => {
            tracing::info!(reason = %other, "refresh refused: bad access token");
            ApiError::invalid_token("The access token is not valid.")
        }
    })?;
    if let Some(azp) = claims.get("azp").and_then(|v| v.as_str()) {
        if azp != client.client_id {
            return Err(ApiError::invalid_token(
                "The access token was issued to another client.",
            ));
        }
    }
    let params = read_params(req)?;
    check_client_id(&params, client)?;
    refresh_grant(svc, client, &params, req).await
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.header("authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
