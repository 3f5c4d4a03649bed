//! `GET /userinfo` (the tenant's, for the caller's token) and `GET|POST /logout` (clear the
//! cookie, revoke the refresh token, redirect to an allowed `returnTo`).

use super::cleared_cookie;
use crate::config::{Client, Config};
use crate::error::ApiError;
use crate::guard::token;
use crate::login::{body_kind, parse_body, Params};
use crate::reply::{Reply, Request};
use crate::tenant::TenantClient;
use std::sync::Arc;

pub struct SessionEndpoints {
    pub config: Arc<Config>,
    pub tenant: TenantClient,
}

impl SessionEndpoints {
    pub async fn userinfo(&self, req: &Request) -> Reply {
        let Some((token, _)) = token(&req.headers, &self.config) else {
            return ApiError::invalid_token("An access token is required.").into_reply();
        };
        match self.tenant.userinfo(token).await {
            Ok(body) => Reply::json_bytes(200, body),
            Err(e) => ApiError::from(e).into_reply(),
        }
    }

    /// `query` is the request's query string; a POST may carry the same parameters in its body.
    pub async fn logout(&self, query: Option<&str>, req: &Request) -> Reply {
        let params = match logout_params(query, req) {
            Ok(p) => p,
            Err(e) => return e.into_reply(),
        };
        let client = req
            .header("secret")
            .and_then(|s| self.config.client_by_secret(s.as_bytes()))
            .or_else(|| params.get("client_id").and_then(|id| self.config.client_by_id(id)));
        let clear = cleared_cookie(&self.config.session, client.and_then(|c| c.same_site));
        match self.logout_steps(client, &params, req).await {
            Ok(reply) => reply.with_header("set-cookie", clear),
            Err(e) => e.with_header("set-cookie", clear).into_reply(),
        }
    }

    async fn logout_steps(&self, client: Option<&Client>, params: &Params, req: &Request) -> Result<Reply, ApiError> {
        let return_to = params.get("returnTo").or_else(|| params.get("return_to"));
        if let Some(url) = return_to {
            if !client.is_some_and(|c| c.logout_urls.iter().any(|u| u == url)) {
                return Err(ApiError::invalid_request("returnTo is not an allowed logout URL for this client"));
            }
        }
        if let Some(refresh_token) = params.get("refresh_token") {
            let client = client.ok_or_else(ApiError::invalid_client)?;
            self.tenant.revoke(client, refresh_token, req.client_ip).await?;
        }
        Ok(match return_to {
            Some(url) => Reply::empty(302).with_header("location", url),
            None => Reply::empty(204),
        })
    }
}

fn logout_params(query: Option<&str>, req: &Request) -> Result<Params, ApiError> {
    if !req.body.is_empty() {
        return parse_body(body_kind(req.header("content-type"))?, &req.body);
    }
    parse_body(crate::login::BodyKind::Form, query.unwrap_or_default().as_bytes())
}
