//! The guard in front of the backend: the route's policy, token verification, the cookie's
//! cross-site check, and the identity headers the backend receives. Plain values in and out.

mod csrf;
mod identity;
pub mod jwt;
mod policy;
mod verifier;

pub use identity::stripped_headers;
pub use policy::policy_for;
pub use verifier::Verifier;

use crate::config::{Config, Policy};
use crate::error::ApiError;
use crate::session::session_token;
use http::{HeaderMap, HeaderName};
use std::sync::Arc;

/// Where the token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Bearer,
    Cookie,
}

/// A request the guard let through: the headers to set on the way to the backend.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub headers: Vec<(HeaderName, String)>,
    /// The client named by a valid `secret` header, for logs.
    pub client: Option<String>,
    /// The verified token's `sub`, for per-user limits.
    pub subject: Option<String>,
}

pub struct Guard {
    config: Arc<Config>,
    verifier: Arc<Verifier>,
}

impl Guard {
    pub fn new(config: Arc<Config>, verifier: Arc<Verifier>) -> Self {
        Guard { config, verifier }
    }

    /// Let the request through (with the identity headers to add) or refuse it.
    pub async fn check(&self, method: &str, path: &str, headers: &HeaderMap) -> Result<Pass, ApiError> {
        let config = &self.config;
        let client = header(headers, "secret").and_then(|s| config.client_by_secret(s.as_bytes()));
        let mut pass = Pass { client: client.map(|c| c.name.clone()), ..Pass::default() };
        if let Some(c) = client {
            pass.headers.push((config.guard.client_header.clone(), c.name.clone()));
        }
        match policy_for(&config.routes, method, path) {
            Policy::Public => Ok(pass),
            Policy::Secret if client.is_some() => Ok(pass),
            Policy::Secret => Err(ApiError::invalid_client()),
            Policy::Authenticated => {
                let (token, source) =
                    token(headers, config).ok_or_else(|| ApiError::invalid_token("An access token is required."))?;
                let claims = self.verifier.verify(token).await.map_err(|e| match e {
                    jwt::VerifyError::KeysUnavailable => {
                        ApiError::new(503, "temporarily_unavailable", "The signing keys are not available yet.")
                    }
                    other => {
                        tracing::info!(reason = %other, "token refused");
                        ApiError::invalid_token("The access token is not valid.")
                    }
                })?;
                if source == TokenSource::Cookie {
                    let token_client =
                        claims.get("azp").and_then(|v| v.as_str()).and_then(|id| config.client_by_id(id));
                    csrf::check(method, headers, token_client, config.public_url.as_deref())?;
                    if config.guard.cookie_to_bearer {
                        pass.headers.push((http::header::AUTHORIZATION, format!("Bearer {token}")));
                    }
                }
                pass.headers.extend(identity::headers_from_claims(&config.guard, &claims));
                pass.subject = claims.get("sub").and_then(|v| v.as_str()).map(str::to_string);
                Ok(pass)
            }
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The bearer token, or else the session cookie's.
pub fn token<'a>(headers: &'a HeaderMap, config: &Config) -> Option<(&'a str, TokenSource)> {
    if let Some(t) = bearer(headers) {
        return Some((t, TokenSource::Bearer));
    }
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| session_token(&config.session, c))
        .map(|t| (t, TokenSource::Cookie))
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let (scheme, token) = header(headers, "authorization")?.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests;
