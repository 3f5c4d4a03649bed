//! User management (the `/users` endpoints of Mia-Platform's auth0-client) over the tenant's Management API v2: `GET|POST /users`,
//! `GET|PATCH|DELETE /users/{id}`, `POST /users/import` and its status, for management
//! clients only; and `GET /users/me`, the caller's own profile. Plain values in and out.

mod api;
mod import;
mod query;

pub(crate) use api::ManagementApi;
pub(crate) use import::MAX_IMPORT_BYTES;

use crate::config::{Client, Config, Policy};
use crate::guard::Guard;
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use crate::limits::{Limits, RateInfo};
use crate::session::SessionService;
use api::{reply_of, segment, Call, CallBody};
use reqwest::Method;
use std::sync::Arc;

pub(crate) use crate::routing::endpoints::UserOp;

/// The calling management client (a client marked `management: true`), under its per-client
/// rate limit: 401 without a known `secret`, 403 for any other client.
pub(crate) async fn management_client<'c>(
    config: &'c Config,
    limits: &Limits,
    req: &Request,
) -> Result<(&'c Client, RateInfo), ApiError> {
    let client = config.caller(&req.headers).ok_or_else(ApiError::invalid_client)?;
    let rate = limits.check_login(&client.name, req.client_ip).await?;
    if !client.management {
        let mut refusal = ApiError::new(403, "access_denied", "This client may not call the management endpoints.");
        rate.stamp(&mut refusal.headers);
        return Err(refusal);
    }
    Ok((client, rate))
}

pub(crate) struct UserEndpoints {
    pub(crate) config: Arc<Config>,
    pub(crate) api: Option<ManagementApi>,
    pub(crate) limits: Arc<Limits>,
    pub(crate) sessions: Arc<SessionService>,
}

fn not_configured() -> ApiError {
    ApiError::new(404, "not_found", "User management is not configured on this gateway (no management block).")
}

/// The `n`th segment of a normalised path, percent-decoded (`auth0%7Cabc` → `auth0|abc`).
fn path_segment(path: &str, n: usize) -> Result<String, ApiError> {
    let raw = path.split('/').nth(n).filter(|s| !s.is_empty());
    raw.and_then(|s| String::from_utf8(crate::routing::path::percent_decode(s.as_bytes())).ok())
        .ok_or_else(|| ApiError::invalid_request("the path does not name a user or a job"))
}

/// A JSON object body, with a managed `connection` (the default filled in when `fill`).
fn user_body(req: &Request, m: &crate::config::Management, fill: bool) -> Result<CallBody, ApiError> {
    if crate::http::body::body_kind(req.header("content-type")) != Ok(crate::http::body::BodyKind::Json) {
        return Err(ApiError::new(415, "unsupported_media_type", "Send the user as application/json."));
    }
    let mut body: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&req.body).map_err(|_| ApiError::invalid_request("the body must be a JSON object"))?;
    match body.get("connection") {
        Some(serde_json::Value::String(c)) if !m.manages(c) => {
            return Err(ApiError::invalid_request(format!("connection {c:?} is not one the gateway manages")));
        }
        Some(serde_json::Value::String(_)) => {}
        Some(_) => return Err(ApiError::invalid_request("connection must be a string")),
        None if fill => {
            let default = m.default_connection.clone().ok_or_else(|| {
                ApiError::invalid_request("connection is required: no default connection is configured")
            })?;
            body.insert("connection".into(), default.into());
        }
        None => {}
    }
    Ok(CallBody::Json(serde_json::to_vec(&body).expect("a JSON map serializes").into()))
}

impl UserEndpoints {
    /// A management call: `path` is the normalised path, `query` the raw query string.
    pub(crate) async fn handle(&self, op: UserOp, path: &str, query: Option<&str>, req: &Request) -> Reply {
        let answer = async {
            let (client, rate) = management_client(&self.config, &self.limits, req).await?;
            let api = self.api.as_ref().ok_or_else(not_configured)?;
            let call = self.call_for(op, path, query, req, api).await?;
            let user = matches!(op, UserOp::Get | UserOp::Update | UserOp::Delete)
                .then(|| path_segment(path, 2).ok())
                .flatten();
            if let Some(answered) = self.managed_user_only(op, &call, api).await? {
                crate::audit::management(&client.name, op.name(), user.as_deref(), answered.status, req.client_ip);
                return Ok(answered);
            }
            let answer = api.send(&call).await?;
            let ok = answer.status.is_success();
            tracing::info!(
                client = client.name.as_str(),
                op = op.name(),
                status = answer.status.as_u16(),
                "user management"
            );
            crate::audit::management(&client.name, op.name(), user.as_deref(), answer.status.as_u16(), req.client_ip);
            let mut reply = reply_of(answer)?;
            if ok && matches!(op, UserOp::Delete | UserOp::Update) {
                self.end_sessions_if_gone(op, path, req, &client.name).await?;
            }
            rate.stamp(&mut reply.headers);
            Ok::<_, ApiError>(reply)
        };
        answer.await.unwrap_or_else(ApiError::into_reply)
    }

    /// `GET`/`PATCH`/`DELETE /users/{id}` touch only users of the managed connections (when
    /// the management block names any): the user is looked up first; another connection's user
    /// is `404`, as if it did not exist. `Some`: the answer (for a `GET`, the lookup is it).
    async fn managed_user_only(&self, op: UserOp, call: &Call, api: &ManagementApi) -> Result<Option<Reply>, ApiError> {
        let m = api.config();
        if !m.restricted() || !matches!(op, UserOp::Get | UserOp::Update | UserOp::Delete) {
            return Ok(None);
        }
        let found = api.send(&Call::new(Method::GET, call.path.clone())).await?;
        if found.status != 200 {
            return reply_of(found).map(Some);
        }
        let user: serde_json::Value = serde_json::from_slice(&found.body).unwrap_or_default();
        let identities = user["identities"].as_array().map(Vec::as_slice).unwrap_or_default();
        if identities.iter().any(|i| i["connection"].as_str().is_some_and(|c| m.manages(c))) {
            return if op == UserOp::Get { reply_of(found).map(Some) } else { Ok(None) };
        }
        let body = serde_json::json!({
            "statusCode": 404, "error": "Not Found", "message": "The user does not exist.",
            "errorCode": "inexistent_user", "error_description": "The user does not exist.",
        });
        Ok(Some(Reply::json(404, &body)))
    }

    async fn call_for(
        &self,
        op: UserOp,
        path: &str,
        query: Option<&str>,
        req: &Request,
        api: &ManagementApi,
    ) -> Result<Call, ApiError> {
        let m = api.config();
        let user = || path_segment(path, 2).map(|id| format!("/users/{}", segment(&id)));
        let job = || path_segment(path, 4).map(|id| format!("/jobs/{}", segment(&id)));
        Ok(match op {
            UserOp::List => Call { query: query::search(query, m)?, ..Call::new(Method::GET, "/users".into()) },
            UserOp::Create => Call { body: user_body(req, m, true)?, ..Call::new(Method::POST, "/users".into()) },
            UserOp::Get => Call::new(Method::GET, user()?),
            UserOp::Update => Call { body: user_body(req, m, false)?, ..Call::new(Method::PATCH, user()?) },
            UserOp::Delete => Call::new(Method::DELETE, user()?),
            UserOp::Import => {
                let import = import::Import::parse(req.header("content-type"), req.body.clone(), m).await?;
                Call { body: CallBody::Import(import), ..Call::new(Method::POST, "/jobs/users-imports".into()) }
            }
            UserOp::ImportStatus => Call::new(Method::GET, job()?),
            UserOp::ImportErrors => Call::new(Method::GET, format!("{}/errors", job()?)),
            UserOp::Me => unreachable!("answered by me()"),
        })
    }

    /// A deleted user, or one just blocked, keeps no session on any replica. The tenant has
    /// already made the change: a store that cannot be reached is logged, not answered.
    async fn end_sessions_if_gone(&self, op: UserOp, path: &str, req: &Request, caller: &str) -> Result<(), ApiError> {
        let blocked = || {
            serde_json::from_slice::<serde_json::Value>(&req.body)
                .is_ok_and(|b| b["blocked"] == serde_json::json!(true))
        };
        if op == UserOp::Delete || blocked() {
            let user = path_segment(path, 2)?;
            match self.sessions.end_all(&user).await {
                Ok(ended) if !ended.is_empty() => {
                    tracing::info!(ended = ended.len(), "the sessions of a deleted or blocked user ended");
                    let by = if op == UserOp::Delete { "user_deleted" } else { "user_blocked" };
                    crate::audit::sessions_ended(by, &user, ended.len(), Some(caller));
                }
                Ok(_) => {}
                Err(e) => crate::store::report_error("ending a deleted or blocked user's sessions", &e),
            }
        }
        Ok(())
    }

    /// `GET /users/me`: the caller's own profile from the tenant, for a valid Bearer or session
    /// cookie; limited per IP like `/userinfo`.
    pub(crate) async fn me(&self, guard: &Guard, req: &Request) -> Reply {
        let rate = match self.limits.check_session_endpoint(req.client_ip).await {
            Ok(rate) => rate,
            Err(refusal) => return refusal.into_reply(),
        };
        let answer = async {
            let pass = guard.check(Policy::Authenticated, "GET", &req.headers).await?;
            let subject = pass.subject().ok_or_else(|| ApiError::invalid_token("The access token names no user."))?;
            let api = self.api.as_ref().ok_or_else(not_configured)?;
            let answer = api.send(&Call::new(Method::GET, format!("/users/{}", segment(subject)))).await?;
            reply_of(answer)
        };
        let mut reply = answer.await.unwrap_or_else(ApiError::into_reply);
        rate.stamp(&mut reply.headers);
        reply
    }
}
