//! The login endpoints the gateway answers itself: `/oauth/token` and `/oauth/refreshtoken`.
//! Plain values in, a `Reply` out: no pingora type here.

mod body;
mod refresh;
mod scope;
mod shape;
mod token;

pub use body::{body_kind, parse as parse_body, BodyKind, Params};
pub use scope::upstream_scope;

use crate::config::{Client, Config};
use crate::error::ApiError;
use crate::reply::{Reply, Request};
use crate::tenant::{Jwks, TenantClient};
use std::sync::Arc;

/// Which login endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    RefreshToken,
}

/// Everything the login endpoints need.
pub struct LoginService {
    pub config: Arc<Config>,
    pub tenant: TenantClient,
    pub jwks: Arc<Jwks>,
}

/// The outcome of a login call, for the access log.
pub struct Outcome {
    pub reply: Reply,
    pub client: Option<String>,
}

impl LoginService {
    pub async fn handle(&self, endpoint: Endpoint, req: &Request) -> Outcome {
        let Some(client) = req
            .header("secret")
            .and_then(|s| self.config.client_by_secret(s.as_bytes()))
        else {
            return Outcome {
                reply: ApiError::invalid_client().into_reply(),
                client: None,
            };
        };
        let result = match endpoint {
            Endpoint::Token => token::handle(self, client, req).await,
            Endpoint::RefreshToken => refresh::handle(self, client, req).await,
        };
        Outcome {
            reply: result.unwrap_or_else(ApiError::into_reply),
            client: Some(client.name.clone()),
        }
    }
}

/// Parse the body after checking its content type.
fn read_params(req: &Request) -> Result<Params, ApiError> {
    let kind = body_kind(req.header("content-type"))?;
    parse_body(kind, &req.body)
}

/// A `client_id` in the body must be the selected client's.
fn check_client_id(params: &Params, client: &Client) -> Result<(), ApiError> {
    match params.get("client_id") {
        Some(id) if id != client.client_id => Err(ApiError::invalid_client()),
        _ => Ok(()),
    }
}
