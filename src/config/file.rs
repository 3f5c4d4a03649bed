//! The serde mirror of `gateway.yaml`: loose types, every key documented in docs/configuration.md.
//! Unknown keys are refused; `model.rs` turns this into the validated model.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    pub(crate) listen: Option<String>,
    pub(crate) admin_listen: Option<String>,
    pub(crate) threads: Option<usize>,
    pub(crate) grace_period_seconds: Option<u64>,
    pub(crate) max_body_bytes: Option<usize>,
    #[serde(default)]
    pub(crate) connections: FileConnections,
    pub(crate) public_url: Option<String>,
    pub(crate) tls: Option<FileTls>,
    pub(crate) backend: FileBackend,
    pub(crate) tenant: FileTenant,
    pub(crate) dev_tenant: Option<FileDevTenant>,
    pub(crate) management: Option<FileManagement>,
    pub(crate) forward_auth: Option<FileForwardAuth>,
    #[serde(default)]
    pub(crate) audit: FileAudit,
    #[serde(default)]
    pub(crate) session: FileSession,
    #[serde(default)]
    pub(crate) store: FileStore,
    pub(crate) id_token: Option<FileIdToken>,
    #[serde(default)]
    pub(crate) guard: FileGuard,
    #[serde(default)]
    pub(crate) routes: FileRoutes,
    #[serde(default)]
    pub(crate) limits: FileLimits,
    pub(crate) clients: BTreeMap<String, FileClient>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConnections {
    pub(crate) max: Option<usize>,
    pub(crate) max_per_ip: Option<usize>,
    pub(crate) header_timeout_ms: Option<u64>,
    pub(crate) body_timeout_ms: Option<u64>,
    pub(crate) idle_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileGuard {
    pub(crate) audiences: Option<Vec<String>>,
    pub(crate) algorithms: Option<Vec<String>>,
    pub(crate) leeway_seconds: Option<u64>,
    pub(crate) jwks_ttl_seconds: Option<u64>,
    pub(crate) jwks_min_refetch_seconds: Option<u64>,
    pub(crate) token_cache_bytes: Option<u64>,
    pub(crate) require_email_verified: Option<bool>,
    pub(crate) groups_claim: Option<String>,
    pub(crate) roles_claim: Option<String>,
    pub(crate) identity_headers: Option<BTreeMap<String, String>>,
    pub(crate) client_header: Option<String>,
    #[serde(default)]
    pub(crate) cookie_to_bearer: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileRoutes {
    pub(crate) default: Option<String>,
    #[serde(default)]
    pub(crate) reject_escaped_percent: bool,
    #[serde(default)]
    pub(crate) reject_path_parameters: bool,
    #[serde(default)]
    pub(crate) rules: Vec<FileRouteRule>,
    /// Browsers without a session are sent to `/authorize` instead of getting a `401`.
    #[serde(default)]
    pub(crate) login_redirect: bool,
    /// The client `/authorize` is asked for by those redirects.
    pub(crate) login_client: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileRouteRule {
    pub(crate) prefix: String,
    pub(crate) methods: Option<Vec<String>>,
    pub(crate) policy: String,
    #[serde(default)]
    pub(crate) websocket: bool,
    pub(crate) login_redirect: Option<bool>,
    /// Alternatives: the request passes when any holds, an alternative when all its conditions do.
    pub(crate) allow: Option<Vec<FileAllow>>,
}

/// `audit`: where the audit trail goes, and whether failed logins name their username.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileAudit {
    pub(crate) file: Option<String>,
    #[serde(default)]
    pub(crate) log_failed_usernames: bool,
}

/// `forward_auth`: the decision as a service, for proxies in front (nginx, Traefik, Caddy, Envoy).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileForwardAuth {
    #[serde(default)]
    pub(crate) enabled: bool,
}

/// One alternative of `routes.rules[].allow` (every list empty unless given).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FileAllow {
    pub(crate) groups: Vec<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) permissions: Vec<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) clients: Vec<String>,
    pub(crate) claims: BTreeMap<String, OneOrMany>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileBackend {
    pub(crate) url: String,
    #[serde(default)]
    pub(crate) embedded_echo: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileTenant {
    pub(crate) url: String,
    #[serde(default)]
    pub(crate) embedded: bool,
    pub(crate) issuer: Option<String>,
    pub(crate) connect_timeout_ms: Option<u64>,
    pub(crate) request_timeout_ms: Option<u64>,
    pub(crate) ca_file: Option<String>,
    #[serde(default)]
    pub(crate) paths: FileTenantPaths,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileTls {
    pub(crate) cert_file: String,
    pub(crate) key_file: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileTenantPaths {
    pub(crate) token: Option<String>,
    pub(crate) ro: Option<String>,
    pub(crate) userinfo: Option<String>,
    pub(crate) revoke: Option<String>,
    pub(crate) jwks: Option<String>,
    pub(crate) authorize: Option<String>,
    pub(crate) logout: Option<String>,
    pub(crate) end_session: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileSession {
    pub(crate) duration_seconds: Option<u64>,
    pub(crate) cookie_name: Option<String>,
    pub(crate) refresh_expired_grace_seconds: Option<u64>,
    pub(crate) encryption_key: Option<String>,
    pub(crate) cookie: Option<String>,
    pub(crate) revocations_max: Option<usize>,
    pub(crate) silent_refresh: Option<bool>,
    pub(crate) refresh_before_seconds: Option<u64>,
    pub(crate) refresh_reuse_seconds: Option<u64>,
    pub(crate) backchannel_logout_path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileIdToken {
    #[serde(default)]
    pub(crate) reissue: bool,
    pub(crate) signing_key_file: Option<String>,
    pub(crate) signing_key: Option<String>,
    pub(crate) previous_key_file: Option<String>,
    pub(crate) previous_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileStore {
    pub(crate) redis: Option<FileRedis>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileRedis {
    pub(crate) mode: Option<String>,
    pub(crate) urls: Vec<String>,
    pub(crate) sentinel_master: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) key_prefix: Option<String>,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) on_error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileClient {
    pub(crate) secret: OneOrMany,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<String>,
    pub(crate) audience: Option<String>,
    #[serde(default)]
    pub(crate) scopes: Vec<String>,
    pub(crate) connections: Vec<String>,
    pub(crate) default_connection: Option<String>,
    pub(crate) same_site: Option<String>,
    pub(crate) token_response: Option<String>,
    #[serde(default)]
    pub(crate) allowed_origins: Vec<String>,
    #[serde(default)]
    pub(crate) logout_urls: Vec<String>,
    pub(crate) legacy_ro: Option<String>,
    pub(crate) token_auth_method: Option<String>,
    pub(crate) private_key_file: Option<String>,
    pub(crate) private_key: Option<String>,
    #[serde(default)]
    pub(crate) resources: Vec<String>,
    pub(crate) username_types: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub(crate) management: bool,
    /// Browser login: the gateway's callback as the tenant knows it.
    pub(crate) redirect_url: Option<String>,
    #[serde(default)]
    pub(crate) authorize_state_required: bool,
    /// End the tenant's session on logout: `v2` or `oidc`.
    pub(crate) tenant_logout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileDevTenant {
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) access_token_ttl_seconds: Option<u64>,
    #[serde(default)]
    pub(crate) rotate_refresh_tokens: bool,
    pub(crate) refresh_reuse_interval_seconds: Option<u64>,
    pub(crate) password_hash: Option<String>,
    pub(crate) default_directory: Option<String>,
    pub(crate) groups_claim: Option<String>,
    pub(crate) roles_claim: Option<String>,
    pub(crate) management_scopes: Option<Vec<String>>,
    pub(crate) management_requests_per_minute: Option<u32>,
    #[serde(default)]
    pub(crate) users: Vec<FileDevUser>,
}

/// The tenant's Management API, for the user-management endpoints (auth0-client's `/users`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileManagement {
    pub(crate) url: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) default_connection: Option<String>,
    #[serde(default)]
    pub(crate) connections: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileDevUser {
    pub(crate) email: Option<String>,
    pub(crate) phone_number: Option<String>,
    pub(crate) otp: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) password_hash: Option<String>,
    pub(crate) connection: Option<String>,
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) blocked: bool,
    #[serde(default)]
    pub(crate) mfa: bool,
    pub(crate) email_verified: Option<bool>,
    #[serde(default)]
    pub(crate) groups: Vec<String>,
    #[serde(default)]
    pub(crate) roles: Vec<String>,
    #[serde(default)]
    pub(crate) permissions: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileLimits {
    #[serde(default)]
    pub(crate) trusted_proxies: Vec<String>,
    pub(crate) login: Option<FileRate>,
    pub(crate) login_attempts: Option<FileRate>,
    pub(crate) refresh_per_user: Option<FileRate>,
    pub(crate) backend_per_ip: Option<FileRate>,
    pub(crate) backend_per_user: Option<FileRate>,
    #[serde(default)]
    pub(crate) brute_force: FileBruteForce,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileRate {
    pub(crate) rate: String,
    pub(crate) burst: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileBruteForce {
    pub(crate) max_failures: Option<u32>,
    pub(crate) block_seconds: Option<u64>,
}
