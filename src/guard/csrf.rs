//! Cross-site request forgery on the cookie path: a request carried only by the session
//! cookie whose method is not `GET`, `HEAD` or `OPTIONS` (any other method, in any case, may
//! change state) must come from an allowed `Origin` (or, lacking one, `Referer`), or say
//! `Sec-Fetch-Site: same-origin` (a header pages cannot set). `Origin: null` is refused.
//! Bearer tokens are not sent by browsers on their own, so they are exempt.

use crate::config::Client;
use crate::http::error::ApiError;
use http::HeaderMap;

/// Whether `origin` may use the cookie: the gateway's own public URL, or one the client allows.
fn origin_allowed(client: Option<&Client>, origin: &str, public_url: Option<&str>) -> bool {
    public_url.is_some_and(|u| u == origin) || client.is_some_and(|c| c.allowed_origins.iter().any(|o| o == origin))
}

pub(crate) fn check(
    method: &str,
    headers: &HeaderMap,
    client: Option<&Client>,
    public_url: Option<&str>,
) -> Result<(), ApiError> {
    if matches!(method, "GET" | "HEAD" | "OPTIONS") {
        return Ok(());
    }
    check_same_site(headers, client, public_url)
}

/// The request must come from the gateway's own pages or an allowed origin, whatever its
/// method (used for `GET /logout` with the cookie too).
pub(crate) fn check_same_site(
    headers: &HeaderMap,
    client: Option<&Client>,
    public_url: Option<&str>,
) -> Result<(), ApiError> {
    let text = |name| headers.get(name).and_then(|v: &http::HeaderValue| v.to_str().ok());
    if text("sec-fetch-site") == Some("same-origin") {
        return Ok(());
    }
    let origin = match text("origin") {
        Some("null") => {
            return Err(ApiError::new(
                403,
                "access_denied",
                "A request from an opaque origin may not use the session cookie.",
            ))
        }
        Some(o) => Some(o.to_string()),
        None => text("referer").and_then(|r| Some(url::Url::parse(r).ok()?.origin().ascii_serialization())),
    };
    match origin {
        Some(o) if origin_allowed(client, &o, public_url) => Ok(()),
        Some(_) => Err(ApiError::new(
            403,
            "access_denied",
            "This origin is not allowed for this client (its allowed_origins, or public_url).",
        )),
        None => Err(ApiError::new(
            403,
            "access_denied",
            "A state-changing request with the session cookie needs an Origin header.",
        )),
    }
}
