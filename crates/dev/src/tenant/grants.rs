//! How the dev tenant checks a user and issues tokens: the password and one-time-code
//! checks, the grants' answers (every login starting a tenant session, whose `sid` the
//! id_tokens carry), refresh (with rotation and reuse detection, see `rotation`).

use super::common::{now, oauth_error, random_token};
use super::rotation::Presented;
use super::users::{self, User};
use super::{sessions, RefreshGrant, State};
use crate::wire::Params;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub(super) enum UserRefusal {
    UnknownConnection,
    Wrong,
    Blocked,
    Mfa,
}

/// The user of `connection` named `username` whose password (or one-time code) is `secret`.
pub(super) async fn check_user(
    s: &Arc<State>,
    connection: &str,
    username: &str,
    secret: &str,
    otp: bool,
) -> Result<User, UserRefusal> {
    if !s.connections.knows(connection) {
        return Err(UserRefusal::UnknownConnection);
    }
    let username = username.to_lowercase();
    let found = s
        .users
        .read()
        .expect("not poisoned")
        .iter()
        .find(|u| u.connection == connection && u.is_named(&username))
        .cloned();
    let ok = match &found {
        None => false,
        Some(u) if otp => u.otp_matches(secret),
        Some(u) => {
            let (hash, secret) = (u.hash.clone(), secret.to_string());
            tokio::task::spawn_blocking(move || users::password_matches(&hash, &secret)).await.unwrap_or(false)
        }
    };
    match found.filter(|_| ok).ok_or(UserRefusal::Wrong)? {
        u if u.blocked => Err(UserRefusal::Blocked),
        u if u.mfa => Err(UserRefusal::Mfa),
        u => Ok(u),
    }
}

pub(super) fn mfa_required() -> Response {
    let body = json!({"error": "mfa_required", "error_description": "Multifactor authentication required", "mfa_token": random_token()});
    (StatusCode::FORBIDDEN, Json(body)).into_response()
}

/// What an id_token says of the login it comes from.
#[derive(Clone, Copy, Default)]
pub(super) struct Login<'a> {
    /// The tenant session (`sid`).
    pub(super) sid: Option<&'a str>,
    /// The authorization request's `nonce` (the authorization-code grant).
    pub(super) nonce: Option<&'a str>,
}

/// A login at the token endpoint (or `/oauth/ro`): a new tenant session, which the client
/// takes part in at once, and its tokens, scope and audience as asked, a refresh token with
/// `offline_access`.
pub(super) fn grant(s: &State, user: &User, client_id: &str, params: &Params) -> Value {
    let scope = params.get("scope").unwrap_or("openid");
    let audience = params.get("audience").unwrap_or(&s.audience);
    let sid = sessions::start(s, &user.id, Some(client_id));
    grant_scoped(s, user, client_id, scope, audience, Login { sid: Some(&sid), nonce: None })
}

/// Tokens for `user` with this scope and audience, and with `offline_access` a refresh token
/// starting a new family (of `login`'s session); the id_token says what `login` says.
pub(super) fn grant_scoped(
    s: &State,
    user: &User,
    client_id: &str,
    scope: &str,
    audience: &str,
    login: Login<'_>,
) -> Value {
    let refresh = scope.split_whitespace().any(|x| x == "offline_access").then(|| {
        let mut tokens = s.refresh.lock().expect("not poisoned");
        let family = tokens.new_family();
        tokens.insert(RefreshGrant {
            user: user.id.clone(),
            client_id: client_id.to_string(),
            scope: scope.to_string(),
            audience: audience.to_string(),
            family,
            sid: login.sid.map(str::to_string),
        })
    });
    issue(s, user, client_id, scope, audience, refresh, login)
}

/// The parameters as the tenant saw them, in a stable order, for the recorder.
pub(super) fn form_pairs(body: &[u8], params: &Params) -> Vec<(String, String)> {
    let names: Vec<String> = match serde_json::from_slice::<serde_json::Map<String, Value>>(body) {
        Ok(map) => map.keys().cloned().collect(),
        Err(_) => form_urlencoded::parse(body).map(|(k, _)| k.into_owned()).collect(),
    };
    names.into_iter().filter_map(|n| params.get(&n).map(|v| (n.clone(), v.to_string()))).collect()
}

/// `grant_type=refresh_token`: with rotation, the token presented is retired and a new one
/// of its family handed out; a replayed retired token revokes the family (`rotation`).
pub(super) fn refresh(s: &Arc<State>, params: &Params, client_id: &str) -> Response {
    let Some(token) = params.get("refresh_token") else {
        return oauth_error(400, "invalid_request", "Missing required parameter: refresh_token");
    };
    let presented =
        s.refresh.lock().expect("not poisoned").present(token, client_id, s.rotate, s.reuse_interval, now());
    let (grant, new_refresh) = match presented {
        Presented::Granted(grant, new_refresh) => (grant, new_refresh),
        Presented::Replayed => {
            s.families_revoked.fetch_add(1, Ordering::SeqCst);
            return invalid_refresh_token();
        }
        Presented::Unknown => return invalid_refresh_token(),
    };
    // The user may have been deleted or blocked through the Management API since (which
    // removes its tokens, but a refresh may have been under way).
    let Some(u) = s.user(&grant.user).filter(|u| !u.blocked) else {
        return invalid_refresh_token();
    };
    let scope = params.get("scope").unwrap_or(&grant.scope).to_string();
    s.refresh_grants.fetch_add(1, Ordering::SeqCst);
    let login = Login { sid: grant.sid.as_deref(), nonce: None };
    Json(issue(s, &u, client_id, &scope, &grant.audience, new_refresh, login)).into_response()
}

fn invalid_refresh_token() -> Response {
    oauth_error(403, "invalid_grant", "Unknown or invalid refresh token.")
}

pub(super) fn issue(
    s: &State,
    u: &User,
    client_id: &str,
    scope: &str,
    audience: &str,
    refresh: Option<String>,
    login: Login<'_>,
) -> Value {
    let (iat, exp) = (now(), now() + s.ttl);
    let sub = u.user_id();
    let openid = scope.split_whitespace().any(|x| x == "openid");
    let aud = if openid { json!([audience, format!("{}userinfo", s.issuer)]) } else { json!(audience) };
    let mut access = json!({
        "iss": s.issuer, "sub": sub, "aud": aud, "iat": iat, "exp": exp,
        "azp": client_id, "scope": scope, "gty": "password", "jti": random_token(),
        "email": u.email, "email_verified": u.email_verified,
    });
    access[s.groups_claim.as_str()] = json!(u.groups());
    access[s.roles_claim.as_str()] = json!(u.roles);
    access["permissions"] = json!(u.permissions);
    let signer = s.signer();
    let mut out = json!({
        "access_token": signer.sign(&access),
        "token_type": "Bearer",
        "expires_in": s.ttl,
    });
    if openid {
        let mut id = json!({
            "iss": s.issuer, "sub": sub, "aud": client_id, "iat": iat, "exp": exp,
            "email": u.email, "email_verified": u.email_verified, "name": u.name,
        });
        if let Some(nonce) = login.nonce {
            id["nonce"] = json!(nonce);
        }
        if let Some(sid) = login.sid {
            id["sid"] = json!(sid);
        }
        out["id_token"] = json!(signer.sign(&id));
    }
    if let Some(r) = refresh {
        out["refresh_token"] = json!(r);
    }
    out
}
