//! `GET /userinfo` (the tenant's, for a token that verifies here first) and `GET|POST /logout`
//! (clear the cookie, revoke the refresh token, redirect to an allowed `returnTo`). Both are
//! limited per IP like the login calls, so neither is a free way to make the gateway call
//! the tenant.

use super::cleared_cookie;
use crate::config::{Client, Config};
use crate::error::ApiError;
use crate::guard::{credential, csrf, TokenSource, Verifier};
use crate::limits::Limits;
use crate::login::{body_kind, parse_body, Params};
use crate::reply::{Reply, Request};
use crate::tenant::TenantClient;
use std::sync::Arc;

pub struct SessionEndpoints {
    pub config: Arc<Config>,
    pub tenant: TenantClient,
    pub verifier: Arc<Verifier>,
    pub limits: Arc<Limits>,
}

impl SessionEndpoints {
    pub async fn userinfo(&self, req: &Request) -> Reply {
        self.limited(req, self.userinfo_steps(req)).await
    }

    async fn userinfo_steps(&self, req: &Request) -> Result<Reply, ApiError> {
        let c = credential(&req.headers, &self.config.session)?
            .ok_or_else(|| ApiError::invalid_token("An access token is required."))?;
        self.verifier.verify(c.token).await?;
        let body = self.tenant.userinfo(c.token).await?;
        Ok(Reply::json_bytes(200, body))
    }

    /// `query` is the request's query string; a POST may carry the same parameters in its body.
    pub async fn logout(&self, query: Option<&str>, req: &Request) -> Reply {
        self.limited(req, self.logout_steps(query, req)).await
    }

    async fn logout_steps(&self, query: Option<&str>, req: &Request) -> Result<Reply, ApiError> {
        let params = logout_params(query, req)?;
        let by_secret = req.header("secret").and_then(|s| self.config.client_by_secret(s.as_bytes()));
        let client = by_secret.or_else(|| params.get("client_id").and_then(|id| self.config.client_by_id(id)));
        let clear = cleared_cookie(&self.config.session, client.and_then(|c| c.same_site));
        let credential = credential(&req.headers, &self.config.session)?;
        if credential.is_some_and(|c| c.source == TokenSource::Cookie) {
            // A cross-site page must not end the session: whatever the method.
            csrf::check_same_site(&req.headers, client, self.config.public_url.as_deref())?;
        }
        match self.end(client, by_secret, &params, req).await {
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
        Ok(match return_to {
            Some(url) => Reply::empty(302).with_header("location", url),
            None => Reply::empty(204),
        })
    }

    /// Run `steps` under the per-IP limit of the session endpoints; the answer carries the
    /// `X-RateLimit-*` headers.
    async fn limited(&self, req: &Request, steps: impl std::future::Future<Output = Result<Reply, ApiError>>) -> Reply {
        match self.limits.check_session_endpoint(req.client_ip) {
            Err(refusal) => refusal.into_reply(),
            Ok(info) => {
                let mut reply = steps.await.unwrap_or_else(ApiError::into_reply);
                reply.headers.extend(info.headers());
                reply
            }
        }
    }
}

fn logout_params(query: Option<&str>, req: &Request) -> Result<Params, ApiError> {
    if !req.body.is_empty() {
        return parse_body(body_kind(req.header("content-type"))?, &req.body);
    }
    parse_body(crate::login::BodyKind::Form, query.unwrap_or_default().as_bytes())
}
