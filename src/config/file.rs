//! The serde mirror of `gateway.yaml`: loose types, every key documented in docs/configuration.md.
//! Unknown keys are refused; `model.rs` turns this into the validated model.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub admin_listen: Option<String>,
    pub threads: Option<usize>,
    pub grace_period_seconds: Option<u64>,
    pub max_body_bytes: Option<usize>,
    #[serde(default)]
    pub connections: FileConnections,
    pub public_url: Option<String>,
    pub tls: Option<FileTls>,
    pub backend: FileBackend,
    pub tenant: FileTenant,
    pub dev_tenant: Option<FileDevTenant>,
    pub management: Option<FileManagement>,
    #[serde(default)]
    pub session: FileSession,
    #[serde(default)]
    pub store: FileStore,
    pub id_token: Option<FileIdToken>,
    #[serde(default)]
    pub guard: FileGuard,
    #[serde(default)]
    pub routes: FileRoutes,
    #[serde(default)]
    pub limits: FileLimits,
    pub clients: BTreeMap<String, FileClient>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConnections {
    pub max: Option<usize>,
    pub header_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileGuard {
    pub audiences: Option<Vec<String>>,
    pub algorithms: Option<Vec<String>>,
    pub leeway_seconds: Option<u64>,
    pub jwks_ttl_seconds: Option<u64>,
    pub jwks_min_refetch_seconds: Option<u64>,
    pub token_cache_bytes: Option<u64>,
    pub require_email_verified: Option<bool>,
    pub groups_claim: Option<String>,
    pub identity_headers: Option<BTreeMap<String, String>>,
    pub client_header: Option<String>,
    #[serde(default)]
    pub cookie_to_bearer: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRoutes {
    pub default: Option<String>,
    #[serde(default)]
    pub reject_escaped_percent: bool,
    #[serde(default)]
    pub reject_path_parameters: bool,
    #[serde(default)]
    pub rules: Vec<FileRouteRule>,
    /// Browsers without a session are sent to `/authorize` instead of getting a `401`.
    #[serde(default)]
    pub login_redirect: bool,
    /// The client `/authorize` is asked for by those redirects.
    pub login_client: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRouteRule {
    pub prefix: String,
    pub methods: Option<Vec<String>>,
    pub policy: String,
    #[serde(default)]
    pub websocket: bool,
    pub login_redirect: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBackend {
    pub url: String,
    #[serde(default)]
    pub embedded_echo: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTenant {
    pub url: String,
    #[serde(default)]
    pub embedded: bool,
    pub issuer: Option<String>,
    pub connect_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    pub ca_file: Option<String>,
    #[serde(default)]
    pub paths: FileTenantPaths,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTls {
    pub cert_file: String,
    pub key_file: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTenantPaths {
    pub token: Option<String>,
    pub ro: Option<String>,
    pub userinfo: Option<String>,
    pub revoke: Option<String>,
    pub jwks: Option<String>,
    pub authorize: Option<String>,
    pub logout: Option<String>,
    pub end_session: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSession {
    pub duration_seconds: Option<u64>,
    pub cookie_name: Option<String>,
    pub refresh_expired_grace_seconds: Option<u64>,
    pub encryption_key: Option<String>,
    pub cookie: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileIdToken {
    #[serde(default)]
    pub reissue: bool,
    pub signing_key_file: Option<String>,
    pub signing_key: Option<String>,
    pub previous_key_file: Option<String>,
    pub previous_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStore {
    pub redis: Option<FileRedis>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRedis {
    pub mode: Option<String>,
    pub urls: Vec<String>,
    pub sentinel_master: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub key_prefix: Option<String>,
    pub timeout_ms: Option<u64>,
    pub on_error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileClient {
    pub secret: OneOrMany,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub audience: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub connections: Vec<String>,
    pub default_connection: Option<String>,
    pub same_site: Option<String>,
    pub token_response: Option<String>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub logout_urls: Vec<String>,
    pub legacy_ro: Option<String>,
    pub token_auth_method: Option<String>,
    pub private_key_file: Option<String>,
    pub private_key: Option<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    pub username_types: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub management: bool,
    /// Browser login: the gateway's callback as the tenant knows it.
    pub redirect_url: Option<String>,
    #[serde(default)]
    pub authorize_state_required: bool,
    /// End the tenant's session on logout: `v2` or `oidc`.
    pub tenant_logout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDevTenant {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub access_token_ttl_seconds: Option<u64>,
    #[serde(default)]
    pub rotate_refresh_tokens: bool,
    pub password_hash: Option<String>,
    pub default_directory: Option<String>,
    pub groups_claim: Option<String>,
    pub management_scopes: Option<Vec<String>>,
    pub management_requests_per_minute: Option<u32>,
    #[serde(default)]
    pub users: Vec<FileDevUser>,
}

/// The tenant's Management API, for the user-management endpoints (seed 003).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileManagement {
    pub url: Option<String>,
    pub audience: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    pub default_connection: Option<String>,
    #[serde(default)]
    pub connections: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDevUser {
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub otp: Option<String>,
    pub password: Option<String>,
    pub password_hash: Option<String>,
    pub connection: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub blocked: bool,
    #[serde(default)]
    pub mfa: bool,
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    pub login: Option<FileRate>,
    pub login_attempts: Option<FileRate>,
    pub backend_per_ip: Option<FileRate>,
    pub backend_per_user: Option<FileRate>,
    #[serde(default)]
    pub brute_force: FileBruteForce,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRate {
    pub rate: String,
    pub burst: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBruteForce {
    pub max_failures: Option<u32>,
    pub block_seconds: Option<u64>,
}
