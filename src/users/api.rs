//! The tenant's Management API v2: the gateway's own token (`client_credentials`, cached in
//! moka until shortly before it expires, fetched single-flight, never logged) and the calls,
//! with the tenant's answer mapped once: success and refusals passed on, faults `502`/`504`.

use crate::config::Management;
use crate::http::error::ApiError;
use crate::http::exchange::Reply;
use crate::tenant_client::{TenantAnswer, TenantClient};
use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything but the unreserved characters is escaped in a path segment (`auth0|abc` →
/// `auth0%7Cabc`, and no `/`, `?` or `#` can change the tenant path).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A path segment for the tenant.
pub(crate) fn segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

#[derive(Clone)]
struct Token {
    value: Arc<str>,
    lifetime: Duration,
}

/// A cached token expires this long before the tenant says it does (a tenth of its life, at
/// most a minute), so a call never carries a token that expires on the way.
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(60))
}

struct TokenExpiry;

impl moka::Expiry<(), Token> for TokenExpiry {
    fn expire_after_create(&self, _: &(), token: &Token, _: Instant) -> Option<Duration> {
        Some(token.lifetime - refresh_margin(token.lifetime))
    }
}

pub(crate) struct ManagementApi {
    tenant: TenantClient,
    config: Management,
    token: moka::future::Cache<(), Token>,
}

/// A call to make: method, path below `/api/v2`, query and body.
pub(crate) struct Call {
    pub(crate) method: reqwest::Method,
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: CallBody,
}

pub(crate) enum CallBody {
    None,
    Json(Bytes),
    /// Multipart parts are rebuilt for each attempt (a form is consumed when sent).
    Import(super::import::Import),
}

impl Call {
    pub(crate) fn new(method: reqwest::Method, path: String) -> Self {
        Call { method, path, query: Vec::new(), body: CallBody::None }
    }
}

impl ManagementApi {
    pub(crate) fn new(tenant: TenantClient, config: Management) -> Self {
        let token = moka::future::Cache::builder().max_capacity(1).expire_after(TokenExpiry).build();
        ManagementApi { tenant, config, token }
    }

    pub(crate) fn config(&self) -> &Management {
        &self.config
    }

    /// The cached token, or a new one; concurrent callers share one fetch.
    async fn token(&self) -> Result<Arc<str>, ApiError> {
        let fetch = async {
            let tokens = self.tenant.management_token(&self.config).await.map_err(|e| {
                tracing::warn!(error = %e, "the tenant refused the gateway a Management API token");
                match e {
                    crate::tenant_client::TenantError::Rejected(_) => {
                        ApiError::bad_gateway("The gateway could not get a Management API token.")
                    }
                    other => ApiError::from(other),
                }
            })?;
            let lifetime = Duration::from_secs(tokens.expires_in.unwrap_or(86_400).max(1));
            Ok::<_, ApiError>(Token { value: tokens.access_token.into(), lifetime })
        };
        self.token.try_get_with((), fetch).await.map(|t| t.value).map_err(|e| (*e).clone())
    }

    /// Make `call`; a `401` (the token was revoked or expired early) gets one new token and
    /// one retry.
    pub(crate) async fn send(&self, call: &Call) -> Result<TenantAnswer, ApiError> {
        let first = self.attempt(call).await?;
        if first.status != 401 {
            return Ok(first);
        }
        self.token.invalidate(&()).await;
        self.attempt(call).await
    }

    async fn attempt(&self, call: &Call) -> Result<TenantAnswer, ApiError> {
        let token = self.token().await?;
        let url = format!("{}{}", self.config.url.as_str().trim_end_matches('/'), call.path);
        let mut request = self.tenant.http().request(call.method.clone(), url).bearer_auth(&*token).query(&call.query);
        request = match &call.body {
            CallBody::None => request,
            CallBody::Json(body) => request.header("content-type", "application/json").body(body.clone()),
            CallBody::Import(import) => request.multipart(import.form(&self.config)?),
        };
        self.tenant.management(request).await.map_err(ApiError::from)
    }
}

/// The tenant's answer as the gateway's reply: a success as it is; a refusal (4xx) with its
/// status and Auth0's body (plus `error_description`), a `429` with its `X-RateLimit-*` and a
/// `Retry-After`; anything else is the tenant's fault: `502`.
pub(crate) fn reply_of(answer: TenantAnswer) -> Result<Reply, ApiError> {
    let status = answer.status.as_u16();
    let is_json = |body: &[u8]| serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
    match status {
        204 => Ok(Reply::empty(204)),
        200..=299 if is_json(&answer.body) => Ok(Reply::json_bytes(status, answer.body)),
        400..=499 if status != 401 && status != 407 => Ok(refusal(answer)),
        _ => {
            tracing::warn!(status, "the Management API answered with an error");
            Err(ApiError::bad_gateway("The identity provider answered with an error."))
        }
    }
}

fn refusal(answer: TenantAnswer) -> Reply {
    let mut body = match serde_json::from_slice::<serde_json::Value>(&answer.body) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let description = body.get("message").and_then(|m| m.as_str()).unwrap_or("The identity provider refused the call.");
    let description = serde_json::Value::String(description.to_string());
    body.entry("error_description").or_insert(description);
    body.entry("error").or_insert_with(|| "invalid_request".into());
    let mut reply = Reply::json(answer.status.as_u16(), &body);
    if answer.status == 429 {
        let header = |name: &str| answer.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        for name in ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"] {
            if let Some(v) = header(name) {
                reply.headers.push((name, v));
            }
        }
        let now = jsonwebtoken::get_current_timestamp();
        let reset = header("x-ratelimit-reset").and_then(|r| r.parse::<u64>().ok());
        let wait = header("retry-after").or_else(|| reset.map(|r| r.saturating_sub(now).max(1).to_string()));
        reply.headers.push(("retry-after", wait.unwrap_or_else(|| "1".into())));
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str, headers: &[(&'static str, &str)]) -> TenantAnswer {
        let mut h = reqwest::header::HeaderMap::new();
        for (n, v) in headers {
            h.insert(*n, v.parse().unwrap());
        }
        TenantAnswer {
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            headers: h,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn ids_are_one_escaped_segment() {
        assert_eq!(segment("auth0|abc"), "auth0%7Cabc");
        assert_eq!(segment("../x?y#z"), "..%2Fx%3Fy%23z");
        assert_eq!(segment("job_1-a.b~c"), "job_1-a.b~c");
    }

    #[test]
    fn refusals_keep_auth0s_body_and_say_it_the_gateway_way() {
        let body = r#"{"statusCode":409,"error":"Conflict","message":"The user already exists.","errorCode":"auth0_idp_error"}"#;
        let r = reply_of(answer(409, body, &[])).unwrap();
        assert_eq!(r.status, 409);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["errorCode"], "auth0_idp_error");
        assert_eq!(v["error"], "Conflict");
        assert_eq!(v["error_description"], "The user already exists.");
    }

    #[test]
    fn a_429_carries_the_rate_headers_and_a_retry_after() {
        let reset = (jsonwebtoken::get_current_timestamp() + 30).to_string();
        let headers = [("x-ratelimit-limit", "10"), ("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &*reset)];
        let r = reply_of(answer(429, r#"{"statusCode":429}"#, &headers)).unwrap();
        assert_eq!(r.status, 429);
        let get = |n: &str| r.headers.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        assert_eq!(get("x-ratelimit-limit").as_deref(), Some("10"));
        let wait: u64 = get("retry-after").unwrap().parse().unwrap();
        assert!((1..=30).contains(&wait));
    }

    #[test]
    fn tenant_faults_are_bad_gateways() {
        assert_eq!(reply_of(answer(500, "oops", &[])).unwrap_err().status, 502);
        assert_eq!(reply_of(answer(200, "<html>", &[])).unwrap_err().status, 502);
        assert_eq!(reply_of(answer(401, "{}", &[])).unwrap_err().status, 502, "the gateway's own token");
        assert_eq!(reply_of(answer(204, "", &[])).unwrap().status, 204);
    }

    #[test]
    fn the_margin_is_a_tenth_at_most_a_minute() {
        assert_eq!(refresh_margin(Duration::from_secs(86_400)), Duration::from_secs(60));
        assert_eq!(refresh_margin(Duration::from_secs(100)), Duration::from_secs(10));
    }
}
