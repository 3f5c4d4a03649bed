//! The validated configuration the rest of the gateway sees: it cannot be invalid.

use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::time::Duration;
use url::Url;

/// A secret string: never printed by `Debug`.
/// The limits on downstream connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectionLimits {
    /// Connections served at once; more are answered `503` and closed.
    pub(crate) max: usize,
    /// Connections served at once from one peer address (not a trusted proxy's); more are
    /// answered `429` and closed.
    pub(crate) max_per_ip: usize,
    /// From a request's first byte to the end of its header section.
    pub(crate) header_timeout: Duration,
    /// From the end of a request's header section to the end of its body.
    pub(crate) body_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request.
    pub(crate) idle_timeout: Duration,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) admin_listen: SocketAddr,
    pub(crate) threads: usize,
    pub(crate) grace_period_seconds: u64,
    pub(crate) max_body_bytes: usize,
    /// Limits on downstream connections.
    pub(crate) connections: ConnectionLimits,
    /// The gateway's public base URL, for discovery documents (`None`: keep the tenant's).
    pub(crate) public_url: Option<String>,
    /// TLS on the proxy listener.
    pub(crate) tls: Option<Tls>,
    pub(crate) backend: Backend,
    pub(crate) tenant: Tenant,
    pub(crate) dev_tenant: Option<DevTenant>,
    /// The tenant's Management API: the `/users` endpoints exist only with it.
    pub(crate) management: Option<Management>,
    pub session: SessionConfig,
    /// Where shared state lives: `None`, in this process (one replica).
    pub(crate) store: Option<RedisStore>,
    /// Re-sign the tenant's id_tokens with the gateway's own key (`iss` = `public_url/`).
    pub(crate) id_token: Option<IdTokenKeys>,
    pub(crate) guard: Guard,
    pub routes: Routes,
    pub(crate) limits: super::rate::LimitsConfig,
    pub clients: Vec<Client>,
    pub(crate) audit: Audit,
}

/// The audit trail (`audit`): appended to `file` (stdout without one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Audit {
    pub(crate) file: Option<std::path::PathBuf>,
    pub(crate) log_failed_usernames: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Guard {
    /// A token's `aud` must contain one of these.
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Vec<jsonwebtoken::Algorithm>,
    pub(crate) leeway_seconds: u64,
    pub(crate) jwks_ttl: Duration,
    pub(crate) jwks_min_refetch: Duration,
    /// Bytes the verified-token cache may hold.
    pub(crate) token_cache_bytes: u64,
    /// Send identity headers mapped to the `email` claim only when `email_verified` is true.
    pub(crate) require_email_verified: bool,
    pub(crate) groups_claim: String,
    /// The claim holding the user's roles (an Auth0 Action sets a namespaced one).
    pub(crate) roles_claim: String,
    /// The claims route rules read (kept with each verified token); empty without `allow` rules.
    pub(crate) authz_claims: Vec<String>,
    /// (header, claim) pairs; every header here is stripped from incoming requests.
    pub(crate) identity_headers: Vec<(http::HeaderName, String)>,
    /// Header carrying the client's name when a valid `secret` header came with the request.
    pub(crate) client_header: http::HeaderName,
    pub(crate) cookie_to_bearer: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// No token needed.
    Public,
    /// A valid user token (Bearer or session cookie).
    Authenticated,
    /// A valid `secret` header.
    Secret,
}

#[derive(Debug, Clone)]
pub(crate) struct RouteRule {
    /// Normalised, without a trailing slash; the root is `""`.
    pub(crate) prefix: String,
    /// Upper-case methods; empty: every method.
    pub(crate) methods: Vec<String>,
    pub(crate) policy: Policy,
    /// Connection upgrades (WebSocket) are allowed on this route.
    pub(crate) websocket: bool,
    /// Browsers without a session are redirected to `/authorize` (this rule's or the global
    /// `routes.login_redirect`).
    pub(crate) login_redirect: bool,
    /// Who may pass (`allow`): any alternative holding lets the request through. Empty: anyone
    /// the policy lets through.
    pub(crate) allow: Vec<super::Alternative>,
}

#[derive(Debug, Clone)]
pub struct Routes {
    pub(crate) default: Policy,
    /// Refusals on top of the path normaliser's fixed ones.
    pub strictness: crate::routing::path::Strictness,
    pub(crate) rules: Vec<RouteRule>,
    /// The `/users` management endpoints are the gateway's (a `management` block is set).
    pub(crate) user_management: bool,
    /// The client browsers are sent to `/authorize` for (with `login_redirect`).
    pub(crate) login_client: Option<String>,
    /// The forward-auth endpoints (`/authz/…`) are the gateway's (`forward_auth.enabled`).
    pub(crate) forward_auth: bool,
    /// The callback paths the gateway serves: (path, client name).
    pub(crate) callbacks: Vec<(String, String)>,
    /// `session.backchannel_logout_path`, when set.
    pub(crate) backchannel_logout: Option<String>,
    /// `routes.login_redirect`, for the default policy (no rule matched).
    pub(crate) default_login_redirect: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Backend {
    pub(crate) url: Url,
    /// `host:port` to connect to.
    pub(crate) address: String,
    pub(crate) tls: bool,
    /// Host name for SNI and certificate checks.
    pub(crate) sni: String,
    pub(crate) embedded_echo: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    /// Base URL, without a trailing slash.
    pub(crate) base_url: Url,
    pub(crate) embedded: bool,
    /// `iss` of the tokens the tenant issues (Auth0: base URL with a trailing `/`).
    pub(crate) issuer: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    /// Extra CA certificates (PEM) trusted for the tenant, besides the system's.
    pub(crate) ca_bundle: Option<Vec<u8>>,
    pub(crate) token_url: Url,
    pub(crate) ro_url: Url,
    pub(crate) userinfo_url: Url,
    pub(crate) revoke_url: Url,
    pub(crate) jwks_url: Url,
    pub(crate) authorize_url: Url,
    /// Auth0's `/v2/logout`.
    pub(crate) logout_url: Url,
    /// The OIDC `end_session_endpoint`.
    pub(crate) end_session_url: Url,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tls {
    pub(crate) cert_file: String,
    pub(crate) key_file: String,
}

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub(crate) duration_seconds: u64,
    pub cookie_name: String,
    /// How long after its `exp` an access token may still be shown to `/oauth/refreshtoken`.
    pub(crate) refresh_expired_grace_seconds: u64,
    /// Key sealing the refresh tokens kept in sessions (AES-256-GCM).
    pub(crate) encryption_key: Option<Secret>,
    /// What the cookie carries.
    pub(crate) cookie: CookieMode,
    /// Revoked tokens and session ids a replica keeps before it refuses new sessions.
    pub(crate) revocations_max: usize,
    /// A backend request whose session token is about to expire (or expired within the grace)
    /// refreshes the session in passing.
    pub(crate) silent_refresh: bool,
    /// How long before its `exp` a session's token is refreshed in passing (at most half its
    /// lifetime).
    pub(crate) refresh_before_seconds: u64,
    /// How long the outcome of a session's refresh is handed to the other callers that
    /// refreshed the same session at the same time (0: not shared).
    pub(crate) refresh_reuse_seconds: u64,
    /// Where the tenant sends OpenID Connect back-channel logouts; `None`: not served.
    pub(crate) backchannel_logout_path: Option<String>,
}

/// The gateway's id_token keys (RSA, PEM): the current one signs; the previous one, during a
/// rotation, is only published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdTokenKeys {
    pub(crate) current: Secret,
    pub(crate) previous: Option<Secret>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CookieMode {
    /// The access token itself (auth0-client's behaviour).
    Token,
    /// A random session id; the gateway puts the session's access token on backend requests.
    Opaque,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedisMode {
    Standalone,
    Sentinel,
    Cluster,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnStoreError {
    /// Limits let requests through while the store is unreachable.
    Allow,
    /// Limits refuse requests (503) while the store is unreachable.
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedisStore {
    pub(crate) mode: RedisMode,
    pub(crate) urls: Vec<String>,
    pub(crate) sentinel_master: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Secret>,
    pub(crate) key_prefix: String,
    pub(crate) timeout: Duration,
    pub(crate) on_error: OnStoreError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenResponse {
    /// `{accessToken, refreshToken, idToken, expireAt}` (Mia-Platform's auth0-client).
    CamelCase,
    /// The standard OAuth 2.0 token response, as the tenant itself answers.
    OAuth2,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) name: String,
    /// SHA-256 of each accepted `secret` header value (several during rotation).
    pub(crate) secret_digests: Vec<[u8; 32]>,
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
    pub(crate) audience: Option<String>,
    /// Scopes the client may ask for (also the default when it asks for none), without `website`.
    pub(crate) scopes: Vec<String>,
    /// `website` was among the configured scopes: answer logins with the session cookie.
    pub(crate) website: bool,
    pub(crate) connections: Vec<String>,
    pub(crate) default_connection: Option<String>,
    pub same_site: Option<SameSite>,
    pub(crate) token_response: TokenResponse,
    /// Origins (`https://app.example.com`) allowed to send state-changing requests with the cookie.
    pub(crate) allowed_origins: Vec<String>,
    /// URLs `/logout` may redirect to (`returnTo`).
    pub(crate) logout_urls: Vec<String>,
    /// What `/oauth/ro` does with database logins.
    pub(crate) legacy_ro: LegacyRo,
    /// How the gateway proves to the tenant that it is this client.
    pub(crate) auth: ClientAuth,
    /// Audiences a Passwords API `resource` may name besides `audience`.
    pub(crate) resources: Vec<String>,
    /// Passwords API `username_type` → connection.
    pub(crate) username_types: Vec<(String, String)>,
    /// May call the management endpoints (`/users…`, `/sessions/…`).
    pub(crate) management: bool,
    /// Browser login: the gateway's callback URL as the tenant knows it (its path is served).
    pub(crate) redirect_url: Option<Url>,
    /// `/authorize` takes the caller's `state` (required) instead of making one.
    pub(crate) authorize_state_required: bool,
    /// Logout also ends the tenant's session.
    pub(crate) tenant_logout: Option<TenantLogout>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TenantLogout {
    /// Auth0's `/v2/logout?client_id=…&returnTo=…`.
    V2,
    /// OIDC `end_session_endpoint?client_id=…&post_logout_redirect_uri=…`.
    Oidc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegacyRo {
    /// Translate to the modern grants (password-realm, passwordless OTP).
    Translate,
    /// Send the call to the tenant's own `/oauth/ro` unchanged.
    Forward,
}

/// Client authentication to the tenant's token endpoint.
#[derive(Clone)]
pub(crate) enum ClientAuth {
    /// `client_secret` in the form body.
    SecretPost,
    /// HTTP Basic `client_id:client_secret`.
    SecretBasic,
    /// A `client_assertion` JWT signed with the client's private key (kept as PEM too, so
    /// the dev tenant can derive the public key).
    PrivateKeyJwt { key: std::sync::Arc<jsonwebtoken::EncodingKey>, pem: Secret },
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClientAuth::SecretPost => "client_secret_post",
            ClientAuth::SecretBasic => "client_secret_basic",
            ClientAuth::PrivateKeyJwt { .. } => "private_key_jwt",
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct DevTenant {
    /// `None`: the base URL the dev tenant is reached at, with a trailing `/`.
    pub(crate) issuer: Option<String>,
    pub(crate) audience: String,
    pub(crate) access_token_ttl_seconds: u64,
    pub(crate) rotate_refresh_tokens: bool,
    pub(crate) refresh_reuse_interval_seconds: u64,
    pub(crate) fast_password_hash: bool,
    pub(crate) default_directory: String,
    /// Claim carrying the user's groups in the tokens it issues.
    pub(crate) groups_claim: String,
    /// Claim carrying the user's roles in the tokens it issues.
    pub(crate) roles_claim: String,
    /// The scopes the dev tenant grants the Management API client.
    pub(crate) management_scopes: Vec<String>,
    /// Management API calls allowed per minute per token (then `429`, as Auth0 limits them).
    pub(crate) management_requests_per_minute: u32,
    pub(crate) users: Vec<DevUser>,
}

#[cfg(test)]
impl Routes {
    /// Routes for tests: `authenticated` by default, user management on, a `/callback` for the
    /// `website` client, and a plain rule (any method, no websocket, no login redirect) per
    /// `(prefix, policy)`.
    pub(crate) fn for_tests(rules: &[(&str, Policy)]) -> Routes {
        let rule = |(prefix, policy): &(&str, Policy)| RouteRule {
            prefix: prefix.to_string(),
            methods: vec![],
            policy: *policy,
            websocket: false,
            login_redirect: false,
            allow: vec![],
        };
        Routes {
            default: Policy::Authenticated,
            strictness: crate::routing::path::Strictness::default(),
            user_management: true,
            login_client: None,
            forward_auth: true,
            callbacks: vec![("/callback".into(), "website".into())],
            backchannel_logout: Some("/backchannel-logout".into()),
            default_login_redirect: false,
            rules: rules.iter().map(rule).collect(),
        }
    }
}

/// The tenant's Management API v2 and the machine-to-machine application the gateway uses.
#[derive(Debug, Clone)]
pub(crate) struct Management {
    /// `https://<tenant>/api/v2`, no trailing slash.
    pub(crate) url: Url,
    /// The Management API identifier the token is asked for (`https://<tenant>/api/v2/`).
    pub(crate) audience: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
    pub(crate) default_connection: Option<String>,
    /// Connection name → the tenant's connection id (imports need the id).
    pub(crate) connections: Vec<(String, String)>,
}

impl Management {
    /// Whether the endpoints may touch `connection`: one the block lists or its default; with
    /// neither, every connection.
    pub(crate) fn manages(&self, connection: &str) -> bool {
        !self.restricted()
            || self.connection_id(connection).is_some()
            || self.default_connection.as_deref() == Some(connection)
    }

    /// Whether the block limits the gateway to some connections (it names any).
    pub(crate) fn restricted(&self) -> bool {
        !self.connections.is_empty() || self.default_connection.is_some()
    }

    /// The connection id of a connection name the management block lists.
    pub(crate) fn connection_id(&self, name: &str) -> Option<&str> {
        self.connections.iter().find(|(n, _)| n == name).map(|(_, id)| id.as_str())
    }
}

/// The Management API scopes the dev tenant grants by default, one per kind of call.
pub(crate) const MANAGEMENT_SCOPES: &[&str] =
    &["read:users", "create:users", "update:users", "delete:users", "create:users_imports", "read:users_imports"];

#[derive(Debug, Clone)]
pub(crate) enum DevPassword {
    Plain(Secret),
    /// A PHC string (`$argon2id$...`).
    Hash(String),
}

#[derive(Debug, Clone)]
pub(crate) struct DevUser {
    /// Login name: the email, or the phone number of an `sms` user.
    pub(crate) email: String,
    /// The fixed one-time code of a passwordless (`sms`/`email`) user (demo only).
    pub(crate) otp: Option<Secret>,
    pub(crate) password: DevPassword,
    pub(crate) connection: String,
    pub(crate) name: String,
    pub(crate) blocked: bool,
    pub(crate) mfa: bool,
    /// The tokens say `email_verified` with this value.
    pub(crate) email_verified: bool,
    pub(crate) groups: Vec<String>,
    /// Carried in the tokens' roles claim (Auth0: an Action copies the user's RBAC roles).
    pub(crate) roles: Vec<String>,
    /// Carried in the tokens' `permissions` (Auth0: RBAC with "Add Permissions in the Access Token").
    pub(crate) permissions: Vec<String>,
}

pub(crate) fn secret_digest(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

impl Config {
    pub(crate) fn client_by_name(&self, name: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.name == name)
    }

    pub(crate) fn client_by_id(&self, client_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    /// The client that calls: the one whose `secret` header the request carries. The one way
    /// every endpoint and the guard tell the calling application.
    pub(crate) fn caller(&self, headers: &http::HeaderMap) -> Option<&Client> {
        headers.get("secret").and_then(|s| self.client_by_secret(s.as_bytes()))
    }

    /// The client whose `secret` this is. Every configured secret is compared, in constant
    /// time, over fixed-length digests, so neither timing nor length tells which one matched.
    pub fn client_by_secret(&self, presented: &[u8]) -> Option<&Client> {
        use subtle::ConstantTimeEq;
        let digest = secret_digest(presented);
        let mut found = None;
        for client in &self.clients {
            for d in &client.secret_digests {
                if bool::from(d.ct_eq(&digest)) {
                    found = Some(client);
                }
            }
        }
        found
    }
}
