//! Cross-site request forgery on the cookie path: a state-changing request (POST, PUT, PATCH,
//! DELETE) carried only by the session cookie must come from an allowed `Origin` (or, lacking
//! one, `Referer`). Bearer tokens are not sent by browsers on their own, so they are exempt.

use crate::config::Client;
use crate::error::ApiError;
use http::HeaderMap;

/// Whether `origin` may use the cookie: the gateway's own public URL, or one the client allows.
fn origin_allowed(client: Option<&Client>, origin: &str, public_url: Option<&str>) -> bool {
    public_url.is_some_and(|u| u == origin) || client.is_some_and(|c| c.allowed_origins.iter().any(|o| o == origin))
}

pub fn check(
    method: &str,
    headers: &HeaderMap,
    client: Option<&Client>,
    public_url: Option<&str>,
) -> Result<(), ApiError> {
    if !matches!(method, "POST" | "PUT" | "PATCH" | "DELETE") {
        return Ok(());
    }
    let origin = headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null")
        .map(str::to_string)
        .or_else(|| {
            let referer = headers.get(http::header::REFERER)?.to_str().ok()?;
            Some(url::Url::parse(referer).ok()?.origin().ascii_serialization())
        });
    match origin {
        Some(o) if origin_allowed(client, &o, public_url) => Ok(()),
        Some(_) => Err(ApiError::new(403, "access_denied", "This origin may not use the session cookie.")),
        None => Err(ApiError::new(
            403,
            "access_denied",
            "A state-changing request with the session cookie needs an Origin header.",
        )),
    }
}
