//! What the dev tenant is told at start, as plain values: its own settings, the gateway's
//! clients as the tenant registers them, and its users.

use url::Url;

/// A secret value: shown by `expose`, never by `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `None`: the base URL the tenant is reached at, with a trailing `/`.
    pub issuer: Option<String>,
    pub audience: String,
    pub access_token_ttl_seconds: u64,
    pub rotate_refresh_tokens: bool,
    /// Auth0's refresh-token "Reuse Interval", with rotation on: for this many seconds after a
    /// refresh retired it, a family's most recently retired token still refreshes (a client
    /// that lost the answer may retry); any other reuse of a retired token revokes its family.
    /// `0`: never.
    pub refresh_reuse_interval_seconds: u64,
    /// A cheap argon2 setting (benchmarks), instead of the library's default.
    pub fast_password_hash: bool,
    pub default_directory: String,
    /// Claim carrying the user's groups in the tokens it issues.
    pub groups_claim: String,
    /// Claim carrying the user's roles in the tokens it issues (namespaced, as an Auth0 Action
    /// must name it).
    pub roles_claim: String,
    /// The scopes granted to the Management API client.
    pub management_scopes: Vec<String>,
    /// Management API calls allowed per minute per token (then `429`, as Auth0 limits them).
    pub management_requests_per_minute: u32,
    pub users: Vec<UserSettings>,
    /// The applications registered at the tenant.
    pub clients: Vec<ClientSettings>,
    /// The Management API's machine-to-machine client, when there is one.
    pub management: Option<ManagementClient>,
}

#[derive(Debug, Clone)]
pub struct UserSettings {
    /// Login name: the email, or the phone number of an `sms` user.
    pub email: String,
    /// The fixed one-time code of a passwordless (`sms`/`email`) user.
    pub otp: Option<Secret>,
    pub password: Password,
    pub connection: String,
    pub name: String,
    pub blocked: bool,
    pub mfa: bool,
    /// The tokens say `email_verified` with this value.
    pub email_verified: bool,
    pub groups: Vec<String>,
    /// RBAC roles, carried in `roles_claim`.
    pub roles: Vec<String>,
    /// RBAC permissions, carried in `permissions` as Auth0 does with "Add Permissions in the
    /// Access Token".
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Password {
    Plain(Secret),
    /// A PHC string (`$argon2id$...`).
    Hash(String),
}

/// How a client proves itself at the token endpoint.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    SecretPost,
    SecretBasic,
    /// `private_key_jwt`: the client's RSA private key in PEM (the tenant keeps its public key).
    PrivateKeyJwt {
        pem: Secret,
    },
}

#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub client_id: String,
    pub client_secret: Secret,
    pub auth: ClientAuth,
    /// The browser login's callback, accepted as a `redirect_uri`.
    pub redirect_url: Option<Url>,
    /// Where `/v2/logout` and `/oidc/logout` may send the browser back to.
    pub logout_urls: Vec<String>,
    /// The connections the client may log in with (empty: any).
    pub connections: Vec<String>,
    /// Where the tenant posts an OpenID Connect back-channel logout token when a login
    /// session the client took part in ends.
    pub backchannel_logout_uri: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ManagementClient {
    pub client_id: String,
    pub client_secret: Secret,
    /// Connection name → connection id, the connections known besides the users' own.
    pub connections: Vec<(String, String)>,
}
