//! `POST /v1/auth/password/authenticate`: the Passwords API's shape over the same login
//! pipeline. `username_type` picks the connection, `resource` the audience, `org_id` the
//! organization; `claims` go to the tenant; `session_id` is echoed or generated.

use super::grant;
use super::shape::OAuthTokens;
use super::{attempt, upstream_scope, AppliedLimits, FormCall};
use crate::http::error::ApiError;
use crate::http::exchange::Reply;
use serde::Serialize;

/// The standard token answer and the session's id.
#[derive(Serialize)]
struct Answer<'a> {
    #[serde(flatten)]
    tokens: OAuthTokens<'a>,
    session_id: &'a str,
}

pub(crate) async fn handle(call: FormCall<'_>, applied: &mut AppliedLimits) -> Result<Reply, ApiError> {
    let FormCall { svc, client, req, params } = call;
    let username = params.require("username")?;
    let password = params.require("password")?;
    let username_type = params.get("username_type").unwrap_or("username");
    let realm =
        client.username_types.iter().find(|(t, _)| t == username_type).map(|(_, conn)| conn.as_str()).ok_or_else(
            || ApiError::invalid_request(format!("username_type {username_type:?} is not supported for this client")),
        )?;
    let audience = match params.get("resource") {
        Some(r) if client.audience.as_deref() == Some(r) || client.resources.iter().any(|x| x == r) => Some(r),
        Some(_) => return Err(ApiError::invalid_request("resource is not allowed for this client")),
        None => client.audience.as_deref(),
    };
    let session_id = params.get("session_id").map(str::to_string).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    applied.add(svc.limits.check_attempt(username, req.client_ip).await?);
    let scope = upstream_scope(params.get("scope"), client);
    // A passwordless connection (`username_type: phone_number` → `sms`) takes the one-time
    // code with the passwordless OTP grant, as `/oauth/ro` does.
    let mut form = grant::realm_form(realm, username, password, &scope);
    form.extend(audience.map(|a| ("audience", a)));
    form.extend(params.get_json("claims").map(|c| ("claims", c)));
    form.extend(params.get("org_id").map(|o| ("organization", o)));
    let who = super::Who { client: &client.name, connection: realm, grant: "passwords_api", username };
    let result = attempt(svc, who, req, svc.tenant.token(client, &form, req.client_ip)).await;
    let mut tokens = result.map_err(|e| match ApiError::from(e) {
        // Bad credentials are 401 here, as on the Passwords API's sibling login endpoint.
        e if e.error == "invalid_grant" => ApiError::new(401, "invalid_grant", e.description),
        e => e,
    })?;
    let session = svc.issued(client, &mut tokens, None).await?;
    if let Some(reply) = svc.web_answer(client, &tokens, session.as_ref()) {
        return Ok(reply);
    }
    Ok(Reply::json(200, &Answer { tokens: OAuthTokens::of(&tokens), session_id: &session_id }))
}
