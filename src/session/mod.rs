//! The `sid` session cookie (one builder for every place that sets or clears it) and the
//! session endpoints `/userinfo` and `/logout`.

mod endpoints;

pub use endpoints::SessionEndpoints;

use crate::config::{SameSite, Session};
use cookie::{time::Duration, Cookie};

/// `Set-Cookie` value carrying the access token: `HttpOnly; Secure; Path=/; Max-Age=…`,
/// plus `SameSite` when the client configures it.
pub fn session_cookie(session: &Session, token: &str, same_site: Option<SameSite>) -> String {
    build_cookie(session, token, session.duration_seconds, same_site)
}

/// `Set-Cookie` value that clears the session cookie: the same attributes, `Max-Age=0`.
pub fn cleared_cookie(session: &Session, same_site: Option<SameSite>) -> String {
    build_cookie(session, "", 0, same_site)
}

fn build_cookie(session: &Session, value: &str, max_age: u64, same_site: Option<SameSite>) -> String {
    let mut c = Cookie::build((session.cookie_name.as_str(), value))
        .http_only(true)
        .secure(true)
        .path("/")
        .max_age(Duration::seconds(max_age.min(i64::MAX as u64) as i64));
    if let Some(s) = same_site {
        c = c.same_site(match s {
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::None => cookie::SameSite::None,
        });
    }
    c.build().to_string()
}

/// The value of the session cookie in a `Cookie` request header, if present.
pub fn session_token<'a>(session: &Session, cookie_header: &'a str) -> Option<&'a str> {
    Cookie::split_parse(cookie_header)
        .filter_map(Result::ok)
        .find(|c| c.name() == session.cookie_name)
        .and_then(|c| c.value_raw())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session { duration_seconds: 3600, cookie_name: "sid".into(), refresh_expired_grace_seconds: 0 }
    }

    #[test]
    fn cookie_has_every_attribute() {
        let c = session_cookie(&session(), "a.b.c", Some(SameSite::Lax));
        assert_eq!(c, "sid=a.b.c; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=3600");
        let c = session_cookie(&session(), "t", None);
        assert_eq!(c, "sid=t; HttpOnly; Secure; Path=/; Max-Age=3600");
    }

    #[test]
    fn cleared_cookie_keeps_the_attributes_and_expires() {
        let c = cleared_cookie(&session(), Some(SameSite::Strict));
        assert_eq!(c, "sid=; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=0");
    }

    #[test]
    fn token_is_read_from_the_cookie_header() {
        assert_eq!(session_token(&session(), "a=1; sid=tok.en; b=2"), Some("tok.en"));
        assert_eq!(session_token(&session(), "sidx=1"), None);
        assert_eq!(session_token(&session(), "sid="), None);
    }
}
