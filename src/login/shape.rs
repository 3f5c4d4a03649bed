//! The answer to a successful login, in the client's shape: camelCase tokens, the standard
//! OAuth 2.0 response, or (website clients) an empty body with the session cookie.

use super::scope::same_scopes;
use crate::config::{Client, CookieMode, SessionConfig, TokenResponse};
use crate::http::exchange::Reply;
use crate::session::session_cookie;
use crate::tenant_client::Tokens;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub(crate) use crate::tenant_client::MAX_EXPIRES_IN;

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

/// The standard OAuth2 token answer (the Passwords API adds its `session_id` to it).
#[derive(Serialize)]
pub(crate) struct OAuthTokens<'a> {
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

impl<'a> OAuthTokens<'a> {
    /// The tenant's tokens as they came, `expires_in` clamped, no `scope`.
    pub(crate) fn of(tokens: &'a Tokens) -> Self {
        OAuthTokens {
            access_token: &tokens.access_token,
            token_type: &tokens.token_type,
            expires_in: tokens.expires_in.map(|s| s.min(MAX_EXPIRES_IN)),
            refresh_token: tokens.refresh_token.as_deref(),
            id_token: tokens.id_token.as_deref(),
            scope: None,
        }
    }
}

/// What the login asked for, to shape the answer.
pub(crate) struct Asked<'a> {
    /// The scope the caller asked for, if any.
    pub(crate) caller_scope: Option<&'a str>,
    /// The scope sent to the tenant.
    pub(crate) sent_scope: &'a str,
    /// The refresh token the caller sent (refresh grants): handed back when not rotated.
    pub(crate) sent_refresh_token: Option<&'a str>,
    /// The recorded session's id: the cookie's value with opaque cookies.
    pub(crate) session_id: Option<&'a str>,
}

/// A web client's answer to any login: an empty `200` and the session cookie (the access
/// token, or with opaque cookies the session id). Web clients never see their tokens.
pub(crate) fn cookie_reply(
    client: &Client,
    session: &SessionConfig,
    tokens: &Tokens,
    session_id: Option<&str>,
) -> Reply {
    let value = match (session.cookie, session_id) {
        (CookieMode::Opaque, Some(id)) => id,
        _ => &tokens.access_token,
    };
    Reply::empty(200).with_header("set-cookie", session_cookie(session, value, client.same_site))
}

pub(crate) fn token_reply(
    client: &Client,
    session: &SessionConfig,
    tokens: &Tokens,
    asked: &Asked,
    now: OffsetDateTime,
) -> Reply {
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
                    refresh_token,
                    scope: differs.then_some(granted).filter(|s| !s.is_empty()),
                    ..OAuthTokens::of(tokens)
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::{json, Value};

    /// The shared test configuration: one client per answer shape (mobile camelCase, service
    /// oauth2, website the cookie).
    fn config() -> Config {
        crate::login::tests::test_config("http://127.0.0.1:2")
    }

    fn client<'a>(config: &'a Config, name: &str) -> &'a Client {
        config.clients.iter().find(|c| c.name == name).expect("a configured client")
    }

    fn tokens() -> Tokens {
        Tokens {
            access_token: "at".into(),
            token_type: "Bearer".into(),
            expires_in: Some(3600),
            refresh_token: Some("rt".into()),
            id_token: Some("it".into()),
            scope: None,
        }
    }

    fn asked<'a>(caller_scope: Option<&'a str>, sent_scope: &'a str) -> Asked<'a> {
        Asked { caller_scope, sent_scope, sent_refresh_token: None, session_id: None }
    }

    /// 2023-11-14T22:13:20Z.
    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
    }

    fn body(reply: &Reply) -> Value {
        assert_eq!(reply.status, 200);
        serde_json::from_slice(&reply.body).unwrap()
    }

    fn set_cookie(reply: &Reply) -> &str {
        reply.headers.iter().find(|(n, _)| *n == "set-cookie").map(|(_, v)| v.as_str()).expect("a set-cookie")
    }

    #[test]
    fn camel_case_has_the_tokens_and_expire_at_counted_from_now() {
        let c = config();
        let reply = token_reply(client(&c, "mobile"), &c.session, &tokens(), &asked(None, "openid"), now());
        assert_eq!(
            body(&reply),
            json!({"accessToken": "at", "refreshToken": "rt", "idToken": "it", "expireAt": "2023-11-14T23:13:20Z"})
        );
        assert!(reply.headers.contains(&("cache-control", "no-store".to_string())));
    }

    #[test]
    fn camel_case_expire_at_is_capped_at_ten_years_and_absent_without_expires_in() {
        let c = config();
        let mobile = client(&c, "mobile");
        let mut t = tokens();
        t.expires_in = Some(u64::MAX);
        let capped = body(&token_reply(mobile, &c.session, &t, &asked(None, "openid"), now()));
        assert_eq!(capped["expireAt"], "2033-11-11T22:13:20Z");
        t.expires_in = None;
        let none = body(&token_reply(mobile, &c.session, &t, &asked(None, "openid"), now()));
        assert!(none.get("expireAt").is_none(), "{none}");
    }

    #[test]
    fn a_refresh_token_not_rotated_is_handed_back() {
        let c = config();
        let mut t = tokens();
        t.refresh_token = None;
        let a = Asked { sent_refresh_token: Some("sent"), ..asked(None, "openid") };
        let reply = token_reply(client(&c, "mobile"), &c.session, &t, &a, now());
        assert_eq!(body(&reply)["refreshToken"], "sent");
    }

    #[test]
    fn oauth2_is_the_standard_response_with_the_scope_when_none_was_asked() {
        let c = config();
        let reply = token_reply(client(&c, "service"), &c.session, &tokens(), &asked(None, "openid email"), now());
        assert_eq!(
            body(&reply),
            json!({
                "access_token": "at", "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": "rt", "id_token": "it", "scope": "openid email",
            })
        );
    }

    #[test]
    fn oauth2_names_the_scope_only_when_it_differs_from_the_callers() {
        let c = config();
        let service = client(&c, "service");
        let same =
            body(&token_reply(service, &c.session, &tokens(), &asked(Some("email openid"), "openid email"), now()));
        assert!(same.get("scope").is_none(), "the same scopes in another order: {same}");
        let mut t = tokens();
        t.scope = Some("openid".into());
        let narrowed = body(&token_reply(service, &c.session, &t, &asked(Some("openid email"), "openid email"), now()));
        assert_eq!(narrowed["scope"], "openid", "the tenant granted less: its scope");
    }

    #[test]
    fn oauth2_expires_in_is_capped_at_ten_years() {
        let c = config();
        let mut t = tokens();
        t.expires_in = Some(u64::MAX);
        let reply = token_reply(client(&c, "service"), &c.session, &t, &asked(None, "openid"), now());
        assert_eq!(body(&reply)["expires_in"], MAX_EXPIRES_IN);
    }

    #[test]
    fn a_website_gets_an_empty_200_and_the_access_token_in_the_session_cookie() {
        let c = config(); // the website client: same_site Lax
        let reply = token_reply(client(&c, "website"), &c.session, &tokens(), &asked(None, "openid"), now());
        assert_eq!(reply.status, 200);
        assert!(reply.body.is_empty());
        let cookie = set_cookie(&reply);
        assert!(cookie.starts_with("sid=at;"), "{cookie}");
        for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=3600"] {
            assert!(cookie.contains(attribute), "{attribute} in {cookie}");
        }
    }

    #[test]
    fn with_opaque_cookies_the_website_cookie_carries_the_session_id() {
        let c = config();
        let mut session = c.session.clone();
        session.cookie = CookieMode::Opaque;
        let a = Asked { session_id: Some("session-id"), ..asked(None, "openid") };
        let reply = token_reply(client(&c, "website"), &session, &tokens(), &a, now());
        assert!(set_cookie(&reply).starts_with("sid=session-id;"), "{}", set_cookie(&reply));
    }
}
