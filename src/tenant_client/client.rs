//! Calls to the tenant's `/oauth/token`, and the mapping of what can go wrong on the way.

use super::client_auth::authenticate;
use crate::config::{Client, Tenant};
use crate::http::error::ApiError;
use crate::metrics::metrics;
use crate::request_scope;
use serde::Deserialize;
use std::net::IpAddr;

/// The tenant's successful token answer (serialized sealed, when a refresh is shared).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub(crate) struct Tokens {
    pub(crate) access_token: String,
    #[serde(default = "bearer")]
    pub(crate) token_type: String,
    /// Absent from legacy `/oauth/ro` answers.
    #[serde(default)]
    pub(crate) expires_in: Option<u64>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) id_token: Option<String>,
    pub(crate) scope: Option<String>,
}

fn bearer() -> String {
    "Bearer".to_string()
}

#[derive(Debug, Deserialize)]
struct TenantErrorBody {
    error: String,
    error_description: Option<String>,
    mfa_token: Option<String>,
}

/// What went wrong calling the tenant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TenantError {
    /// The tenant refused the call (4xx) with an OAuth error: passed on to the caller.
    #[error("tenant refused: {} {}", .0.status, .0.error)]
    Rejected(ApiError),
    #[error("tenant unreachable")]
    Unreachable,
    #[error("tenant timed out")]
    Timeout,
    #[error("tenant answered something unexpected ({0})")]
    BadAnswer(&'static str),
}

/// The reqwest client that talks to the tenant.
#[derive(Clone)]
pub(crate) struct TenantClient {
    http: reqwest::Client,
    tenant: Tenant,
}

impl TenantClient {
    pub(crate) fn new(tenant: &Tenant) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(tenant.connect_timeout)
            .timeout(tenant.request_timeout)
            .pool_idle_timeout(std::time::Duration::from_secs(60))
            // A redirect would re-send the password and the client secret somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("authgate/", env!("CARGO_PKG_VERSION")));
        let http = match &tenant.ca_bundle {
            Some(pem) => http.tls_certs_merge(reqwest::Certificate::from_pem_bundle(pem)?),
            None => http,
        }
        .build()?;
        Ok(TenantClient { http, tenant: tenant.clone() })
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A POST to the tenant with the client's credentials added, as the client authenticates.
    fn post_as(
        &self,
        client: &Client,
        url: &url::Url,
        form: &[(&str, &str)],
        client_ip: IpAddr,
    ) -> reqwest::RequestBuilder {
        let auth = authenticate(client, self.tenant.token_url.as_str(), form);
        let mut request =
            self.http.post(url.clone()).header("auth0-forwarded-for", client_ip.to_string()).form(&auth.form);
        if let Some((user, password)) = auth.basic {
            request = request.basic_auth(user, Some(password));
        }
        request
    }

    /// `POST /oauth/token` for `client`; `client_ip` goes in `auth0-forwarded-for`.
    pub(crate) async fn token(
        &self,
        client: &Client,
        form: &[(&str, &str)],
        client_ip: IpAddr,
    ) -> Result<Tokens, TenantError> {
        let request = self.post_as(client, &self.tenant.token_url, form, client_ip);
        observe("token", self.tokens(request)).await
    }

    /// The tenant's legacy `POST /oauth/ro`, unchanged (no client authentication: it has none).
    pub(crate) async fn ro(&self, form: &[(&str, &str)], client_ip: IpAddr) -> Result<Tokens, TenantError> {
        let request =
            self.http.post(self.tenant.ro_url.clone()).header("auth0-forwarded-for", client_ip.to_string()).form(form);
        observe("ro", self.tokens(request)).await
    }

    async fn tokens(&self, request: reqwest::RequestBuilder) -> Result<Tokens, TenantError> {
        let TenantAnswer { status, body, .. } = call(request, MAX_TENANT_BODY).await?;
        if status.is_success() {
            let mut tokens: Tokens = serde_json::from_slice(&body).map_err(|_| {
                tracing::warn!(status = status.as_u16(), "tenant token answer is not the expected JSON");
                TenantError::BadAnswer("success body")
            })?;
            tokens.expires_in = tokens.expires_in.map(|s| s.min(super::MAX_EXPIRES_IN));
            return Ok(tokens);
        }
        Err(refusal(status, &body).unwrap_or_else(|| {
            tracing::warn!(status = status.as_u16(), "tenant answered with an error");
            TenantError::BadAnswer("error status")
        }))
    }
}

/// The most the gateway reads of any tenant answer.
pub(crate) const MAX_TENANT_BODY: usize = 64 * 1024;

/// The tenant statuses passed on to the caller (with an OAuth error body); any other is the
/// tenant's fault and becomes a `502`.
const PASSED_ON: [u16; 4] = [400, 401, 403, 429];

/// Send `request` and read at most `cap` bytes of the answer, whatever its status.
async fn call(request: reqwest::RequestBuilder, cap: usize) -> Result<TenantAnswer, TenantError> {
    let mut response = with_request_id(request).send().await.map_err(classify)?;
    let (status, headers) = (response.status(), std::mem::take(response.headers_mut()));
    Ok(TenantAnswer { status, headers, body: read_capped(response, cap).await? })
}

async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<bytes::Bytes, TenantError> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        tracing::warn!("tenant answer is larger than {cap} bytes");
        return Err(TenantError::BadAnswer("too large"));
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > cap {
            tracing::warn!("tenant answer is larger than {cap} bytes");
            return Err(TenantError::BadAnswer("too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The tenant's OAuth refusal, when `status` is one passed on and `body` is an OAuth error.
fn refusal(status: reqwest::StatusCode, body: &[u8]) -> Option<TenantError> {
    if !PASSED_ON.contains(&status.as_u16()) {
        return None;
    }
    let e = serde_json::from_slice::<TenantErrorBody>(body).ok()?;
    let mut api = ApiError::new(status.as_u16(), e.error, e.error_description.unwrap_or_default());
    api.mfa_token = e.mfa_token;
    if status.as_u16() == 429 {
        api = api.with_header("retry-after", "1");
    }
    Some(TenantError::Rejected(api))
}

impl TenantClient {
    /// Fetch `url` (the JWKS) with the tenant's limits: no redirects, at most
    /// `MAX_TENANT_BODY` bytes.
    pub(crate) async fn get_capped(&self, url: &url::Url) -> Result<bytes::Bytes, TenantError> {
        use tracing::Instrument;
        let fetched = call(self.http.get(url.clone()), MAX_TENANT_BODY).instrument(crate::otel::tenant_span("jwks"));
        let TenantAnswer { status, body, .. } = fetched.await?;
        if !status.is_success() {
            return Err(TenantError::BadAnswer("status"));
        }
        Ok(body)
    }

    /// `GET /userinfo` for `token`: the tenant's JSON claims, or its refusal.
    pub(crate) async fn userinfo(&self, token: &str) -> Result<bytes::Bytes, TenantError> {
        observe("userinfo", self.userinfo_call(token)).await
    }

    async fn userinfo_call(&self, token: &str) -> Result<bytes::Bytes, TenantError> {
        let request = self.http.get(self.tenant.userinfo_url.clone()).bearer_auth(token);
        let TenantAnswer { status, body, .. } = call(request, MAX_TENANT_BODY).await?;
        if status.is_success() && serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body).is_ok() {
            return Ok(body);
        }
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(TenantError::Rejected(ApiError::invalid_token("The access token is not valid.")));
        }
        tracing::warn!(status = status.as_u16(), "tenant userinfo failed");
        Err(TenantError::BadAnswer("userinfo"))
    }

    /// `POST /oauth/revoke` a refresh token of `client`.
    pub(crate) async fn revoke(&self, client: &Client, token: &str, client_ip: IpAddr) -> Result<(), TenantError> {
        observe("revoke", self.revoke_call(client, token, client_ip)).await
    }

    async fn revoke_call(&self, client: &Client, token: &str, client_ip: IpAddr) -> Result<(), TenantError> {
        let request = self.post_as(client, &self.tenant.revoke_url, &[("token", token)], client_ip);
        let TenantAnswer { status, body, .. } = call(request, MAX_TENANT_BODY).await?;
        if status.is_success() {
            return Ok(());
        }
        Err(refusal(status, &body).unwrap_or(TenantError::BadAnswer("revoke")))
    }

    /// The tenant's `/.well-known/openid-configuration`, as JSON.
    pub(crate) async fn openid_configuration(&self) -> Result<serde_json::Map<String, serde_json::Value>, TenantError> {
        let url = format!("{}/.well-known/openid-configuration", self.tenant.base_url.as_str().trim_end_matches('/'));
        let TenantAnswer { status, body, .. } = call(self.http.get(url), MAX_TENANT_BODY).await?;
        if !status.is_success() {
            return Err(TenantError::BadAnswer("discovery"));
        }
        serde_json::from_slice(&body).map_err(|_| TenantError::BadAnswer("discovery"))
    }
}

/// The most the gateway reads of a Management API answer (a page of 100 users with metadata).
pub(crate) const MAX_MANAGEMENT_BODY: usize = 1024 * 1024;

/// A tenant answer, whatever its status: the caller decides what it means.
#[derive(Debug)]
pub(crate) struct TenantAnswer {
    pub(crate) status: reqwest::StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: bytes::Bytes,
}

impl TenantClient {
    /// A Management API token: `client_credentials` for the management block's application.
    pub(crate) async fn management_token(&self, m: &crate::config::Management) -> Result<Tokens, TenantError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", m.client_id.as_str()),
            ("client_secret", m.client_secret.expose()),
            ("audience", m.audience.as_str()),
        ];
        let request = self.http.post(self.tenant.token_url.clone()).form(&form);
        observe("management_token", self.tokens(request)).await
    }

    /// Send a Management API call; any status comes back, a transport failure is an error.
    pub(crate) async fn management(&self, request: reqwest::RequestBuilder) -> Result<TenantAnswer, TenantError> {
        observe("management", call(request, MAX_MANAGEMENT_BODY)).await
    }
}

impl TenantError {
    /// A short name for metrics.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            TenantError::Rejected(_) => "rejected",
            TenantError::Unreachable => "unreachable",
            TenantError::Timeout => "timeout",
            TenantError::BadAnswer(_) => "bad_answer",
        }
    }
}

/// Time a tenant call: the latency histogram, the request's tenant time, errors by kind.
async fn observe<T>(
    operation: &'static str,
    call: impl std::future::Future<Output = Result<T, TenantError>>,
) -> Result<T, TenantError> {
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let result = call.instrument(crate::otel::tenant_span(operation)).await;
    let elapsed = started.elapsed();
    metrics().tenant_seconds.with_label_values(&[operation]).observe(elapsed.as_secs_f64());
    request_scope::add_tenant_time(elapsed);
    if let Err(e) = &result {
        metrics().tenant_errors.with_label_values(&[e.kind()]).inc();
    }
    result
}

/// The current request's id goes to the tenant too, and the trace context of the tenant call's
/// span when traces are on.
fn with_request_id(mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    for (name, value) in crate::otel::context_headers(&tracing::Span::current()) {
        request = request.header(name, value);
    }
    match request_scope::request_id() {
        Some(id) => request.header("x-request-id", id),
        None => request,
    }
}

fn classify(e: reqwest::Error) -> TenantError {
    if e.is_timeout() {
        tracing::warn!("tenant call timed out");
        TenantError::Timeout
    } else if e.is_connect() {
        tracing::warn!("tenant unreachable");
        TenantError::Unreachable
    } else {
        tracing::warn!(kind = "transport", "tenant call failed");
        TenantError::BadAnswer("transport")
    }
}

/// A tenant call that failed: its OAuth refusal passed on as it is (only 400/401/403/429 get
/// here), `502` when it could not be reached or answered something else, `504` on a timeout.
impl From<TenantError> for ApiError {
    fn from(e: TenantError) -> Self {
        match e {
            TenantError::Rejected(api) => api,
            TenantError::Unreachable => ApiError::bad_gateway("The identity provider could not be reached."),
            TenantError::Timeout => ApiError::gateway_timeout(),
            TenantError::BadAnswer(_) => ApiError::bad_gateway("The identity provider answered with an error."),
        }
    }
}
