//! `POST /oauth/refreshtoken`: a Bearer access token the tenant issued to this client for one
//! of the guarded audiences (expired is fine, up to the configured grace; an id_token is not
//! an access token and is refused) plus `{"refresh_token"}` → new tokens in the client's shape.
//! A web client sends its `sid` cookie and no body: the session's refresh token is used.
//! Either way a known session is refreshed under its lease (see `session::refresh_lease`).

use super::token::{refresh_grant, refresh_with, Refresh};
use super::{check_client_id, read_params, LoginService};
use crate::config::Client;
use crate::guard::{credential, TokenSource};
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use crate::http::hex::hex;
use crate::jwt::{verify, TokenChecks};
use crate::session::{digest, store_unavailable, TokenLookup};
use crate::store::SessionRecord;

pub(crate) async fn handle(svc: &LoginService, client: &Client, req: &Request) -> Result<Reply, ApiError> {
    if client.website && req.body.is_empty() {
        return website(svc, client, req).await;
    }
    let token = credential(&req.headers, &svc.config.session)?
        .ok_or_else(|| ApiError::invalid_token("An access token is required: Authorization: Bearer <token>."))?
        .token;
    // A token a refresh replaced is revoked, yet its caller may still join that refresh.
    let revoked = svc.sessions.is_revoked(token);
    let mut audiences = svc.config.guard.audiences.clone();
    audiences.extend(client.audience.iter().filter(|a| !audiences.contains(a)).cloned().collect::<Vec<_>>());
    if audiences.is_empty() {
        return Err(ApiError::invalid_token("No access token audience is configured to check this token against."));
    }
    let policy = TokenChecks {
        audiences: Some(audiences),
        expired_grace_seconds: Some(svc.config.session.refresh_expired_grace_seconds),
        ..TokenChecks::access_tokens(&svc.config)
    };
    let claims = verify(token, &svc.jwks, &policy).await.inspect_err(|e| {
        tracing::info!(reason = %e, "refresh refused: bad access token");
    })?;
    if claims.get("azp").and_then(|v| v.as_str()) != Some(client.client_id.as_str()) {
        return Err(ApiError::invalid_token("The access token was not issued to this client."));
    }
    let params = read_params(req)?;
    check_client_id(&params, client)?;
    let was_revoked = || ApiError::invalid_token("The access token was revoked.");
    // The session this refresh continues, when the store knows it (and can be reached). A
    // token another refresh replaced just now joins that refresh, with the same refresh token
    // only; it does not start a session of its own.
    let previous = match svc.sessions.lookup_token(token).await {
        Ok(TokenLookup::Replaced(s)) => Some(s),
        Ok(_) if revoked => return Err(was_revoked()),
        Ok(TokenLookup::Current(s)) => Some(s),
        Ok(TokenLookup::Unknown) => None,
        Err(_) if revoked => return Err(was_revoked()),
        Err(e) => {
            crate::store::report_error("find session", &e);
            None
        }
    };
    let subject = claims.get("sub").and_then(|v| v.as_str());
    let shown = Some(hex(&digest(token)));
    refresh_grant(svc, client, &params, req, previous.as_ref(), subject, shown).await
}

/// A web client's refresh: the `sid` cookie and no body; the refresh token is the one kept,
/// sealed, in the cookie's session. Answers with a new cookie.
async fn website(svc: &LoginService, client: &Client, req: &Request) -> Result<Reply, ApiError> {
    let c = credential(&req.headers, &svc.config.session)?
        .filter(|c| c.source == TokenSource::Cookie)
        .ok_or_else(|| ApiError::invalid_token("The session cookie is required."))?;
    let (session, shown) = cookie_session(svc, c.token).await?;
    if session.client != client.name {
        return Err(no_session());
    }
    let refresh_token = svc.sessions.refresh_token(&session).ok_or_else(|| {
        ApiError::new(400, "invalid_grant", "The session has no refresh token: log in with the offline_access scope.")
    })?;
    refresh_with(svc, client, Refresh::of_session(&session, &refresh_token, shown), req).await
}

fn no_session() -> ApiError {
    ApiError::new(401, "invalid_grant", "There is no live session for this cookie.")
}

/// The session a cookie names, and the hash of the access token it stands for: the session's
/// current token, or (token cookies) one a refresh replaced just now, whose caller may join
/// that refresh.
pub(crate) async fn cookie_session(svc: &LoginService, cookie: &str) -> Result<(SessionRecord, String), ApiError> {
    if svc.sessions.opaque() {
        let s = svc.sessions.find(cookie, true).await.map_err(store_unavailable)?.ok_or_else(no_session)?;
        let shown = s.token_hash.clone();
        return Ok((s, shown));
    }
    match svc.sessions.lookup_token(cookie).await.map_err(store_unavailable)? {
        TokenLookup::Current(s) if !svc.sessions.is_revoked(cookie) => Ok((s, hex(&digest(cookie)))),
        TokenLookup::Replaced(s) => Ok((s, hex(&digest(cookie)))),
        _ => Err(no_session()),
    }
}
