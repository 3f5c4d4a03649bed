//! `POST /oauth/token`: the password (and password-realm) grant, and the refresh_token grant.

use super::shape::{token_reply, Asked};
use super::{attempt, upstream_scope, AppliedLimits, FormCall, LoginService, Params, Who};
use crate::config::Client;
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use crate::metrics::metrics;
use crate::session::{store_unavailable, Proof, Turn, TurnError};
use crate::store::SessionRecord;
use crate::tenant_client::{TenantError, Tokens};
use std::net::IpAddr;

use super::grant::PASSWORD_REALM;

pub(crate) async fn handle(call: FormCall<'_>, applied: &mut AppliedLimits) -> Result<Reply, ApiError> {
    let FormCall { svc, client, req, params } = call;
    if let Some(aud) = params.get("audience") {
        if client.audience.as_deref() != Some(aud) {
            return Err(ApiError::invalid_request("audience is not allowed for this client"));
        }
    }
    match params.require("grant_type")? {
        "password" | PASSWORD_REALM => password(call, applied).await,
        "refresh_token" => refresh_grant(svc, client, params, req, None, None, None).await,
        "authorization_code" => super::authorize::code_grant(svc, client, params, req).await,
        other => Err(ApiError::new(
            400,
            "unsupported_grant_type",
            format!("Grant type {:?} is not supported here.", truncate(other)),
        )),
    }
}

fn truncate(s: &str) -> &str {
    s.char_indices().nth(64).map_or(s, |(i, _)| &s[..i])
}

/// The connection to log in against: asked (`connection` or `realm`) or the client's default.
pub(crate) fn connection<'a>(params: &'a Params, client: &'a Client) -> Result<&'a str, ApiError> {
    let asked = params.get("connection").or_else(|| params.get("realm"));
    let conn =
        asked.or(client.default_connection.as_deref()).ok_or_else(|| ApiError::missing_parameter("connection"))?;
    if !client.connections.iter().any(|c| c == conn) {
        return Err(ApiError::invalid_request(format!(
            "connection {:?} is not enabled for this client",
            truncate(conn)
        )));
    }
    Ok(conn)
}

/// The credentials of a password login, once its attempt is allowed by the limits.
pub(crate) struct Credentials<'a> {
    pub(crate) username: &'a str,
    pub(crate) password: &'a str,
    pub(crate) realm: &'a str,
}

pub(crate) async fn credentials<'a>(
    call: FormCall<'a>,
    applied: &mut AppliedLimits,
) -> Result<Credentials<'a>, ApiError> {
    let FormCall { svc, client, req, params } = call;
    let username = params.require("username")?;
    let password = params.require("password")?;
    let realm = connection(params, client)?;
    applied.add(svc.limits.check_attempt(username, req.client_ip).await?);
    Ok(Credentials { username, password, realm })
}

async fn password(call: FormCall<'_>, applied: &mut AppliedLimits) -> Result<Reply, ApiError> {
    let Credentials { username, password, realm } = credentials(call, applied).await?;
    let FormCall { svc, client, req, params } = call;
    let scope = upstream_scope(params.get("scope"), client);
    let mut form = vec![
        ("grant_type", PASSWORD_REALM),
        ("realm", realm),
        ("username", username),
        ("password", password),
        ("scope", scope.as_str()),
    ];
    if let Some(aud) = &client.audience {
        form.push(("audience", aud));
    }
    let who = Who { client: &client.name, connection: realm, grant: "password", username };
    let mut tokens = attempt(svc, who, req, svc.tenant.token(client, &form, req.client_ip)).await?;
    let session = svc.issued(client, &mut tokens, None).await?;
    let asked = Asked {
        caller_scope: params.get("scope"),
        sent_scope: &scope,
        sent_refresh_token: None,
        session_id: session.as_ref().and_then(|s| s.cookie_id.as_deref()),
    };
    Ok(token_reply(client, &svc.config.session, &tokens, &asked, time::OffsetDateTime::now_utc()))
}

/// The refresh_token grant, shared by `/oauth/token` and `/oauth/refreshtoken`; `previous`
/// is the session it continues, when known, and `shown` the hash of the access token the
/// caller showed for it.
pub(crate) async fn refresh_grant(
    svc: &LoginService,
    client: &Client,
    params: &Params,
    req: &Request,
    previous: Option<&SessionRecord>,
    subject: Option<&str>,
    shown: Option<String>,
) -> Result<Reply, ApiError> {
    let refresh_token = params
        .get("refresh_token")
        .or_else(|| params.get("refreshToken"))
        .ok_or_else(|| ApiError::missing_parameter("refresh_token"))?;
    let refresh =
        Refresh { token: refresh_token, caller_scope: params.get("scope"), previous, subject, shown, by_cookie: false };
    refresh_with(svc, client, refresh, req).await
}

/// A refresh: the refresh token, the scope asked, the session it continues, and the user it
/// must be for (the Bearer's or the session's `sub`), when known.
pub(crate) struct Refresh<'a> {
    pub(crate) token: &'a str,
    pub(crate) caller_scope: Option<&'a str>,
    pub(crate) previous: Option<&'a SessionRecord>,
    pub(crate) subject: Option<&'a str>,
    /// Hex SHA-256 of the access token the caller showed for `previous`: the session's own, or
    /// one a refresh replaced just now (the caller then joins that refresh).
    pub(crate) shown: Option<String>,
    /// The caller showed the session cookie (not a Bearer and its refresh token).
    pub(crate) by_cookie: bool,
}

impl<'a> Refresh<'a> {
    /// The refresh of `session` with its own (sealed) refresh token, asked with its cookie,
    /// which stood for the token hashing to `shown`.
    pub(crate) fn of_session(session: &'a SessionRecord, refresh_token: &'a str, shown: String) -> Self {
        Refresh {
            token: refresh_token,
            caller_scope: None,
            previous: Some(session),
            subject: Some(&session.subject),
            shown: Some(shown),
            by_cookie: true,
        }
    }
}

/// What a refresh gave: the tokens, and the id an opaque cookie names the session by.
pub(crate) struct Refreshed {
    pub(crate) tokens: Tokens,
    pub(crate) cookie_id: Option<String>,
}

/// Refresh and answer in the client's shape.
pub(crate) async fn refresh_with(
    svc: &LoginService,
    client: &Client,
    r: Refresh<'_>,
    req: &Request,
) -> Result<Reply, ApiError> {
    let refreshed = refresh_tokens(svc, client, &r, req.client_ip).await?;
    let scope = r.caller_scope.map(|s| upstream_scope(Some(s), client));
    // Without a scope asked or answered, the one the new access token carries.
    let carried = crate::jwt::unverified_claims(&refreshed.tokens.access_token)
        .and_then(|c| c.get("scope").and_then(|s| s.as_str()).map(str::to_string));
    let sent_scope = scope.as_deref().or(refreshed.tokens.scope.as_deref()).or(carried.as_deref()).unwrap_or("");
    let asked = Asked {
        caller_scope: r.caller_scope,
        sent_scope,
        sent_refresh_token: Some(r.token),
        session_id: refreshed.cookie_id.as_deref(),
    };
    Ok(token_reply(client, &svc.config.session, &refreshed.tokens, &asked, time::OffsetDateTime::now_utc()))
}

/// The tokens of a refresh. A refresh of a known session takes the session's refresh lease
/// first: of the callers refreshing one session at once (tabs, replicas, the guard in passing),
/// one calls the tenant and the others are handed its tokens.
pub(crate) async fn refresh_tokens(
    svc: &LoginService,
    client: &Client,
    r: &Refresh<'_>,
    client_ip: IpAddr,
) -> Result<Refreshed, ApiError> {
    let (Some(previous), Some(shown)) = (r.previous, r.shown.as_deref()) else {
        return call_tenant(svc, client, r, None, client_ip).await;
    };
    let proof = if r.by_cookie { Proof::Cookie } else { Proof::RefreshToken(r.token) };
    let lease = match svc.sessions.refresh_turn(previous, shown, proof).await.map_err(turn_refusal)? {
        Turn::Joined(tokens) => {
            metrics().refreshes.with_label_values(&["joined"]).inc();
            return Ok(Refreshed { tokens, cookie_id: previous.cookie_id.clone() });
        }
        Turn::Mine(lease) => lease,
    };
    let result = call_tenant(svc, client, r, Some(&lease.session), client_ip).await;
    svc.sessions.finish_refresh(*lease, result.as_ref().ok().map(|r| &r.tokens), r.token).await;
    result
}

fn turn_refusal(e: TurnError) -> ApiError {
    match e {
        TurnError::Store(e) => store_unavailable(e),
        TurnError::Superseded => super::superseded(),
        TurnError::Ended => ApiError::new(401, "invalid_grant", "The session has ended."),
        TurnError::Busy => {
            ApiError::unavailable("Another refresh of this session is taking long; try again shortly.", 1)
        }
    }
}

/// Exchange the refresh token at the tenant. Tokens for another user than `r.subject` are
/// refused (and their refresh token revoked): a refresh token cannot ride on somebody else's
/// access token or session. A refresh token the tenant refuses ends the session it continues
/// (rotation's reuse detection, the user blocked or logged out there): nothing can refresh it.
async fn call_tenant(
    svc: &LoginService,
    client: &Client,
    r: &Refresh<'_>,
    previous: Option<&SessionRecord>,
    client_ip: IpAddr,
) -> Result<Refreshed, ApiError> {
    // Each refresh adds a revocation (the token it replaces): one user may add only so many.
    if let Some(subject) = r.subject {
        svc.limits.check_refresh(subject).await?;
    }
    let scope = r.caller_scope.map(|s| upstream_scope(Some(s), client));
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", r.token)];
    if let Some(s) = &scope {
        form.push(("scope", s));
    }
    let mut tokens = match svc.tenant.token(client, &form, client_ip).await {
        Ok(tokens) => tokens,
        Err(e) => {
            // Only the session's own refresh token refused ends it (a caller that sent another
            // one, unknown to the tenant, does not end somebody's session).
            let own = previous.filter(|p| svc.sessions.refresh_token(p).as_deref() == Some(r.token));
            if let (Some(p), TenantError::Rejected(refusal)) = (own, &e) {
                if refusal.error == "invalid_grant" {
                    metrics().refreshes.with_label_values(&["refused"]).inc();
                    // Unless another refresh moved the session on meanwhile (its lease expired
                    // under a slow holder): then this was a reuse, and the session is fine.
                    let current = svc.sessions.store().session_by_id(&p.id).await;
                    if current.is_ok_and(|c| c.is_some_and(|c| c.token_hash == p.token_hash)) {
                        if let Err(e) = svc.sessions.end(p).await {
                            crate::store::report_error("end a session its tenant refused to refresh", &e);
                        }
                    }
                }
            }
            return Err(e.into());
        }
    };
    if let Some(expected) = r.subject {
        let claims = crate::jwt::unverified_claims(&tokens.access_token);
        if claims.as_ref().and_then(|c| c.get("sub")).and_then(|s| s.as_str()) != Some(expected) {
            svc.discard(client, &tokens, client_ip).await;
            return Err(ApiError::new(401, "invalid_grant", "The refresh token belongs to another user."));
        }
    }
    let session = svc.issued(client, &mut tokens, previous).await?;
    metrics().refreshes.with_label_values(&["refreshed"]).inc();
    let cookie_id = session.and_then(|s| s.cookie_id).or_else(|| previous.and_then(|p| p.cookie_id.clone()));
    Ok(Refreshed { tokens, cookie_id })
}

/// Whether the tenant judged the credentials: `Some(true)` on success, `Some(false)` on wrong
/// credentials, `None` when it said nothing about them (MFA, outages, …).
pub(crate) fn credential_outcome<T>(result: &Result<T, TenantError>) -> Option<bool> {
    match result {
        Ok(_) => Some(true),
        Err(TenantError::Rejected(e)) if matches!(e.error.as_ref(), "invalid_grant" | "invalid_user_password") => {
            Some(false)
        }
        Err(_) => None,
    }
}
