//! The answer to a successful login, in the client's shape: camelCase tokens, the standard
//! OAuth 2.0 response, or (website clients) an empty body with the session cookie.

use super::scope::same_scopes;
use crate::config::{Client, CookieMode, Session, TokenResponse};
use crate::reply::Reply;
use crate::session::session_cookie;
use crate::tenant::Tokens;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The longest token lifetime believed from a tenant (ten years): a larger `expires_in` is
/// clamped to it, so no date overflows.
pub const MAX_EXPIRES_IN: u64 = 10 * 365 * 86_400;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CamelTokens<'a> {
    access_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expire_at: Option<String>,
}

#[derive(Serialize)]
struct OAuthTokens<'a> {
    access_token: &'a str,
    token_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
}

/// What the login asked for, to shape the answer.
pub struct Asked<'a> {
    /// The scope the caller asked for, if any.
    pub caller_scope: Option<&'a str>,
    /// The scope sent to the tenant.
    pub sent_scope: &'a str,
    /// The refresh token the caller sent (refresh grants): handed back when not rotated.
    pub sent_refresh_token: Option<&'a str>,
    /// The recorded session's id: the cookie's value with opaque cookies.
    pub session_id: Option<&'a str>,
}

/// A web client's answer to any login: an empty `200` and the session cookie (the access
/// token, or with opaque cookies the session id). Web clients never see their tokens.
pub fn cookie_reply(client: &Client, session: &Session, tokens: &Tokens, session_id: Option<&str>) -> Reply {
    let value = match (session.cookie, session_id) {
        (CookieMode::Opaque, Some(id)) => id,
        _ => &tokens.access_token,
    };
    Reply::empty(200).with_header("set-cookie", session_cookie(session, value, client.same_site))
}

pub fn token_reply(client: &Client, session: &Session, tokens: &Tokens, asked: &Asked, now: OffsetDateTime) -> Reply {
    if client.website {
        return cookie_reply(client, session, tokens, asked.session_id);
    }
    let refresh_token = tokens.refresh_token.as_deref().or(asked.sent_refresh_token);
    match client.token_response {
        TokenResponse::CamelCase => {
            let expire_at = tokens.expires_in.and_then(|secs| {
                let secs = i64::try_from(secs.min(MAX_EXPIRES_IN)).ok()?;
                now.checked_add(time::Duration::seconds(secs))?.format(&Rfc3339).ok()
            });
            Reply::json(
                200,
                &CamelTokens {
                    access_token: &tokens.access_token,
                    refresh_token,
                    id_token: tokens.id_token.as_deref(),
                    expire_at,
                },
            )
        }
        TokenResponse::OAuth2 => {
            let granted = tokens.scope.as_deref().unwrap_or(asked.sent_scope);
            let differs = asked.caller_scope.is_none_or(|asked| !same_scopes(asked, granted));
            Reply::json(
                200,
                &OAuthTokens {
                    access_token: &tokens.access_token,
                    token_type: &tokens.token_type,
                    expires_in: tokens.expires_in.map(|s| s.min(MAX_EXPIRES_IN)),
                    refresh_token,
                    id_token: tokens.id_token.as_deref(),
                    scope: differs.then_some(granted),
                },
            )
        }
    }
}
