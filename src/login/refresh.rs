//! `POST /oauth/refreshtoken`: a Bearer access token the tenant issued (expired is fine, up to
//! the configured grace) plus `{"refresh_token"}` → new tokens in the client's shape.

use super::token::refresh_grant;
use super::{check_client_id, read_params, LoginService};
use crate::config::Client;
use crate::error::ApiError;
use crate::guard::jwt::{verify, Policy, VerifyError};
use crate::guard::token;
use crate::reply::{Reply, Request};

pub async fn handle(svc: &LoginService, client: &Client, req: &Request) -> Result<Reply, ApiError> {
    let (token, _) = token(&req.headers, &svc.config)
        .ok_or_else(|| ApiError::invalid_token("An access token is required: Authorization: Bearer <token>."))?;
    let policy = Policy {
        algorithms: svc.config.guard.algorithms.clone(),
        issuer: svc.config.tenant.issuer.clone(),
        audiences: None,
        leeway_seconds: svc.config.guard.leeway_seconds,
        expired_grace_seconds: Some(svc.config.session.refresh_expired_grace_seconds),
    };
    let claims = verify(token, &svc.jwks, &policy).await.map_err(|e| match e {
        VerifyError::KeysUnavailable => {
            ApiError::bad_gateway("The identity provider's signing keys could not be fetched.")
        }
        other => {
            tracing::info!(reason = %other, "refresh refused: bad access token");
            ApiError::invalid_token("The access token is not valid.")
        }
    })?;
    if let Some(azp) = claims.get("azp").and_then(|v| v.as_str()) {
        if azp != client.client_id {
            return Err(ApiError::invalid_token("The access token was issued to another client."));
        }
    }
    let params = read_params(req)?;
    check_client_id(&params, client)?;
    refresh_grant(svc, client, &params, req).await
}
