//! authgate: an authentication sidecar on pingora. It answers the login calls itself
//! against an Auth0-style tenant and proxies everything else to the backend.
// Items are `pub(crate)` unless the binary, the end-to-end tests, benches or examples need them.
#![warn(unreachable_pub)]

pub(crate) mod admin;
pub mod app;
pub(crate) mod audit;
pub(crate) mod authz;

/// `authgate explain`: the explanation of which rule decides `method` `path` for a request
/// carrying `token` (its claims read unverified) or `claims` (JSON) and `secret`; and whether
/// the rules let it through.
pub fn authz_explain(
    config: &config::Config,
    method: &str,
    path: &str,
    token: Option<&str>,
    claims: Option<&str>,
    secret: Option<&str>,
) -> Result<(String, bool), String> {
    let claims = match (token, claims) {
        (Some(t), _) => Some(jwt::unverified_claims(t).ok_or("--token: not a JWT whose payload is a JSON object")?),
        (None, Some(text)) => Some(
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
                .map_err(|e| format!("--claims: not a JSON object: {e}"))?,
        ),
        (None, None) => None,
    };
    let secret_client = match secret {
        Some(s) => Some(
            config
                .client_by_secret(s.as_bytes())
                .ok_or("--secret: no configured client has this secret")?
                .name
                .as_str(),
        ),
        None => None,
    };
    let method = method.to_ascii_uppercase();
    let asked = authz::explain::Asked { method: &method, target: path, claims, secret_client };
    let (mut text, allowed) = authz::explain::explain(config, &asked);
    if token.is_some() {
        text.push_str("  (the token's signature, expiry and audience were not checked: the guard checks them)\n");
    }
    Ok((text, allowed))
}
pub mod cli;
pub mod config;
pub mod dev;
pub(crate) mod discovery;
pub(crate) mod forward_auth;

pub mod guard;
pub(crate) mod http;
pub(crate) mod idtoken;
pub mod jwt;
pub mod limits;
pub mod login;
pub(crate) mod metrics;
pub(crate) mod otel;
pub(crate) mod process;
pub mod proxy;
pub(crate) mod reload;
pub(crate) mod request_scope;
pub(crate) mod revocations;
pub(crate) mod routing;
pub mod server;
pub mod session;
pub(crate) mod store;
pub mod telemetry;
pub(crate) mod tenant_client;
pub(crate) mod users;
