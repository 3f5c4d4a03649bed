//! Re-issued id_tokens: Auth0 SDKs accept an id_token only when its `iss` is
//! `https://<the domain they were given>/` and its signature verifies against that domain's
//! `/.well-known/jwks.json`. Behind the gateway that domain is the gateway's, so with
//! `id_token.reissue` the gateway verifies the tenant's id_token (signature, `iss`, `aud`),
//! then signs the same claims with its own RS256 key, `iss` = `public_url/` and `aud` = the
//! client's `client_id`, and publishes its keys beside the tenant's. Access tokens are not
//! touched: the guard keeps verifying them against the tenant.

use crate::config::{Client, Config};
use crate::http::error::ApiError;
use crate::jwt::signing::Signer;
use crate::jwt::{verify, Claims, TokenChecks};
use crate::tenant_client::Jwks;
use serde_json::Value;

pub(crate) struct IdTokens {
    /// Signs; published.
    current: Signer,
    /// A rotation's old key: published, no longer signs.
    previous: Option<Signer>,
    issuer: String,
}

impl IdTokens {
    /// `None` unless the configuration asks for re-issued id_tokens.
    pub(crate) fn from_config(config: &Config) -> Option<Self> {
        let keys = config.id_token.as_ref()?;
        let signer = |pem: &crate::config::Secret| Signer::from_pem(pem.expose()).expect("validated at load");
        Some(IdTokens {
            current: signer(&keys.current),
            previous: keys.previous.as_ref().map(signer),
            issuer: format!("{}/", config.public_url.as_deref().unwrap_or_default().trim_end_matches('/')),
        })
    }

    /// The gateway's own public keys, for its JWKS.
    pub(crate) fn jwks(&self) -> impl Iterator<Item = &Value> {
        std::iter::once(self.current.jwk()).chain(self.previous.as_ref().map(Signer::jwk))
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The claims of the tenant's id_token for `client`, once verified (`TokenChecks::id_tokens`).
    pub(crate) async fn verified(
        id_token: &str,
        client: &Client,
        jwks: &Jwks,
        config: &Config,
    ) -> Result<Claims, ApiError> {
        verify(id_token, jwks, &TokenChecks::id_tokens(config, client)).await.map_err(|e| {
            tracing::warn!(reason = %e, "the tenant's id_token did not verify");
            ApiError::bad_gateway("The identity provider's id_token could not be verified.")
        })
    }

    /// A verified id_token's `claims`, signed again as the gateway's for `client`.
    pub(crate) fn reissue(&self, mut claims: Claims, client: &Client) -> String {
        claims.insert("iss".into(), Value::String(self.issuer.clone()));
        claims.insert("aud".into(), Value::String(client.client_id.clone()));
        self.current.sign(&Value::Object(claims))
    }
}
