//! The one place where a refusal becomes a status, headers and an
//! `{"error","error_description"}` body, and where every internal failure (a tenant call, a
//! token that did not verify) is mapped to one. Nothing internal leaks into the description.

use crate::http::exchange::Reply;
use serde::Serialize;
use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub(crate) status: u16,
    pub(crate) error: Cow<'static, str>,
    pub(crate) description: Cow<'static, str>,
    /// Auth0's `mfa_token`, passed through unchanged with `mfa_required`.
    pub(crate) mfa_token: Option<String>,
    pub(crate) headers: Vec<(&'static str, String)>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa_token: Option<&'a str>,
}

impl ApiError {
    pub(crate) fn new(
        status: u16,
        error: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError { status, error: error.into(), description: description.into(), mfa_token: None, headers: vec![] }
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, "invalid_request", description)
    }

    pub(crate) fn missing_parameter(name: &str) -> Self {
        Self::invalid_request(format!("missing {name} parameter"))
    }

    pub(crate) fn invalid_client() -> Self {
        Self::new(401, "invalid_client", "Client authentication failed: the secret header is missing or unknown.")
    }

    pub(crate) fn invalid_token(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(401, "invalid_token", description).with_header("www-authenticate", r#"Bearer error="invalid_token""#)
    }

    /// `allow` lists the methods, e.g. `POST` or `GET, POST`.
    pub(crate) fn method_not_allowed(allow: &'static str) -> Self {
        Self::new(405, "method_not_allowed", format!("Use {allow} on this endpoint.")).with_header("allow", allow)
    }

    pub(crate) fn payload_too_large(limit: usize) -> Self {
        Self::new(413, "payload_too_large", format!("The request body is larger than {limit} bytes."))
    }

    pub(crate) fn unsupported_media_type() -> Self {
        Self::new(
            415,
            "unsupported_media_type",
            "Send the body as application/x-www-form-urlencoded or application/json.",
        )
    }

    pub(crate) fn bad_gateway(description: &'static str) -> Self {
        Self::new(502, "bad_gateway", description)
    }

    /// `503 temporarily_unavailable`: the caller may try again after `retry_after_seconds`.
    pub(crate) fn unavailable(description: &'static str, retry_after_seconds: u32) -> Self {
        Self::new(503, "temporarily_unavailable", description)
            .with_header("retry-after", retry_after_seconds.to_string())
    }

    pub(crate) fn gateway_timeout() -> Self {
        Self::new(504, "gateway_timeout", "The identity provider did not answer in time.")
    }

    /// The answer when proxying to the backend failed with `status`.
    pub(crate) fn proxy_failure(status: u16) -> Self {
        match status {
            502 => Self::new(502, "bad_gateway", "The backend could not be reached."),
            504 => Self::new(504, "gateway_timeout", "The backend did not answer in time."),
            408 => Self::new(408, "request_timeout", "The request body took too long."),
            400..=499 => Self::new(status, "invalid_request", "The request could not be proxied."),
            _ => Self::new(status, "server_error", "The gateway could not complete the request."),
        }
    }

    pub(crate) fn into_reply(self) -> Reply {
        let body =
            Body { error: &self.error, error_description: &self.description, mfa_token: self.mfa_token.as_deref() };
        let mut reply = Reply::json(self.status, &body);
        reply.headers.extend(self.headers);
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_render_as_oauth_json_with_their_headers() {
        let r = ApiError::method_not_allowed("POST").into_reply();
        assert_eq!(r.status, 405);
        assert!(r.headers.contains(&("allow", "POST".to_string())));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["error"], "method_not_allowed");
        assert!(body.get("mfa_token").is_none());
    }

    #[test]
    fn mfa_token_is_kept() {
        let mut e = ApiError::new(403, "mfa_required", "Multifactor authentication required");
        e.mfa_token = Some("tok".into());
        let body: serde_json::Value = serde_json::from_slice(&e.into_reply().body).unwrap();
        assert_eq!(body["mfa_token"], "tok");
    }
}
