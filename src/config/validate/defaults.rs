//! Every value the configuration takes when a key is left out, in one place (docs/configuration.md
//! lists the same). Keys whose default is one of a few words (`session.cookie: token`,
//! `store.redis.mode: standalone`, `clients.NAME.token_response: camel_case`…) get it from the
//! `None` arm of their `match`; `dev_tenant.management_scopes` defaults to `model::MANAGEMENT_SCOPES`.

// The listeners and the process.

/// `listen`: the proxy's address.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// `admin_listen`: `/healthz`, `/readyz` and `/metrics`.
pub(crate) const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9090";
/// `threads`: pingora worker threads of the proxy.
pub(crate) const DEFAULT_THREADS: usize = 1;
/// `grace_period_seconds`: on SIGTERM, the longest wait for requests in flight.
pub(crate) const DEFAULT_GRACE_PERIOD_SECONDS: u64 = 10;
/// `max_body_bytes`: the largest body of a request the gateway answers itself (64 KiB).
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

// `connections`

/// `connections.max`: connections served at once; each idle keep-alive connection holds about 40 KB.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 2048;
/// `connections.max_per_ip`: connections at once from one address (an IPv6 /64) that is not a
/// trusted proxy: a sixteenth of the default `max`, so one host cannot take every slot.
pub(crate) const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 128;
/// `connections.header_timeout_ms`: from a request's first byte to the end of its headers.
pub(crate) const DEFAULT_HEADER_TIMEOUT_MS: u64 = 10_000;
/// `connections.body_timeout_ms`: from the end of a request's headers to the end of its body,
/// for the gateway's own endpoints and for bodies streamed to the backend.
pub(crate) const DEFAULT_BODY_TIMEOUT_MS: u64 = 30_000;
/// `connections.idle_timeout_ms`: how long a connection may wait for its (next) request.
pub(crate) const DEFAULT_IDLE_TIMEOUT_MS: u64 = 60_000;

// `tenant`

/// `tenant.connect_timeout_ms`: connecting to the tenant.
pub(crate) const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 2_000;
/// `tenant.request_timeout_ms`: a whole tenant call.
pub(crate) const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;
/// `tenant.paths.token`
pub(crate) const DEFAULT_TOKEN_PATH: &str = "/oauth/token";
/// `tenant.paths.ro`
pub(crate) const DEFAULT_RO_PATH: &str = "/oauth/ro";
/// `tenant.paths.userinfo`
pub(crate) const DEFAULT_USERINFO_PATH: &str = "/userinfo";
/// `tenant.paths.revoke`
pub(crate) const DEFAULT_REVOKE_PATH: &str = "/oauth/revoke";
/// `tenant.paths.jwks`: the tenant's keys.
pub(crate) const DEFAULT_JWKS_PATH: &str = "/.well-known/jwks.json";
/// `tenant.paths.authorize`: the tenant's login page.
pub(crate) const DEFAULT_AUTHORIZE_PATH: &str = "/authorize";
/// `tenant.paths.logout`: Auth0's logout (`tenant_logout: v2`).
pub(crate) const DEFAULT_LOGOUT_PATH: &str = "/v2/logout";
/// `tenant.paths.end_session`: the OpenID Connect end-session endpoint (`tenant_logout: oidc`).
pub(crate) const DEFAULT_END_SESSION_PATH: &str = "/oidc/logout";

// `management`

/// `management.url` is `tenant.url` followed by this: the Management API v2.
pub(crate) const DEFAULT_MANAGEMENT_API_PATH: &str = "/api/v2";

// `session` and `store`

/// `session.revocations_max`: revoked tokens and session ids a replica keeps (about 20 bytes
/// each: 40 MB) before it refuses new sessions; see docs/sessions.md for the sizing.
pub(crate) const DEFAULT_REVOCATIONS_MAX: usize = 2_000_000;
/// `session.duration_seconds` when `SESSION_DURATION_SECONDS` is not set either: one day.
pub(crate) const DEFAULT_SESSION_DURATION_SECONDS: u64 = 86_400;
/// `session.cookie_name`
pub(crate) const DEFAULT_SESSION_COOKIE_NAME: &str = "sid";
/// How long after its `exp` an access token may still be shown to `/oauth/refreshtoken`.
pub(crate) const DEFAULT_REFRESH_EXPIRED_GRACE_SECONDS: u64 = 86_400;
/// `session.refresh_before_seconds`: a minute before the token's `exp`.
pub(crate) const DEFAULT_REFRESH_BEFORE_SECONDS: u64 = 60;
/// `session.refresh_reuse_seconds`: what the concurrent callers of one refresh share it for.
pub(crate) const DEFAULT_REFRESH_REUSE_SECONDS: u64 = 10;
/// `store.redis.key_prefix`: the prefix of every key.
pub(crate) const DEFAULT_REDIS_KEY_PREFIX: &str = "authgate:";
/// `store.redis.timeout_ms`: the longest one store operation may take.
pub(crate) const DEFAULT_REDIS_TIMEOUT_MS: u64 = 200;

// `routes`

/// `routes.default`: the policy of paths no rule matches.
pub(crate) const DEFAULT_ROUTE_POLICY: &str = "authenticated";

// `guard`

/// `guard.algorithms`: the one JWT algorithm allowed.
pub(crate) const DEFAULT_ALGORITHM: &str = "RS256";
/// `guard.leeway_seconds`: clock skew allowed on `exp` and `nbf`.
pub(crate) const DEFAULT_LEEWAY_SECONDS: u64 = 30;
/// `guard.jwks_ttl_seconds`: how long fetched keys are kept.
pub(crate) const DEFAULT_JWKS_TTL_SECONDS: u64 = 600;
/// `guard.jwks_min_refetch_seconds`: at most one unknown-`kid` refetch per this interval.
pub(crate) const DEFAULT_JWKS_MIN_REFETCH_SECONDS: u64 = 30;
/// `guard.token_cache_bytes`: about 40,000 verified tokens: fits a 64 MiB sidecar with room to spare.
pub(crate) const DEFAULT_TOKEN_CACHE_BYTES: u64 = 16 * 1024 * 1024;
/// `guard.require_email_verified`: send the email only when the token says it is verified.
pub(crate) const DEFAULT_REQUIRE_EMAIL_VERIFIED: bool = true;
/// `guard.groups_claim` (and so `dev_tenant.groups_claim`): the claim holding the user's groups.
pub(crate) const DEFAULT_GROUPS_CLAIM: &str = "https://authgate.local/groups";
/// `guard.roles_claim` (and so `dev_tenant.roles_claim`): the claim holding the user's roles.
/// Namespaced: Auth0 drops a custom claim named plainly `roles`.
pub(crate) const DEFAULT_ROLES_CLAIM: &str = "https://authgate.local/roles";
/// In the default `guard.identity_headers`: the header carrying the `sub` claim.
pub(crate) const DEFAULT_USER_ID_HEADER: &str = "x-user-id";
/// In the default `guard.identity_headers`: the header carrying the `email` claim.
pub(crate) const DEFAULT_USER_EMAIL_HEADER: &str = "x-user-email";
/// In the default `guard.identity_headers`: the header carrying the `guard.groups_claim` claim.
pub(crate) const DEFAULT_USER_GROUPS_HEADER: &str = "x-user-groups";
/// `guard.client_header`: the header carrying the client's name when a valid `secret` came along.
pub(crate) const DEFAULT_CLIENT_HEADER: &str = "x-client-type";

// `limits`

/// `limits.login.rate`: per (client, client IP) on the login endpoints.
pub(crate) const DEFAULT_LOGIN_RATE: &str = "10/s";
/// `limits.login.burst`
pub(crate) const DEFAULT_LOGIN_BURST: u32 = 50;
/// `limits.refresh_per_user.rate`: refreshes per user, fleet-wide with a store. Each refresh
/// adds a revocation (the replaced token) that lives as long as that token: this bounds what
/// one account can add (docs/sessions.md §3a).
pub(crate) const DEFAULT_REFRESH_PER_USER_RATE: &str = "120/hour";
/// `limits.refresh_per_user.burst`
pub(crate) const DEFAULT_REFRESH_PER_USER_BURST: u32 = 30;
/// `limits.login_attempts.rate`: per (username, client IP) on password attempts.
pub(crate) const DEFAULT_LOGIN_ATTEMPTS_RATE: &str = "20/min";
/// `limits.login_attempts.burst`
pub(crate) const DEFAULT_LOGIN_ATTEMPTS_BURST: u32 = 20;
/// `limits.brute_force.max_failures`: consecutive wrong passwords before the block.
pub(crate) const DEFAULT_MAX_FAILURES: u32 = 10;
/// `limits.brute_force.block_seconds`: how long the block lasts.
pub(crate) const DEFAULT_BLOCK_SECONDS: u64 = 900;
/// The longest `block_seconds` accepted: 30 days (a longer block is an account lock, the
/// tenant's job).
pub(crate) const MAX_BLOCK_SECONDS: u64 = 30 * 86_400;

// `clients`

/// `clients.NAME.username_types`: these username types, each mapped to `default_connection`.
pub(crate) const DEFAULT_USERNAME_TYPES: [&str; 2] = ["username", "email"];

// `dev_tenant`

/// `dev_tenant.default_directory`: the connection of `grant_type=password` without a realm.
pub(crate) const DEFAULT_DIRECTORY: &str = "Username-Password-Authentication";
/// `dev_tenant.users[].connection` of a user given by `phone_number` (a passwordless one).
pub(crate) const DEFAULT_PHONE_CONNECTION: &str = "sms";
/// `dev_tenant.audience`: the audience when the caller asks for none.
pub(crate) const DEFAULT_DEV_AUDIENCE: &str = "https://api.authgate.local";
/// `dev_tenant.access_token_ttl_seconds`: `expires_in` of its tokens (one day).
pub(crate) const DEFAULT_DEV_ACCESS_TOKEN_TTL_SECONDS: u64 = 86_400;
/// `dev_tenant.management_requests_per_minute`: Auth0's own limit for a free tenant's Management
/// API is lower; this one only stops a runaway loop.
pub(crate) const DEFAULT_MANAGEMENT_REQUESTS_PER_MINUTE: u32 = 6_000;
/// `dev_tenant.users[].email_verified`
pub(crate) const DEFAULT_DEV_EMAIL_VERIFIED: bool = true;
