//! The dev tenant's HTTP endpoints: the token endpoint's logins (each starting a tenant
//! session), `/oauth/ro`, `/oauth/revoke`, the JWKS, discovery and `/userinfo`.

use super::common::{oauth_error, params_of};
use super::grants::{check_user, form_pairs, grant, mfa_required, refresh, UserRefusal};
use super::users::User;
use super::{header_pairs, management, Recorded, State};
use crate::wire::Params;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{json, Value};
use std::sync::Arc;

type St = AxState<Arc<State>>;

use crate::wire::{JWT_BEARER, PASSWORDLESS_OTP, PASSWORD_REALM};

pub(crate) fn router(state: Arc<State>) -> axum::Router {
    axum::Router::new()
        .route("/oauth/token", post(token))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(openid_configuration))
        .route("/userinfo", get(userinfo))
        .route("/oauth/revoke", post(revoke))
        .route("/oauth/ro", post(ro))
        .merge(super::authorize::router())
        .merge(management::router(state.clone()))
        .with_state(state)
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
    let (params, client_id) = match client_call(&s, "/oauth/revoke", &headers, &body) {
        Ok(call) => call,
        Err(refused) => return *refused,
    };
    let Some(token) = params.get("token") else {
        return oauth_error(400, "invalid_request", "Missing required parameter: token");
    };
    s.refresh.lock().expect("not poisoned").revoke(token, &client_id);
    StatusCode::OK.into_response()
}

fn record(s: &State, path: &str, headers: &HeaderMap, body: &[u8], params: &Params) {
    if s.recorder.is_some() {
        s.record(Recorded {
            path: path.into(),
            query: String::new(),
            headers: header_pairs(headers),
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
        "end_session_endpoint": format!("{b}/oidc/logout"),
        "grant_types_supported": [
            "authorization_code", "password", PASSWORD_REALM, PASSWORDLESS_OTP, "refresh_token", "client_credentials"
        ],
        "code_challenge_methods_supported": ["S256"],
        "response_types_supported": ["code", "token", "id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt"],
        // Logout tokens go to clients with a `backchannel_logout_uri`, carrying the session's `sid`.
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    }))
}

async fn userinfo(AxState(s): St, headers: HeaderMap) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(claims) = s.verified(token, None) else {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    };
    let sub = claims["sub"].as_str().unwrap_or_default();
    let found = sub.strip_prefix("auth0|").and_then(|id| s.user(id));
    match found {
        Some(u) => Json(json!({"sub": sub, "email": u.email, "email_verified": u.email_verified, "name": u.name}))
            .into_response(),
        None => (StatusCode::UNAUTHORIZED, "Unauthorized").into_response(),
    }
}

fn basic(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() > 6 && v[..6].eq_ignore_ascii_case("basic "))
}

/// The body's parameters, recorded with the call; a body that cannot be read is refused.
fn recorded_params(s: &State, path: &str, headers: &HeaderMap, body: &[u8]) -> Result<Params, Box<Response>> {
    let params = params_of(headers, body).map_err(|e| oauth_error(400, "invalid_request", &e.0))?;
    record(s, path, headers, body, &params);
    Ok(params)
}

/// The recorded parameters of a call and the id of the client it authenticates as (basic
/// auth or the body's credentials).
fn client_call(s: &State, path: &str, headers: &HeaderMap, body: &[u8]) -> Result<(Params, String), Box<Response>> {
    let params = recorded_params(s, path, headers, body)?;
    let id = match s.clients.authenticate(basic(headers), &params) {
        Ok(c) => c.id.clone(),
        Err(why) => return Err(Box::new(oauth_error(401, "invalid_client", why))),
    };
    Ok((params, id))
}

async fn token(AxState(s): St, headers: HeaderMap, body: Bytes) -> Response {
    let (params, client_id) = match client_call(&s, "/oauth/token", &headers, &body) {
        Ok(call) => call,
        Err(refused) => return *refused,
    };
    let realm = match params.get("grant_type").unwrap_or_default() {
        "password" => s.default_directory.as_str(),
        PASSWORD_REALM | PASSWORDLESS_OTP => match params.get("realm") {
            Some(realm) => realm,
            None => return oauth_error(400, "invalid_request", "Missing required parameter: realm"),
        },
        "refresh_token" => return refresh(&s, &params, &client_id),
        "authorization_code" => return super::authorize::code_grant(&s, &params, &client_id),
        "client_credentials" => return management::client_credentials(&s, &params, &client_id),
        "" => return oauth_error(400, "invalid_request", "Missing required parameter: grant_type"),
        _ => return oauth_error(400, "unsupported_grant_type", "Unsupported grant type"),
    };
    let otp = params.get("grant_type") == Some(PASSWORDLESS_OTP);
    let secret_name = if otp { "otp" } else { "password" };
    let (Some(username), Some(secret)) = (params.get("username"), params.get(secret_name)) else {
        let missing = if params.get("username").is_none() { "username" } else { secret_name };
        return oauth_error(400, "invalid_request", &format!("Missing required parameter: {missing}"));
    };
    match check_user(&s, realm, username, secret, otp).await {
        Ok(user) => Json(grant(&s, &user, &client_id, &params)).into_response(),
        Err(UserRefusal::UnknownConnection) => {
            oauth_error(400, "invalid_request", "connection is disabled or does not exist")
        }
        Err(UserRefusal::Wrong) if otp => oauth_error(403, "invalid_grant", "Wrong phone number or verification code."),
        Err(UserRefusal::Wrong) => oauth_error(403, "invalid_grant", "Wrong email or password."),
        Err(UserRefusal::Blocked) => oauth_error(401, "unauthorized", "user is blocked"),
        Err(UserRefusal::Mfa) => mfa_required(),
    }
}

/// Legacy `POST /oauth/ro`: database and passwordless logins, and the jwt-bearer grant, with
/// /oauth/ro's own error vocabulary.
async fn ro(AxState(s): St, headers: HeaderMap, body: Bytes) -> Response {
    let params = match recorded_params(&s, "/oauth/ro", &headers, &body) {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    let Some(client) = params.get("client_id").and_then(|id| s.clients.by_id(id)) else {
        return oauth_error(401, "invalid_client", "Unknown client");
    };
    let scope = params.get("scope").unwrap_or("openid");
    if scope.split_whitespace().any(|x| x == "offline_access") && params.get("device").is_none() {
        return oauth_error(400, "invalid_request", "missing device parameter");
    }
    let user = match params.get("grant_type").unwrap_or_default() {
        "password" => {
            let missing = ["username", "password", "connection"].into_iter().find(|p| params.get(p).is_none());
            if let Some(m) = missing {
                return oauth_error(400, "invalid_request", &format!("missing {m} parameter"));
            }
            let connection = params.get("connection").unwrap_or_default();
            let otp = crate::wire::is_passwordless(connection);
            let (username, secret) =
                (params.get("username").unwrap_or_default(), params.get("password").unwrap_or_default());
            match check_user(&s, connection, username, secret, otp).await {
                Ok(u) => u,
                Err(UserRefusal::UnknownConnection) => {
                    return oauth_error(400, "invalid_request", "unknown connection")
                }
                Err(UserRefusal::Wrong) => {
                    return oauth_error(401, "invalid_user_password", "Wrong email or password.")
                }
                Err(UserRefusal::Blocked) => return oauth_error(401, "unauthorized", "user is blocked"),
                Err(UserRefusal::Mfa) => return mfa_required(),
            }
        }
        JWT_BEARER => {
            for p in ["id_token", "device"] {
                if params.get(p).is_none() {
                    return oauth_error(400, "invalid_request", &format!("missing {p} parameter"));
                }
            }
            match user_of_id_token(&s, params.get("id_token").unwrap_or_default(), client) {
                Some(u) => u,
                None => return oauth_error(401, "invalid_token", "invalid id_token"),
            }
        }
        "" => return oauth_error(400, "invalid_request", "missing grant_type parameter"),
        _ => return oauth_error(400, "unsupported_grant_type", "Unsupported grant type"),
    };
    let mut answer = grant(&s, &user, &client.id, &params);
    if let Some(map) = answer.as_object_mut() {
        map.remove("expires_in");
    }
    Json(answer).into_response()
}

/// The user an id_token from this tenant names: RS256 with our keys, or HS256 with the client
/// secret (as legacy Auth0 signed them); `aud` must be the client.
fn user_of_id_token(s: &State, id_token: &str, client: &super::clients::DevClient) -> Option<User> {
    let claims = match jsonwebtoken::decode_header(id_token).ok()?.alg {
        Algorithm::RS256 => s.verified(id_token, Some(&client.id))?,
        Algorithm::HS256 => {
            let mut v = Validation::new(Algorithm::HS256);
            v.set_issuer(&[&s.issuer]);
            v.set_audience(&[&client.id]);
            let key = jsonwebtoken::DecodingKey::from_secret(client.secret.expose().as_bytes());
            jsonwebtoken::decode::<Value>(id_token, &key, &v).ok()?.claims
        }
        _ => return None,
    };
    s.user(claims["sub"].as_str()?.strip_prefix("auth0|")?)
}
