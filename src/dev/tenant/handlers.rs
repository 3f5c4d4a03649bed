//! The dev tenant's HTTP endpoints.

use super::{Recorded, RefreshGrant, State};
use crate::login::{body_kind, parse_body, Params};
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use jsonwebtoken::{Algorithm, Validation};
use rand::RngCore;
use serde_json::{json, Value};
use std::sync::Arc;

type St = AxState<Arc<State>>;

const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";

pub fn router(state: Arc<State>) -> axum::Router {
    axum::Router::new()
        .route("/oauth/token", post(token))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(openid_configuration))
        .route("/userinfo", get(userinfo))
        .route("/oauth/revoke", post(revoke))
        .with_state(state)
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    let status = StatusCode::from_u16(status).expect("valid status");
    (status, Json(json!({"error": error, "error_description": description}))).into_response()
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

async fn jwks(AxState(s): St) -> Response {
    s.jwks_requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if s.jwks_failing.load(std::sync::atomic::Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "jwks unavailable").into_response();
    }
    let keys: Vec<Value> = s.keys.read().expect("not poisoned").iter().map(|k| k.jwk().clone()).collect();
    Json(json!({ "keys": keys })).into_response()
}

/// `POST /oauth/revoke {client_id, client_secret, token}`: forget a refresh token (always 200).
async fn revoke(AxState(s): St, headers: HeaderMap, body: Bytes) -> Response {
    let params =
        match body_kind(headers.get("content-type").and_then(|v| v.to_str().ok())).and_then(|k| parse_body(k, &body)) {
            Ok(p) => p,
            Err(e) => return oauth_error(e.status, &e.error, &e.description),
        };
    record(&s, "/oauth/revoke", &headers, &body, &params);
    if !client_authenticated(&s, &params) {
        return oauth_error(401, "invalid_client", "Unauthorized");
    }
    let Some(token) = params.get("token") else {
        return oauth_error(400, "invalid_request", "Missing required parameter: token");
    };
    let client_id = params.get("client_id").unwrap_or_default();
    let mut grants = s.refresh.lock().expect("not poisoned");
    if grants.get(token).is_some_and(|g| g.client_id == client_id) {
        grants.remove(token);
    }
    StatusCode::OK.into_response()
}

fn client_authenticated(s: &State, params: &Params) -> bool {
    let client_id = params.get("client_id").unwrap_or_default();
    let secret = params.get("client_secret").unwrap_or_default();
    s.clients.iter().any(|(id, cs)| id == client_id && cs.expose() == secret)
}

fn record(s: &State, path: &str, headers: &HeaderMap, body: &[u8], params: &Params) {
    if let Some(rec) = &s.recorder {
        rec.lock().expect("not poisoned").push(Recorded {
            path: path.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            params: form_pairs(body, params),
        });
    }
}

async fn openid_configuration(AxState(s): St) -> Json<Value> {
    let b = &s.base_url;
    Json(json!({
        "issuer": s.issuer,
        "authorization_endpoint": format!("{b}/authorize"),
        "token_endpoint": format!("{b}/oauth/token"),
        "userinfo_endpoint": format!("{b}/userinfo"),
        "jwks_uri": format!("{b}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{b}/oauth/revoke"),
        "grant_types_supported": ["password", PASSWORD_REALM, "refresh_token"],
        "response_types_supported": ["code", "token", "id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
    }))
}

async fn userinfo(AxState(s): St, headers: HeaderMap) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[&s.issuer]);
    v.validate_aud = false;
    let keys = s.keys.read().expect("not poisoned").clone();
    let Some(data) = keys.iter().find_map(|k| jsonwebtoken::decode::<Value>(token, &k.decoding, &v).ok()) else {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    };
    let sub = data.claims["sub"].as_str().unwrap_or_default();
    match s.users.iter().find(|u| format!("auth0|{}", u.id) == sub) {
        Some(u) => Json(json!({"sub": sub, "email": u.email, "email_verified": true, "name": u.name})).into_response(),
        None => (StatusCode::UNAUTHORIZED, "Unauthorized").into_response(),
    }
}

async fn token(AxState(s): St, headers: HeaderMap, body: Bytes) -> Response {
    let params = match body_kind(headers.get("content-type").and_then(|v| v.to_str().ok()))
        .and_then(|kind| parse_body(kind, &body))
    {
        Ok(p) => p,
        Err(e) => return oauth_error(e.status, &e.error, &e.description),
    };
    if let Some(rec) = &s.recorder {
        rec.lock().expect("not poisoned").push(Recorded {
            path: "/oauth/token".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            params: form_pairs(&body, &params),
        });
    }
    let client_id = params.get("client_id").unwrap_or_default();
    let secret = params.get("client_secret").unwrap_or_default();
    if !s.clients.iter().any(|(id, cs)| id == client_id && cs.expose() == secret) {
        return oauth_error(401, "invalid_client", "Unauthorized");
    }
    match params.get("grant_type").unwrap_or_default() {
        "password" => password(&s, &params, &s.default_directory).await,
        PASSWORD_REALM => match params.get("realm") {
            Some(realm) => password(&s, &params, realm).await,
            None => oauth_error(400, "invalid_request", "Missing required parameter: realm"),
        },
        "refresh_token" => refresh(&s, &params),
        "" => oauth_error(400, "invalid_request", "Missing required parameter: grant_type"),
        _ => oauth_error(400, "unsupported_grant_type", "Unsupported grant type"),
    }
}

/// The parameters as the tenant saw them, in a stable order, for the recorder.
fn form_pairs(body: &[u8], params: &Params) -> Vec<(String, String)> {
    let names: Vec<String> = match serde_json::from_slice::<serde_json::Map<String, Value>>(body) {
        Ok(map) => map.keys().cloned().collect(),
        Err(_) => form_urlencoded::parse(body).map(|(k, _)| k.into_owned()).collect(),
    };
    names.into_iter().filter_map(|n| params.get(&n).map(|v| (n.clone(), v.to_string()))).collect()
}

async fn password(s: &Arc<State>, params: &Params, realm: &str) -> Response {
    let (Some(username), Some(password)) = (params.get("username"), params.get("password")) else {
        let missing = if params.get("username").is_none() { "username" } else { "password" };
        return oauth_error(400, "invalid_request", &format!("Missing required parameter: {missing}"));
    };
    if !s.users.iter().any(|u| u.connection == realm) && realm != s.default_directory {
        return oauth_error(400, "invalid_request", "connection is disabled or does not exist");
    }
    let username = username.to_lowercase();
    let found = s.users.iter().position(|u| u.connection == realm && u.email == username);
    let (state, password) = (s.clone(), password.to_string());
    let ok = tokio::task::spawn_blocking(move || found.is_some_and(|i| state.users[i].password_matches(&password)))
        .await
        .unwrap_or(false);
    let Some(user) = found.filter(|_| ok) else {
        return oauth_error(403, "invalid_grant", "Wrong email or password.");
    };
    let u = &s.users[user];
    if u.blocked {
        return oauth_error(401, "unauthorized", "user is blocked");
    }
    if u.mfa {
        let body = json!({"error": "mfa_required", "error_description": "Multifactor authentication required", "mfa_token": random_token()});
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    let scope = params.get("scope").unwrap_or("openid").to_string();
    let audience = params.get("audience").unwrap_or(&s.audience).to_string();
    let client_id = params.get("client_id").unwrap_or_default().to_string();
    let refresh = scope.split_whitespace().any(|x| x == "offline_access").then(|| {
        let t = random_token();
        let grant =
            RefreshGrant { user, client_id: client_id.clone(), scope: scope.clone(), audience: audience.clone() };
        s.refresh.lock().expect("not poisoned").insert(t.clone(), grant);
        t
    });
    Json(issue(s, user, &client_id, &scope, &audience, refresh)).into_response()
}

fn refresh(s: &Arc<State>, params: &Params) -> Response {
    let Some(token) = params.get("refresh_token") else {
        return oauth_error(400, "invalid_request", "Missing required parameter: refresh_token");
    };
    let client_id = params.get("client_id").unwrap_or_default();
    let mut grants = s.refresh.lock().expect("not poisoned");
    let (user, scope, audience) = match grants.get(token) {
        Some(g) if g.client_id == client_id => (g.user, g.scope.clone(), g.audience.clone()),
        _ => return oauth_error(403, "invalid_grant", "Unknown or invalid refresh token."),
    };
    let new_refresh = s.rotate.then(|| {
        let g = grants.remove(token).expect("present");
        let t = random_token();
        grants.insert(t.clone(), g);
        t
    });
    drop(grants);
    let scope = params.get("scope").unwrap_or(&scope).to_string();
    Json(issue(s, user, client_id, &scope, &audience, new_refresh)).into_response()
}

fn issue(s: &State, user: usize, client_id: &str, scope: &str, audience: &str, refresh: Option<String>) -> Value {
    let u = &s.users[user];
    let (iat, exp) = (now(), now() + s.ttl);
    let sub = format!("auth0|{}", u.id);
    let openid = scope.split_whitespace().any(|x| x == "openid");
    let aud = if openid { json!([audience, format!("{}userinfo", s.issuer)]) } else { json!(audience) };
    let mut access = json!({
        "iss": s.issuer, "sub": sub, "aud": aud, "iat": iat, "exp": exp,
        "azp": client_id, "scope": scope, "gty": "password", "jti": random_token(),
        "email": u.email,
    });
    access[s.groups_claim.as_str()] = json!(u.groups);
    let signer = s.signer();
    let mut out = json!({
        "access_token": signer.sign(&access),
        "token_type": "Bearer",
        "expires_in": s.ttl,
    });
    if openid {
        let id = json!({
            "iss": s.issuer, "sub": sub, "aud": client_id, "iat": iat, "exp": exp,
            "email": u.email, "email_verified": true, "name": u.name,
        });
        out["id_token"] = json!(signer.sign(&id));
    }
    if let Some(r) = refresh {
        out["refresh_token"] = json!(r);
    }
    out
}
