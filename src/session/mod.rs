//! The `sid` session cookie (one builder for every place that sets or clears it) and the
//! session endpoints `/userinfo` and `/logout`.

mod endpoints;
mod management;
pub(crate) mod revocations;
mod seal;
mod sessions;

pub(crate) use endpoints::{store_unavailable, SessionEndpoints};
pub(crate) use revocations::Revocations;
pub(crate) use sessions::SessionService;

use crate::config::{SameSite, Session};
use crate::error::ApiError;
use cookie::{time::Duration, Cookie};

/// `Set-Cookie` value carrying the access token: `HttpOnly; Secure; Path=/; Max-Age=…` and
/// `SameSite` as the client configures it (`Lax` when it says nothing).
pub fn session_cookie(session: &Session, token: &str, same_site: Option<SameSite>) -> String {
    build_cookie(session, token, session.duration_seconds, same_site)
}

/// `Set-Cookie` value that clears the session cookie: the same attributes, `Max-Age=0`.
pub(crate) fn cleared_cookie(session: &Session, same_site: Option<SameSite>) -> String {
    build_cookie(session, "", 0, same_site)
}

fn build_cookie(session: &Session, value: &str, max_age: u64, same_site: Option<SameSite>) -> String {
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

/// The session cookie's value across every `Cookie` header of a request. More than one cookie
/// of that name (in any letter case) is refused: the guard and the backend could read
/// different ones.
pub fn session_cookies<'a>(headers: &'a http::HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut found = None;
    let mut count = 0;
    for header in headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()) {
        for c in Cookie::split_parse(header).filter_map(Result::ok) {
            if c.name() == name {
                found = c.value_raw().filter(|v| !v.is_empty());
            }
        }
        count += header.split([';', ',']).filter(|pair| names_session(pair, name)).count();
    }
    if count > 1 {
        return Err(ApiError::invalid_request("more than one session cookie"));
    }
    Ok(found)
}

/// Whether a `name=value` piece of a `Cookie` header could be read as the session cookie by
/// some server: the name in any letter case, percent-decoded (`s%69d`), the pieces split at
/// `,` as well as `;` (Rack 2 does).
fn names_session(pair: &str, name: &str) -> bool {
    let raw = pair.split('=').next().unwrap_or_default().trim().trim_start_matches('$');
    String::from_utf8_lossy(&crate::path::percent_decode(raw.as_bytes())).eq_ignore_ascii_case(name)
}

/// A `Cookie` header value without anything that could be read as the cookie `name` (see
/// `names_session`), rebuilt from its `;`/`,` pieces; `None` when nothing is left.
pub(crate) fn without_cookie(header: &str, name: &str) -> Option<String> {
    let kept: Vec<&str> =
        header.split([';', ',']).map(str::trim).filter(|pair| !pair.is_empty() && !names_session(pair, name)).collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// Whether any `Cookie` header has a piece that could be read as the session cookie.
pub(crate) fn mentions_session_cookie(headers: &http::HeaderMap, name: &str) -> bool {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|h| h.split([';', ',']).any(|pair| names_session(pair, name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            duration_seconds: 3600,
            cookie_name: "sid".into(),
            refresh_expired_grace_seconds: 0,
            encryption_key: None,
            cookie: crate::config::CookieMode::Token,
            revocations_max: 1000,
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

    fn cookie_headers(values: &[&str]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for v in values {
            h.append(http::header::COOKIE, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn token_is_read_from_the_cookie_headers() {
        let read = |v: &[&str]| {
            session_cookies(&cookie_headers(v), "sid").map(|o| o.map(str::to_string)).map_err(|e| e.status)
        };
        assert_eq!(read(&["a=1; sid=tok.en; b=2"]), Ok(Some("tok.en".into())));
        assert_eq!(read(&["sidx=1"]), Ok(None));
        assert_eq!(read(&["sid="]), Ok(None));
        assert_eq!(read(&["sid=a; sid=b"]), Err(400));
        assert_eq!(read(&["sid=a", "sid=a"]), Err(400), "across headers");
        assert_eq!(read(&["sid=a; SID=b"]), Err(400), "in another case");
        assert_eq!(read(&["SID=b"]), Ok(None), "only the exact name is the session");
        assert_eq!(read(&["a=1, sid=forged; sid=good"]), Err(400), "Rack 2 splits at commas");
        assert_eq!(read(&["s%69d=forged; sid=good"]), Err(400), "names are decoded");
    }

    #[test]
    fn a_cookie_is_removed_from_a_header() {
        assert_eq!(without_cookie("a=1; sid=x; b=2", "sid").as_deref(), Some("a=1; b=2"));
        assert_eq!(without_cookie("SID=x", "sid"), None);
        assert_eq!(without_cookie("a=1, sid=forged; b=2", "sid").as_deref(), Some("a=1; b=2"));
        assert_eq!(without_cookie("s%69d=x; b=2", "sid").as_deref(), Some("b=2"));
    }
}
