//! `GET /userinfo` (the tenant's, for a token that verifies here first) and `GET|POST /logout`
//! (end the session on every replica, clear the cookie, revoke the refresh token, redirect to
//! an allowed `returnTo`). Both are
//! limited per IP like the login calls, so neither is a free way to make the gateway call
//! the tenant.

use super::cleared_cookie;
use crate::config::{Client, Config, TenantLogout};
use crate::guard::Verifier;
use crate::guard::{credential, csrf, Credential, TokenSource};
use crate::http::body::{body_kind, parse as parse_body, Params};
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use crate::limits::Limits;
use crate::session::SessionService;
use crate::tenant_client::TenantClient;
use std::sync::Arc;

pub(crate) struct SessionEndpoints {
    pub(crate) config: Arc<Config>,
    pub(crate) tenant: TenantClient,
    pub(crate) verifier: Arc<Verifier>,
    pub(crate) limits: Arc<Limits>,
    pub(crate) sessions: Arc<SessionService>,
    /// The tenant's keys, for back-channel logout tokens.
    pub(crate) jwks: Arc<crate::tenant_client::Jwks>,
}

/// The access token a credential stands for: the token itself, or (opaque cookies) the one
/// of the session it names.
async fn access_token(sessions: &SessionService, c: &Credential<'_>) -> Result<String, ApiError> {
    if c.source == TokenSource::Cookie && sessions.opaque() {
        let token = sessions.access_token_for(c.token).await.map_err(store_unavailable)?;
        return token.map(|t| t.to_string()).ok_or_else(|| ApiError::invalid_token("The session has ended."));
    }
    Ok(c.token.to_string())
}

/// Why a session operation could not be done while the store is unreachable.
pub(crate) const STORE_UNAVAILABLE: &str = "The session store cannot be reached; try again shortly.";

pub(crate) fn store_unavailable(e: crate::store::StoreError) -> ApiError {
    crate::store::report_error("session", &e);
    ApiError::unavailable(STORE_UNAVAILABLE, 1)
}

impl SessionEndpoints {
    pub(crate) async fn userinfo(&self, req: &Request) -> Reply {
        self.limited(req, self.userinfo_steps(req)).await
    }

    async fn userinfo_steps(&self, req: &Request) -> Result<Reply, ApiError> {
        let c = credential(&req.headers, &self.config.session)?
            .ok_or_else(|| ApiError::invalid_token("An access token is required."))?;
        let token = access_token(&self.sessions, &c).await?;
        self.verifier.verify(&token).await?;
        let body = self.tenant.userinfo(&token).await?;
        Ok(Reply::json_bytes(200, body))
    }

    /// `query` is the request's query string; a POST may carry the same parameters in its body.
    pub(crate) async fn logout(&self, query: Option<&str>, req: &Request) -> Reply {
        self.limited(req, self.logout_steps(query, req)).await
    }

    async fn logout_steps(&self, query: Option<&str>, req: &Request) -> Result<Reply, ApiError> {
        let params = logout_params(query, req)?;
        let by_secret = self.config.caller(&req.headers);
        let client = by_secret.or_else(|| params.get("client_id").and_then(|id| self.config.client_by_id(id)));
        let clear = cleared_cookie(&self.config.session, client.and_then(|c| c.same_site));
        let credential = credential(&req.headers, &self.config.session)?;
        // A browser may not send the cookie cross-site (SameSite), yet apply the clearing one:
        // a request that says it comes from another site is checked too.
        let from_a_page =
            req.header("origin").is_some() || matches!(req.header("sec-fetch-site"), Some("cross-site" | "same-site"));
        if from_a_page && credential.is_none_or(|c| c.source != TokenSource::Cookie) {
            csrf::check_same_site(&req.headers, client, self.config.public_url.as_deref())?;
        }
        // A cross-site page must not end the session, whatever the method: the origin must be
        // one the client allows. The client the cookie was issued to decides (a request cannot
        // name another client to borrow its allowed origins); without one, the client named.
        // A `GET` the browser started itself (the address typed, a bookmark, a link opened from
        // another application: `Sec-Fetch-Site: none`, which no page can set) is not checked.
        // Such a link can log a user out (logout CSRF), nothing more: `returnTo` must be one of
        // the client's logout_urls, and a refresh token is revoked only with the client's secret.
        let typed = req.method == http::Method::GET && req.header("sec-fetch-site") == Some("none");
        let logout_client = match credential.filter(|c| c.source == TokenSource::Cookie) {
            Some(c) => {
                let cookie_client = self.cookie_client(&c).await.or(client);
                if !typed {
                    csrf::check_same_site(&req.headers, cookie_client, self.config.public_url.as_deref())?;
                }
                cookie_client
            }
            None => client,
        };
        let ended = match credential {
            Some(c) => self.end_session(&c, req).await,
            None => None,
        };
        let client = ended.as_ref().map(|s| s.client.as_str()).or(logout_client.map(|c| c.name.as_str()));
        crate::audit::logout(client, ended.as_ref().map(|s| s.subject.as_str()), req.client_ip);
        match self.end(logout_client, by_secret, &params, req).await {
            Ok(reply) => Ok(reply.with_header("set-cookie", clear)),
            Err(e) => Err(e.with_header("set-cookie", clear)),
        }
    }

    async fn end(
        &self,
        client: Option<&Client>,
        by_secret: Option<&Client>,
        params: &Params,
        req: &Request,
    ) -> Result<Reply, ApiError> {
        let return_to = params.get("returnTo").or_else(|| params.get("return_to"));
        if let Some(url) = return_to {
            if !client.is_some_and(|c| c.logout_urls.iter().any(|u| u == url)) {
                return Err(ApiError::invalid_request("returnTo is not an allowed logout URL for this client"));
            }
        }
        if let Some(refresh_token) = params.get("refresh_token") {
            // Revoking calls the tenant as the client: only with the client's own secret.
            let client = by_secret.ok_or_else(ApiError::invalid_client)?;
            self.tenant.revoke(client, refresh_token, req.client_ip).await?;
        }
        let at_tenant = client.and_then(|c| Some((c, c.tenant_logout?)));
        Ok(match (at_tenant, return_to) {
            (Some((c, kind)), return_to) => {
                Reply::empty(302).with_header("location", self.tenant_logout_url(c, kind, return_to))
            }
            (None, Some(url)) => Reply::empty(302).with_header("location", url),
            (None, None) => Reply::empty(204),
        })
    }

    /// Where the browser ends the tenant's session too: Auth0's `/v2/logout` or the OIDC
    /// `end_session_endpoint`, coming back to `return_to` (already checked against the
    /// client's `logout_urls`); without one the tenant picks (Auth0: the application's first
    /// Allowed Logout URL).
    fn tenant_logout_url(&self, client: &Client, kind: TenantLogout, return_to: Option<&str>) -> String {
        let tenant = &self.config.tenant;
        let (mut url, back_name) = match kind {
            TenantLogout::V2 => (tenant.logout_url.clone(), "returnTo"),
            TenantLogout::Oidc => (tenant.end_session_url.clone(), "post_logout_redirect_uri"),
        };
        url.query_pairs_mut().append_pair("client_id", &client.client_id);
        if let Some(back) = return_to {
            url.query_pairs_mut().append_pair(back_name, back);
        }
        url.to_string()
    }

    /// The client a session cookie was issued to: its token's `azp` (read, not verified: only
    /// the gateway sets the cookie), or the client of the session an opaque cookie names.
    async fn cookie_client(&self, c: &Credential<'_>) -> Option<&Client> {
        if self.sessions.opaque() {
            let session = self.sessions.find(c.token, true).await.ok()??;
            return self.config.client_by_name(&session.client);
        }
        let claims = crate::jwt::unverified_claims(c.token)?;
        self.config.client_by_id(claims.get("azp")?.as_str()?)
    }

    /// End the session a logout's credential names, on every replica, and revoke its refresh
    /// token at the tenant. Best effort: the cookie is cleared whatever happens here. The
    /// session ended, if any.
    async fn end_session(&self, c: &Credential<'_>, req: &Request) -> Option<crate::store::SessionRecord> {
        let is_session_id = c.source == TokenSource::Cookie && self.sessions.opaque();
        let verified = !is_session_id && self.verifier.verify(c.token).await.is_ok();
        match self.sessions.end_credential(c.token, is_session_id, verified).await {
            Ok(Some(session)) => {
                let client = self.config.client_by_name(&session.client);
                if let (Some(client), Some(refresh)) = (client, self.sessions.refresh_token(&session)) {
                    if let Err(e) = self.tenant.revoke(client, &refresh, req.client_ip).await {
                        tracing::warn!(error = %e, "logout: the tenant did not revoke the refresh token");
                    }
                }
                Some(session)
            }
            Ok(None) => None,
            Err(e) => {
                crate::store::report_error("logout", &e);
                None
            }
        }
    }

    /// Run `steps` under the per-IP limit of the session endpoints; the answer carries the
    /// `X-RateLimit-*` headers.
    async fn limited(&self, req: &Request, steps: impl std::future::Future<Output = Result<Reply, ApiError>>) -> Reply {
        match self.limits.check_session_endpoint(req.client_ip).await {
            Err(refusal) => refusal.into_reply(),
            Ok(info) => {
                let mut reply = steps.await.unwrap_or_else(ApiError::into_reply);
                info.stamp(&mut reply.headers);
                reply
            }
        }
    }
}

fn logout_params(query: Option<&str>, req: &Request) -> Result<Params, ApiError> {
    if !req.body.is_empty() {
        return parse_body(body_kind(req.header("content-type"))?, &req.body);
    }
    parse_body(crate::http::body::BodyKind::Form, query.unwrap_or_default().as_bytes())
}
