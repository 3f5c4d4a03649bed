//! `POST /oauth/refreshtoken`: a Bearer access token the tenant issued to this client for one
//! of the guarded audiences (expired is fine, up to the configured grace; an id_token is not
//! an access token and is refused) plus `{"refresh_token"}` → new tokens in the client's shape.
//! A web client sends its `sid` cookie and no body: the session's refresh token is used.

use super::token::{refresh_grant, refresh_with, Refresh};
use super::{check_client_id, read_params, superseded, LoginService};
use crate::config::Client;
use crate::guard::{credential, TokenSource};
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use crate::jwt::{verify, TokenChecks};
use crate::session::{store_unavailable, TokenLookup};

pub(crate) async fn handle(svc: &LoginService, client: &Client, req: &Request) -> Result<Reply, ApiError> {
    if client.website && req.body.is_empty() {
        return website(svc, client, req).await;
    }
    let token = credential(&req.headers, &svc.config.session)?
        .ok_or_else(|| ApiError::invalid_token("An access token is required: Authorization: Bearer <token>."))?
        .token;
    if svc.sessions.is_revoked(token) {
        return Err(ApiError::invalid_token("The access token was revoked."));
    }
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
    // The session this refresh continues, when the store knows it (and can be reached). A
    // token another refresh already replaced does not start a session of its own.
    let previous = match svc.sessions.lookup_token(token).await {
        Ok(TokenLookup::Current(s)) => Some(s),
        Ok(TokenLookup::Replaced) => return Err(superseded()),
        Ok(TokenLookup::Unknown) => None,
        Err(e) => {
            crate::store::report_error("find session", &e);
            None
        }
    };
    let subject = claims.get("sub").and_then(|v| v.as_str());
    refresh_grant(svc, client, &params, req, previous.as_ref(), subject).await
}

/// A web client's refresh: the `sid` cookie and no body; the refresh token is the one kept,
/// sealed, in the cookie's session. Answers with a new cookie.
async fn website(svc: &LoginService, client: &Client, req: &Request) -> Result<Reply, ApiError> {
    let c = credential(&req.headers, &svc.config.session)?
        .filter(|c| c.source == TokenSource::Cookie)
        .ok_or_else(|| ApiError::invalid_token("The session cookie is required."))?;
    let session = svc
        .sessions
        .find(c.token, svc.sessions.opaque())
        .await
        .map_err(store_unavailable)?
        .filter(|s| s.client == client.name)
        .ok_or_else(|| ApiError::new(401, "invalid_grant", "There is no live session for this cookie."))?;
    let refresh_token = svc.sessions.refresh_token(&session).ok_or_else(|| {
        ApiError::new(400, "invalid_grant", "The session has no refresh token: log in with the offline_access scope.")
    })?;
    let refresh = Refresh {
        token: &refresh_token,
        caller_scope: None,
        previous: Some(&session),
        subject: Some(&session.subject),
    };
    refresh_with(svc, client, refresh, req).await
}
