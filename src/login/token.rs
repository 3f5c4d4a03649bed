//! `POST /oauth/token`: the password (and password-realm) grant, and the refresh_token grant.

use super::shape::{token_reply, Asked};
use super::{attempt, upstream_scope, AppliedLimits, FormCall, LoginService, Params};
use crate::config::Client;
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use crate::store::SessionRecord;
use crate::tenant_client::TenantError;

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
        "refresh_token" => refresh_grant(svc, client, params, req, None, None).await,
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
    let mut tokens = attempt(svc, username, req, svc.tenant.token(client, &form, req.client_ip)).await?;
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
/// is the session it continues, when known.
pub(crate) async fn refresh_grant(
    svc: &LoginService,
    client: &Client,
    params: &Params,
    req: &Request,
    previous: Option<&SessionRecord>,
    subject: Option<&str>,
) -> Result<Reply, ApiError> {
    let refresh_token = params
        .get("refresh_token")
        .or_else(|| params.get("refreshToken"))
        .ok_or_else(|| ApiError::missing_parameter("refresh_token"))?;
    let refresh = Refresh { token: refresh_token, caller_scope: params.get("scope"), previous, subject };
    refresh_with(svc, client, refresh, req).await
}

/// A refresh: the refresh token, the scope asked, the session it continues, and the user it
/// must be for (the Bearer's or the session's `sub`), when known.
pub(crate) struct Refresh<'a> {
    pub(crate) token: &'a str,
    pub(crate) caller_scope: Option<&'a str>,
    pub(crate) previous: Option<&'a SessionRecord>,
    pub(crate) subject: Option<&'a str>,
}

/// Exchange the refresh token at the tenant and answer in the client's shape. Tokens for
/// another user than `subject` are refused (and their refresh token revoked): a refresh
/// token cannot ride on somebody else's access token or session.
pub(crate) async fn refresh_with(
    svc: &LoginService,
    client: &Client,
    r: Refresh<'_>,
    req: &Request,
) -> Result<Reply, ApiError> {
    let (refresh_token, caller_scope, previous) = (r.token, r.caller_scope, r.previous);
    // Each refresh adds a revocation (the token it replaces): one user may add only so many.
    if let Some(subject) = r.subject {
        svc.limits.check_refresh(subject).await?;
    }
    let scope = caller_scope.map(|s| upstream_scope(Some(s), client));
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    if let Some(s) = &scope {
        form.push(("scope", s));
    }
    let mut tokens = svc.tenant.token(client, &form, req.client_ip).await?;
    if let Some(expected) = r.subject {
        let claims = crate::jwt::unverified_claims(&tokens.access_token);
        if claims.as_ref().and_then(|c| c.get("sub")).and_then(|s| s.as_str()) != Some(expected) {
            svc.discard(client, &tokens, req.client_ip).await;
            return Err(ApiError::new(401, "invalid_grant", "The refresh token belongs to another user."));
        }
    }
    let session = svc.issued(client, &mut tokens, previous).await?;
    let sent_scope = scope.as_deref().or(tokens.scope.as_deref()).unwrap_or("");
    let asked = Asked {
        caller_scope,
        sent_scope,
        sent_refresh_token: Some(refresh_token),
        session_id: session.as_ref().and_then(|s| s.cookie_id.as_deref()),
    };
    Ok(token_reply(client, &svc.config.session, &tokens, &asked, time::OffsetDateTime::now_utc()))
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
