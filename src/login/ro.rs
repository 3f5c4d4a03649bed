//! Legacy `POST /oauth/ro`, kept working for apps that still call it: database logins become
//! the password-realm grant (or go to the tenant's own `/oauth/ro` with `legacy_ro: forward`),
//! `sms`/`email` logins the passwordless OTP grant, and the jwt-bearer grant goes to the
//! tenant's `/oauth/ro` once the id_token checks out. Answers and errors in /oauth/ro's shape.

use super::grant::{self, JWT_BEARER};
use super::token::{credentials, Credentials};
use super::{attempt, upstream_scope, AppliedLimits, FormCall, LoginService, Params};
use crate::config::{Client, LegacyRo};
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use crate::jwt;
use crate::tenant_client::Tokens;
use serde::Serialize;

#[derive(Serialize)]
struct LegacyTokens<'a> {
    id_token: Option<&'a str>,
    access_token: &'a str,
    token_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

pub(crate) async fn handle(call: FormCall<'_>, applied: &mut AppliedLimits) -> Result<Reply, ApiError> {
    let FormCall { svc, client, req, params } = call;
    let asked_offline = params.get("scope").is_some_and(|s| s.split_whitespace().any(|x| x == "offline_access"));
    if asked_offline && params.get("device").is_none() {
        return Err(ApiError::missing_parameter("device"));
    }
    let scope = upstream_scope(params.get("scope"), client);
    let mut tokens = match params.require("grant_type")? {
        "password" => password(call, &scope, applied).await?,
        JWT_BEARER => jwt_bearer(svc, client, params, &scope, req).await?,
        other => {
            return Err(ApiError::new(400, "unsupported_grant_type", format!("Grant type {other:?} is not supported.")))
        }
    };
    let session = svc.issued(client, &mut tokens, None).await.map_err(ro_error)?;
    if let Some(reply) = svc.web_answer(client, &tokens, session.as_ref()) {
        return Ok(reply);
    }
    let body = LegacyTokens {
        id_token: tokens.id_token.as_deref(),
        access_token: &tokens.access_token,
        token_type: &tokens.token_type,
        refresh_token: tokens.refresh_token.as_deref(),
    };
    Ok(Reply::json(200, &body))
}

async fn password(call: FormCall<'_>, scope: &str, applied: &mut AppliedLimits) -> Result<Tokens, ApiError> {
    let Credentials { username, password, realm } = credentials(call, applied).await?;
    let FormCall { svc, client, req, params } = call;
    let passwordless = grant::is_passwordless(realm);
    let call = async {
        if passwordless || client.legacy_ro == LegacyRo::Translate {
            // sms/email: the passwordless OTP grant, the code as `otp`; else the password-realm grant.
            let mut form = grant::realm_form(realm, username, password, scope);
            form.extend(client.audience.as_deref().map(|a| ("audience", a)));
            svc.tenant.token(client, &form, req.client_ip).await
        } else {
            let mut form = vec![
                ("client_id", client.client_id.as_str()),
                ("connection", realm),
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
                ("scope", scope),
            ];
            form.extend(params.get("device").map(|d| ("device", d)));
            svc.tenant.ro(&form, req.client_ip).await
        }
    };
    let who = super::Who { client: &client.name, connection: realm, grant: "ro", username };
    attempt(svc, who, req, call).await.map_err(|e| ro_error(e.into()))
}

async fn jwt_bearer(
    svc: &LoginService,
    client: &Client,
    params: &Params,
    scope: &str,
    req: &Request,
) -> Result<Tokens, ApiError> {
    let id_token = params.require("id_token")?;
    let device = params.require("device")?;
    if !id_token_is_for(svc, client, id_token).await {
        return Err(ApiError::new(401, "invalid_token", "The id_token is not valid for this client."));
    }
    let form = [
        ("client_id", client.client_id.as_str()),
        ("grant_type", JWT_BEARER),
        ("id_token", id_token),
        ("device", device),
        ("scope", scope),
    ];
    svc.tenant.ro(&form, req.client_ip).await.map_err(|e| ro_error(e.into()))
}

/// An id_token the tenant issued to this client: RS256 through the JWKS, or HS256 signed with
/// the client secret, as legacy Auth0 issued them.
async fn id_token_is_for(svc: &LoginService, client: &Client, id_token: &str) -> bool {
    let Ok(header) = jsonwebtoken::decode_header(id_token) else { return false };
    if header.alg == jsonwebtoken::Algorithm::HS256 {
        let secret = client.client_secret.expose();
        if secret.is_empty() {
            return false;
        }
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.set_issuer(&[&svc.config.tenant.issuer]);
        v.set_audience(&[&client.client_id]);
        let key = jsonwebtoken::DecodingKey::from_secret(secret.as_bytes());
        return jsonwebtoken::decode::<serde_json::Value>(id_token, &key, &v).is_ok();
    }
    let policy = jwt::TokenChecks::id_tokens(&svc.config, client);
    jwt::verify(id_token, &svc.jwks, &policy).await.is_ok()
}

/// /oauth/ro words bad credentials its own way.
fn ro_error(e: ApiError) -> ApiError {
    if e.error == "invalid_grant" {
        return ApiError::new(401, "invalid_user_password", "Wrong email or password.");
    }
    e
}
