//! The `sid` session cookie (one builder for every place that sets or clears it) and the
//! session endpoints `/userinfo` and `/logout`.

mod backchannel;
mod endpoints;
mod management;
mod refresh_lease;
mod seal;
mod service;

pub(crate) use endpoints::{store_unavailable, SessionEndpoints, STORE_UNAVAILABLE};
pub(crate) use refresh_lease::{Proof, Turn, TurnError};
pub(crate) use service::{digest, SessionService, TokenLookup};
// Read by the guard and the proxy; here for the benches' sake too.
pub use crate::http::cookies::session_cookies;

use crate::config::{SameSite, SessionConfig};
use cookie::{time::Duration, Cookie};

/// `Set-Cookie` value carrying the access token: `HttpOnly; Secure; Path=/; Max-Age=…` and
/// `SameSite` as the client configures it (`Lax` when it says nothing).
pub fn session_cookie(session: &SessionConfig, token: &str, same_site: Option<SameSite>) -> String {
    build_cookie(session, token, session.duration_seconds, same_site)
}

/// `Set-Cookie` value that clears the session cookie: the same attributes, `Max-Age=0`.
pub(crate) fn cleared_cookie(session: &SessionConfig, same_site: Option<SameSite>) -> String {
    build_cookie(session, "", 0, same_site)
}

fn build_cookie(session: &SessionConfig, value: &str, max_age: u64, same_site: Option<SameSite>) -> String {
    let mut c = Cookie::build((session.cookie_name.as_str(), value))
        .http_only(true)
        .secure(true)
        .path("/")
        .max_age(Duration::seconds(max_age.min(i64::MAX as u64) as i64));
    c = c.same_site(match same_site.unwrap_or(SameSite::Lax) {
        SameSite::Lax => cookie::SameSite::Lax,
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::None => cookie::SameSite::None,
    });
    c.build().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> SessionConfig {
        SessionConfig {
            duration_seconds: 3600,
            cookie_name: "sid".into(),
            refresh_expired_grace_seconds: 0,
            encryption_key: None,
            cookie: crate::config::CookieMode::Token,
            revocations_max: 1000,
            silent_refresh: true,
            refresh_before_seconds: 60,
            refresh_reuse_seconds: 10,
            backchannel_logout_path: None,
        }
    }

    #[test]
    fn cookie_has_every_attribute() {
        let c = session_cookie(&session(), "a.b.c", Some(SameSite::Lax));
        assert_eq!(c, "sid=a.b.c; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=3600");
        let c = session_cookie(&session(), "t", None);
        assert_eq!(c, "sid=t; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=3600", "Lax by default");
    }

    #[test]
    fn cleared_cookie_keeps_the_attributes_and_expires() {
        let c = cleared_cookie(&session(), Some(SameSite::Strict));
        assert_eq!(c, "sid=; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=0");
    }
}
