//! The guard in front of the backend: the request's one credential, token verification, the
//! cookie's cross-site check, and the identity the backend receives. Plain values in and out;
//! the route's policy comes from the router.

pub(crate) mod csrf;
mod identity;

pub(crate) use identity::{is_protected_spelling, protected_headers, FORWARDED_BY_PROXIES};
mod verifier;

pub(crate) use verifier::{Verified, Verifier};

use crate::config::{Config, Policy, SessionConfig};
use crate::http::cookies::{mentions_session_cookie, session_cookies};
use crate::http::error::ApiError;
use crate::routing::policy::Matched;
use crate::session::SessionService;
use http::{HeaderMap, HeaderName};
use std::sync::Arc;

/// Where the token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenSource {
    Bearer,
    Cookie,
}

/// A request's credential: its token, where it came from, and whether a session cookie came
/// along (to be removed when the Bearer is the one verified).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Credential<'a> {
    pub(crate) token: &'a str,
    pub(crate) source: TokenSource,
    pub(crate) with_cookie: bool,
}

/// A request the guard let through.
#[derive(Debug, Default, Clone)]
pub struct Pass {
    /// Headers to set on the way to the backend (client type, a Bearer made from the cookie).
    pub(crate) headers: Vec<(HeaderName, String)>,
    /// The client named by a valid `secret` header, for logs.
    pub(crate) client: Option<String>,
    /// The verified token, for the identity headers and per-user limits.
    pub(crate) verified: Option<Arc<Verified>>,
    /// The session cookie is not the verified credential: remove it before the backend.
    pub(crate) drop_session_cookie: bool,
    /// The cookie is the verified credential: remove the client's `Authorization` (the
    /// gateway sets its own when configured to).
    pub(crate) drop_authorization: bool,
}

impl Pass {
    pub fn subject(&self) -> Option<&str> {
        self.verified.as_ref().and_then(|v| v.subject())
    }
}

pub struct Guard {
    config: Arc<Config>,
    verifier: Arc<Verifier>,
    sessions: Arc<SessionService>,
}

impl Guard {
    pub(crate) fn new(config: Arc<Config>, verifier: Arc<Verifier>, sessions: Arc<SessionService>) -> Self {
        Guard { config, verifier, sessions }
    }

    /// Let a backend request on the router's `rule` through, or refuse it: its policy, then who
    /// it allows (evaluated on every request: the token cache keeps no decision).
    pub(crate) async fn check_route(
        &self,
        rule: &Matched,
        method: &str,
        headers: &HeaderMap,
    ) -> Result<Pass, ApiError> {
        let pass = self.check(rule.policy, method, headers).await?;
        let allow = rule.allow(&self.config.routes);
        if !allow.is_empty() {
            let claims = pass.verified.as_ref().map_or(&[][..], |v| v.authz_claims());
            crate::authz::decide(allow, &crate::authz::Shown { claims, caller: pass.client.as_deref() })?;
        }
        Ok(pass)
    }

    /// Let a backend request with the router's `policy` through, or refuse it.
    pub async fn check(&self, policy: Policy, method: &str, headers: &HeaderMap) -> Result<Pass, ApiError> {
        let config = &self.config;
        let credential = credential(headers, &config.session)?;
        let client = config.caller(headers);
        let mut pass = Pass { client: client.map(|c| c.name.clone()), ..Pass::default() };
        if let Some(c) = client {
            pass.headers.push((config.guard.client_header.clone(), c.name.clone()));
        }
        match policy {
            Policy::Public => Ok(pass),
            Policy::Secret if client.is_some() => Ok(pass),
            Policy::Secret => Err(ApiError::invalid_client()),
            Policy::Authenticated => {
                let c = credential.ok_or_else(|| ApiError::invalid_token("An access token is required."))?;
                let opaque = c.source == TokenSource::Cookie && self.sessions.opaque();
                let session_token = match opaque {
                    true => Some(self.opaque_session_token(c.token).await?),
                    false => None,
                };
                let token = session_token.as_deref().unwrap_or(c.token);
                let verified = self.verify(token).await?;
                if c.source == TokenSource::Cookie {
                    let token_client = verified.azp().and_then(|id| config.client_by_id(id));
                    csrf::check(method, headers, token_client, config.public_url.as_deref())?;
                    if config.guard.cookie_to_bearer || opaque {
                        pass.headers.push((http::header::AUTHORIZATION, format!("Bearer {token}")));
                    }
                }
                // The backend gets the one verified credential; an opaque session id is not one,
                // and with the cookie verified, the client's own Authorization is not either.
                pass.drop_session_cookie = (c.source == TokenSource::Bearer && c.with_cookie) || opaque;
                pass.drop_authorization = c.source == TokenSource::Cookie;
                pass.verified = Some(verified);
                Ok(pass)
            }
        }
    }

    /// The access token of the session an opaque cookie names.
    async fn opaque_session_token(&self, session_id: &str) -> Result<Arc<str>, ApiError> {
        match self.sessions.access_token_for(session_id).await {
            Ok(Some(token)) => Ok(token),
            Ok(None) => Err(ApiError::invalid_token("The session has ended.")),
            Err(e) => Err(crate::session::store_unavailable(e)),
        }
    }

    /// Verify an access token as the guard does (cached), mapping failures to refusals.
    pub(crate) async fn verify(&self, token: &str) -> Result<Arc<Verified>, ApiError> {
        self.verifier.verify(token).await.map_err(|e| {
            if e != crate::jwt::VerifyError::KeysUnavailable {
                tracing::info!(reason = %e, "token refused");
            }
            ApiError::from(e)
        })
    }
}

/// The request's one credential: a Bearer token or the session cookie. Refused (400): two
/// `Authorization` headers, two session cookies (in any letter case), or a Bearer and a
/// cookie that disagree. `None`: no credential.
pub(crate) fn credential<'a>(
    headers: &'a HeaderMap,
    session: &SessionConfig,
) -> Result<Option<Credential<'a>>, ApiError> {
    let mut authorizations = headers.get_all(http::header::AUTHORIZATION).iter();
    let authorization = authorizations.next();
    if authorizations.next().is_some() {
        return Err(ApiError::invalid_request("more than one Authorization header"));
    }
    let bearer = match authorization.map(|v| v.to_str().ok()) {
        Some(Some(v)) => bearer_of(v)?,
        Some(None) => return Err(ApiError::invalid_request("the Authorization header is not text")),
        None => None,
    };
    let cookie = session_cookies(headers, &session.cookie_name)?;
    Ok(match (bearer, cookie) {
        (Some(b), Some(c)) if b != c => {
            return Err(ApiError::invalid_request("the Bearer token and the session cookie disagree"));
        }
        (Some(token), c) => Some(Credential {
            token,
            source: TokenSource::Bearer,
            with_cookie: c.is_some() || mentions_session_cookie(headers, &session.cookie_name),
        }),
        (None, Some(token)) => Some(Credential { token, source: TokenSource::Cookie, with_cookie: true }),
        (None, None) => None,
    })
}

/// The token of an `Authorization: Bearer <token>` header value; another scheme is not a
/// Bearer (`None`); a Bearer spelt any other way (a tab, no token, spaces in it) is refused,
/// so the backend cannot read a token the guard did not.
fn bearer_of(value: &str) -> Result<Option<&str>, ApiError> {
    let looks_bearer = value.len() >= 6 && value.as_bytes()[..6].eq_ignore_ascii_case(b"bearer");
    if !looks_bearer {
        return Ok(None);
    }
    match value[6..].strip_prefix(' ') {
        Some(token) if !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()) => Ok(Some(token)),
        _ => Err(ApiError::invalid_request("the Authorization header must be exactly: Bearer <token>")),
    }
}

#[cfg(test)]
mod tests;
