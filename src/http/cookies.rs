//! The session cookie as requests carry it: read across every `Cookie` header (refusing a
//! second one under any spelling a server could read as it), and removed from a header.

use crate::http::error::ApiError;
use cookie::Cookie;

/// The session cookie's value across every `Cookie` header of a request. More than one cookie
/// of that name (in any letter case) is refused: the guard and the backend could read
/// different ones. So is a `Cookie` header that is not text: the guard could not read a
/// session cookie the backend might.
pub fn session_cookies<'a>(headers: &'a http::HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut found = None;
    let mut count = 0;
    for value in headers.get_all(http::header::COOKIE).iter() {
        let header = value.to_str().map_err(|_| ApiError::invalid_request("a Cookie header is not text"))?;
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
    String::from_utf8_lossy(&crate::routing::path::percent_decode(raw.as_bytes())).eq_ignore_ascii_case(name)
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
        .any(|v| String::from_utf8_lossy(v.as_bytes()).split([';', ',']).any(|pair| names_session(pair, name)))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_cookie_header_that_is_not_text_is_refused() {
        let mut h = cookie_headers(&["sid=good"]);
        h.append(http::header::COOKIE, http::HeaderValue::from_bytes(b"x=\xff; sid=forged").unwrap());
        assert_eq!(session_cookies(&h, "sid").unwrap_err().status, 400);
        assert!(mentions_session_cookie(&h, "sid"));
    }
}
