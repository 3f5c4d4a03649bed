//! The demo's stand-ins for the outside world (the `authgate-dev` crate in `crates/dev`): an
//! Auth0-style dev tenant and an echo backend, and the one place that tells the dev tenant
//! what the gateway's configuration says.

pub use authgate_dev::echo;

pub mod tenant {
    //! The dev tenant, built from the gateway's configuration.
    use crate::config::{ClientAuth, Config, DevPassword, Secret};
    pub use authgate_dev::tenant::*;
    pub use authgate_dev::Signer;
    use authgate_dev::{ClientSettings, ManagementClient, Password, Settings, UserSettings};

    fn secret(s: &Secret) -> authgate_dev::Secret {
        authgate_dev::Secret(s.expose().to_string())
    }

    /// What the dev tenant must know of `config`: its `dev_tenant` section, the clients it
    /// registers, and the Management API's client.
    pub fn settings(config: &Config) -> Result<Settings, String> {
        let dev = config.dev_tenant.as_ref().ok_or("the configuration has no dev_tenant section")?;
        let users = dev.users.iter().map(|u| UserSettings {
            email: u.email.clone(),
            otp: u.otp.as_ref().map(secret),
            password: match &u.password {
                DevPassword::Plain(p) => Password::Plain(secret(p)),
                DevPassword::Hash(h) => Password::Hash(h.clone()),
            },
            connection: u.connection.clone(),
            name: u.name.clone(),
            blocked: u.blocked,
            mfa: u.mfa,
            email_verified: u.email_verified,
            groups: u.groups.clone(),
            roles: u.roles.clone(),
            permissions: u.permissions.clone(),
        });
        // Where the tenant sends its back-channel logouts: this gateway's listener (the embedded
        // tenant runs beside it), when it serves them.
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        let backchannel =
            config.session.backchannel_logout_path.as_ref().map(|path| format!("{scheme}://{}{path}", config.listen));
        let clients = config.clients.iter().map(|c| ClientSettings {
            backchannel_logout_uri: backchannel.clone(),
            client_id: c.client_id.clone(),
            client_secret: secret(&c.client_secret),
            auth: match &c.auth {
                ClientAuth::SecretPost => authgate_dev::ClientAuth::SecretPost,
                ClientAuth::SecretBasic => authgate_dev::ClientAuth::SecretBasic,
                ClientAuth::PrivateKeyJwt { pem, .. } => authgate_dev::ClientAuth::PrivateKeyJwt { pem: secret(pem) },
            },
            redirect_url: c.redirect_url.clone(),
            logout_urls: c.logout_urls.clone(),
            connections: c.connections.clone(),
        });
        Ok(Settings {
            issuer: dev.issuer.clone(),
            audience: dev.audience.clone(),
            access_token_ttl_seconds: dev.access_token_ttl_seconds,
            rotate_refresh_tokens: dev.rotate_refresh_tokens,
            refresh_reuse_interval_seconds: dev.refresh_reuse_interval_seconds,
            fast_password_hash: dev.fast_password_hash,
            default_directory: dev.default_directory.clone(),
            groups_claim: dev.groups_claim.clone(),
            roles_claim: dev.roles_claim.clone(),
            management_scopes: dev.management_scopes.clone(),
            management_requests_per_minute: dev.management_requests_per_minute,
            users: users.collect(),
            clients: clients.collect(),
            management: config.management.as_ref().map(|m| ManagementClient {
                client_id: m.client_id.clone(),
                client_secret: secret(&m.client_secret),
                connections: m.connections.clone(),
            }),
        })
    }

    /// The dev tenant of `config`, reachable at `base_url`.
    pub fn from_config(config: &Config, base_url: &str) -> Result<DevTenant, String> {
        DevTenant::new(settings(config)?, base_url)
    }
}
