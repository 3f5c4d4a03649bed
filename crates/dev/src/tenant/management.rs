//! The dev tenant's Management API v2: its token (the `client_credentials` grant), its routes,
//! and the gate every `/api/v2` call passes (bearer token, a fixed one-minute rate-limit
//! window per token, scope), with Auth0's Management API error bodies.

use super::common::{api_error, now, oauth_error, payload_error, random_token};
use super::{header_pairs, jobs, users_api, Recorded, State};
use crate::wire::Params;
use axum::extract::{Request, State as AxState};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Lifetime of a Management API token (Auth0's default).
const TOKEN_TTL: u64 = 86400;
/// The rate-limit window, in seconds.
const WINDOW: u64 = 60;
/// The largest body the recorder reads.
const MAX_RECORDED_BODY: usize = 1 << 20;

/// The Management API's settings and counters.
pub(crate) struct Api {
    /// `{base_url}/api/v2/`: the audience of its tokens.
    pub(crate) audience: String,
    /// The machine-to-machine client allowed the `client_credentials` grant.
    client_id: Option<String>,
    /// What that client is granted (a request's `scope` narrows it).
    scopes: Vec<String>,
    per_minute: u32,
    /// Successful `client_credentials` grants.
    pub(crate) grants: AtomicU64,
    /// Rate-limit windows by token `jti` (or `sub`).
    windows: Mutex<HashMap<String, Window>>,
}

struct Window {
    start: u64,
    count: u32,
}

/// Where a caller stands in its window.
struct Quota {
    allowed: bool,
    limit: u32,
    remaining: u32,
    reset: u64,
}

impl Api {
    pub(crate) fn new(audience: String, client_id: Option<String>, scopes: Vec<String>, per_minute: u32) -> Self {
        Api { audience, client_id, scopes, per_minute, grants: AtomicU64::new(0), windows: Default::default() }
    }

    /// Count a call against `key`'s window.
    fn charge(&self, key: &str) -> Quota {
        let now = now();
        let mut windows = self.windows.lock().expect("not poisoned");
        if windows.len() > 1024 {
            windows.retain(|_, w| w.start + WINDOW > now);
        }
        let w = windows.entry(key.to_string()).or_insert(Window { start: now, count: 0 });
        if w.start + WINDOW <= now {
            *w = Window { start: now, count: 0 };
        }
        w.count = w.count.saturating_add(1);
        Quota {
            allowed: w.count <= self.per_minute,
            limit: self.per_minute,
            remaining: self.per_minute.saturating_sub(w.count),
            reset: w.start + WINDOW,
        }
    }
}

/// `grant_type=client_credentials` from an authenticated client: a Management API token.
pub(super) fn client_credentials(s: &State, params: &Params, client_id: &str) -> Response {
    if s.api.client_id.as_deref() != Some(client_id) {
        return oauth_error(403, "unauthorized_client", "Grant type 'client_credentials' not allowed for the client.");
    }
    let audience = params.get("audience").unwrap_or(&s.audience);
    if audience != s.api.audience {
        return oauth_error(403, "access_denied", &format!("Service not enabled within domain: {audience}"));
    }
    let granted: Vec<&str> = match params.get("scope") {
        Some(asked) => {
            let asked: Vec<&str> = asked.split_whitespace().collect();
            s.api.scopes.iter().map(String::as_str).filter(|x| asked.contains(x)).collect()
        }
        None => s.api.scopes.iter().map(String::as_str).collect(),
    };
    let scope = granted.join(" ");
    let iat = now();
    let claims = json!({
        "iss": s.issuer, "sub": format!("{client_id}@clients"), "aud": s.api.audience,
        "iat": iat, "exp": iat + TOKEN_TTL, "azp": client_id, "scope": scope,
        "gty": "client-credentials", "jti": random_token(),
    });
    s.api.grants.fetch_add(1, Ordering::SeqCst);
    let token = s.signer().sign(&claims);
    let body = json!({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL, "scope": scope});
    Json(body).into_response()
}

pub(super) fn router(state: Arc<State>) -> axum::Router<Arc<State>> {
    axum::Router::new()
        .route("/api/v2/users", get(users_api::list).post(users_api::create))
        .route("/api/v2/users/{id}", get(users_api::read).patch(users_api::update).delete(users_api::remove))
        .route("/api/v2/jobs/users-imports", post(jobs::import))
        .route("/api/v2/jobs/{id}", get(jobs::status))
        .route("/api/v2/jobs/{id}/errors", get(jobs::errors))
        .route_layer(middleware::from_fn_with_state(state, gate))
}

fn unauthorized() -> Response {
    let body = json!({
        "statusCode": 401, "error": "Unauthorized", "message": "Invalid token",
        "attributes": {"error": "Invalid token"},
    });
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

/// Every `/api/v2` call: recorded, authenticated, counted, its scope checked. Calls without
/// a valid token share one window (they are answered 401, never 429).
async fn gate(AxState(s): AxState<Arc<State>>, req: Request, next: Next) -> Response {
    let req = match record(&s, req).await {
        Ok(req) => req,
        Err(refused) => return refused,
    };
    let claims = authenticate(&s, req.headers());
    let key = claims.as_ref().and_then(|c| c["jti"].as_str().or_else(|| c["sub"].as_str())).unwrap_or_default();
    let quota = s.api.charge(key);
    let scope = required_scope(req.method(), req.uri().path());
    let scoped = claims
        .as_ref()
        .and_then(|c| c["scope"].as_str())
        .is_some_and(|granted| granted.split_whitespace().any(|x| x == scope));
    let mut response = if claims.is_none() {
        unauthorized()
    } else if !quota.allowed {
        api_error(StatusCode::TOO_MANY_REQUESTS, "Global limit has been reached", "too_many_requests")
    } else if !scoped {
        api_error(StatusCode::FORBIDDEN, &format!("Insufficient scope, expected any of: {scope}"), "insufficient_scope")
    } else {
        next.run(req).await
    };
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", u64::from(quota.limit)),
        ("x-ratelimit-remaining", u64::from(quota.remaining)),
        ("x-ratelimit-reset", quota.reset),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
    response
}

/// The claims of a valid Management API token in the `Authorization` header.
fn authenticate(s: &State, headers: &HeaderMap) -> Option<Value> {
    let (scheme, token) = headers.get(header::AUTHORIZATION)?.to_str().ok()?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    s.verified(token.trim(), Some(&s.api.audience))
}

/// The scope a route needs (the gate runs on matched routes only).
fn required_scope(method: &Method, path: &str) -> &'static str {
    if path.starts_with("/api/v2/jobs/") {
        return if *method == Method::POST { "create:users_imports" } else { "read:users_imports" };
    }
    match *method {
        Method::GET => "read:users",
        Method::POST => "create:users",
        Method::PATCH => "update:users",
        _ => "delete:users",
    }
}

/// Keep the call for tests: path, query, headers, and the query and JSON body parameters.
/// Imports (multipart) are recorded by their handler, which reads the form.
async fn record(s: &State, req: Request) -> Result<Request, Response> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"));
    if s.recorder.is_none() || multipart {
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_RECORDED_BODY).await else {
        return Err(payload_error("the request body is too large"));
    };
    let query = parts.uri.query().unwrap_or_default().to_string();
    let mut params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&bytes) {
        params.extend(fields.into_iter().map(|(k, v)| match v {
            Value::String(text) => (k, text),
            other => (k, other.to_string()),
        }));
    }
    s.record(Recorded { path: parts.uri.path().to_string(), query, headers: header_pairs(&parts.headers), params });
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}
