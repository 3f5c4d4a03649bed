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
use crate::jwt::VerifyError;
use crate::routing::policy::Matched;
use crate::session::SessionService;
use http::{HeaderMap, HeaderName};
use std::net::IpAddr;
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
    /// The session was refreshed in passing: the `Set-Cookie` for the response.
    pub(crate) set_cookie: Option<String>,
    /// ... and the session cookie's new value for the backend's `Cookie` header (token
    /// cookies: the backend sees the token that was decided on).
    pub(crate) session_cookie_value: Option<String>,
}

/// Refreshes a session in passing (`session.silent_refresh`); the login service does.
#[async_trait::async_trait]
pub(crate) trait SilentRefresh: Send + Sync {
    /// The session the cookie names, refreshed (or joined to the refresh in flight).
    async fn refresh_cookie(&self, cookie: &str, client_ip: IpAddr) -> Result<Renewed, ApiError>;
}

/// A session refreshed in passing.
pub(crate) struct Renewed {
    pub(crate) access_token: String,
    /// The session cookie's value now (the new token, or the unchanged opaque session id).
    pub(crate) cookie_value: String,
    pub(crate) set_cookie: String,
}

impl Pass {
    pub fn subject(&self) -> Option<&str> {
        self.verified.as_ref().and_then(|v| v.subject())
    }

    /// A refusal after the session was refreshed on the way carries the new cookie, so the
    /// browser keeps the session's current token (the guard, the per-user limit, a backend
    /// failure).
    pub(crate) fn keeping_cookie(&self, e: ApiError) -> ApiError {
        match &self.set_cookie {
            Some(c) => e.with_header("set-cookie", c.clone()),
            None => e,
        }
    }
}

pub struct Guard {
    config: Arc<Config>,
    verifier: Arc<Verifier>,
    sessions: Arc<SessionService>,
    refresher: Option<Arc<dyn SilentRefresh>>,
}

impl Guard {
    pub(crate) fn new(
        config: Arc<Config>,
        verifier: Arc<Verifier>,
        sessions: Arc<SessionService>,
        refresher: Option<Arc<dyn SilentRefresh>>,
    ) -> Self {
        Guard { config, verifier, sessions, refresher }
    }

    /// Let a backend request on the router's `rule` through, or refuse it: its policy, then who
    /// it allows (evaluated on every request: the token cache keeps no decision). `renew_for`:
    /// the client's IP, when a session may be refreshed in passing (a proxied request, whose
    /// response carries the new cookie).
    pub(crate) async fn check_route(
        &self,
        rule: &Matched,
        method: &str,
        headers: &HeaderMap,
        renew_for: Option<IpAddr>,
    ) -> Result<Pass, ApiError> {
        let pass = self.check_renewing(rule.policy, method, headers, renew_for).await?;
        let allow = rule.allow(&self.config.routes);
        if !allow.is_empty() {
            let claims = pass.verified.as_ref().map_or(&[][..], |v| v.authz_claims());
            let decided = crate::authz::decide(allow, &crate::authz::Shown { claims, caller: pass.client.as_deref() });
            // A session refreshed on the way keeps its new cookie, refused or not.
            decided.map_err(|e| pass.keeping_cookie(e))?;
        }
        Ok(pass)
    }

    /// Let a backend request with the router's `policy` through, or refuse it.
    pub async fn check(&self, policy: Policy, method: &str, headers: &HeaderMap) -> Result<Pass, ApiError> {
        self.check_renewing(policy, method, headers, None).await
    }

    async fn check_renewing(
        &self,
        policy: Policy,
        method: &str,
        headers: &HeaderMap,
        renew_for: Option<IpAddr>,
    ) -> Result<Pass, ApiError> {
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
                // Borrowed on the usual path: only a token renewed on the way is owned.
                let mut token = std::borrow::Cow::Borrowed(session_token.as_deref().unwrap_or(c.token));
                let mut verified = self.verifier.verify(&token).await;
                if let Some(ip) = renew_for.filter(|_| c.source == TokenSource::Cookie) {
                    let asked = Asked { method, headers, session_token: &token };
                    if let Some(renewed) = self.renew(c.token, &verified, asked, ip).await? {
                        verified = self.verifier.verify(&renewed.access_token).await;
                        token = std::borrow::Cow::Owned(renewed.access_token);
                        pass.session_cookie_value = (!opaque).then_some(renewed.cookie_value);
                        pass.set_cookie = Some(renewed.set_cookie);
                    }
                }
                let verified = verified.map_err(|e| pass.keeping_cookie(refusal(e)))?;
                if c.source == TokenSource::Cookie {
                    let token_client = verified.azp().and_then(|id| config.client_by_id(id));
                    csrf::check(method, headers, token_client, config.public_url.as_deref())
                        .map_err(|e| pass.keeping_cookie(e))?;
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

    /// Refresh the session a cookie names when its token is about to expire, or expired within
    /// the grace, or was replaced by a refresh just now (another request of the same page
    /// refreshed it: this one joins). `None`: not due, or not possible while the token still
    /// verifies (this request goes on with it).
    async fn renew(
        &self,
        cookie: &str,
        verified: &Result<Arc<Verified>, VerifyError>,
        asked: Asked<'_>,
        client_ip: IpAddr,
    ) -> Result<Option<Renewed>, ApiError> {
        let Some(refresher) = self.refresher.as_ref().filter(|_| self.config.session.silent_refresh) else {
            return Ok(None);
        };
        let due = match verified {
            Ok(v) => v.renewal_due(crate::store::unix_now(), self.config.session.refresh_before_seconds),
            Err(VerifyError::Invalid("expired") | VerifyError::Revoked) => true,
            Err(_) => false,
        };
        if !due {
            return Ok(None);
        }
        // A refresh changes state (the old token revoked, the refresh token rotated): a
        // cross-site request the cookie rode on is refused before it, not after.
        let azp = match verified {
            Ok(v) => v.azp().map(str::to_string),
            Err(_) => crate::jwt::unverified_claims(asked.session_token)
                .and_then(|c| c.get("azp").and_then(|v| v.as_str()).map(str::to_string)),
        };
        let client = azp.as_deref().and_then(|id| self.config.client_by_id(id));
        csrf::check(asked.method, asked.headers, client, self.config.public_url.as_deref())?;
        match refresher.refresh_cookie(cookie, client_ip).await {
            Ok(renewed) => Ok(Some(renewed)),
            Err(e) => {
                tracing::info!(status = e.status, error = %e.error, "the session could not be refreshed in passing");
                match verified {
                    // An expired token during a store or tenant outage: said as such, the
                    // caller may retry. A revoked one (a logout) stays refused as such.
                    Err(VerifyError::Invalid(_)) if e.status >= 500 => Err(e),
                    _ => Ok(None),
                }
            }
        }
    }
}

/// The request a renewal is for: its method and headers (the cross-site check), and the
/// session's token as the cookie gave it (or the store, for opaque cookies).
struct Asked<'a> {
    method: &'a str,
    headers: &'a HeaderMap,
    session_token: &'a str,
}

/// A token that did not verify, as a refusal (the reason logged, never sent).
fn refusal(e: VerifyError) -> ApiError {
    if e != VerifyError::KeysUnavailable {
        tracing::info!(reason = %e, "token refused");
    }
    ApiError::from(e)
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
