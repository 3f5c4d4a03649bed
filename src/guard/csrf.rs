//! Cross-site request forgery on the cookie path: a state-changing request (POST, PUT, PATCH,
//! DELETE) carried only by the session cookie must come from an allowed `Origin` (or, lacking
//! one, `Referer`). Bearer tokens are not sent by browsers on their own, so they are exempt.

use super::origin_allowed;
use crate::config::Client;
use crate::error::ApiError;
use http::HeaderMap;

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
