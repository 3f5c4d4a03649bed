//! `POST /oauth/refreshtoken`: a Bearer access token the tenant issued to this client for one
//! of the guarded audiences (expired is fine, up to the configured grace; an id_token is not
//! an access token and is refused) plus `{"refresh_token"}` → new tokens in the client's shape.

use super::token::refresh_grant;
use super::{check_client_id, read_params, LoginService};
use crate::config::Client;
use crate::error::ApiError;
use crate::guard::credential;
use crate::guard::jwt::{verify, Policy};
use crate::reply::{Reply, Request};

pub async fn handle(svc: &LoginService, client: &Client, req: &Request) -> Result<Reply, ApiError> {
    let token = credential(&req.headers, &svc.config.session)?
        .ok_or_else(|| ApiError::invalid_token("An access token is required: Authorization: Bearer <token>."))?
        .token;
    let mut audiences = svc.config.guard.audiences.clone();
    audiences.extend(client.audience.iter().filter(|a| !audiences.contains(a)).cloned().collect::<Vec<_>>());
    if audiences.is_empty() {
        return Err(ApiError::invalid_token("No access token audience is configured to check this token against."));
    }
    let policy = Policy {
        algorithms: svc.config.guard.algorithms.clone(),
        issuer: svc.config.tenant.issuer.clone(),
        audiences: Some(audiences),
        leeway_seconds: svc.config.guard.leeway_seconds,
        expired_grace_seconds: Some(svc.config.session.refresh_expired_grace_seconds),
    };
    let claims = verify(token, &svc.jwks, &policy).await.inspect_err(|e| {
        tracing::info!(reason = %e, "refresh refused: bad access token");
    })?;
    if claims.get("azp").and_then(|v| v.as_str()) != Some(client.client_id.as_str()) {
        return Err(ApiError::invalid_token("The access token was not issued to this client."));
    }
    let params = read_params(req)?;
    check_client_id(&params, client)?;
    refresh_grant(svc, client, &params, req).await
}
