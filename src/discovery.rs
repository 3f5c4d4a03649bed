//! Discovery, so SDKs can treat the gateway as the tenant: `/.well-known/jwks.json` from the
//! key cache, and the tenant's `/.well-known/openid-configuration` with its token, userinfo
//! and JWKS endpoints pointing at the gateway's public URL when one is configured. With
//! re-issued id_tokens, the JWKS carries the gateway's keys too and the issuer is the gateway.

use crate::http::error::ApiError;
use crate::http::exchange::Reply;
use crate::idtoken::IdTokens;
use crate::tenant_client::{Jwks, TenantClient};
use bytes::Bytes;
use moka::future::Cache;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub(crate) struct Discovery {
    tenant: TenantClient,
    jwks: Arc<Jwks>,
    public_url: Option<String>,
    id_tokens: Option<Arc<IdTokens>>,
    document: Cache<(), Bytes>,
}

impl Discovery {
    pub(crate) fn new(
        tenant: TenantClient,
        jwks: Arc<Jwks>,
        public_url: Option<String>,
        id_tokens: Option<Arc<IdTokens>>,
    ) -> Self {
        let document = Cache::builder().max_capacity(1).time_to_live(Duration::from_secs(600)).build();
        Discovery { tenant, jwks, public_url, id_tokens, document }
    }

    /// The tenant's keys (for access tokens), and the gateway's own (for its id_tokens).
    fn merged_jwks(&self, tenant_document: &Bytes) -> Bytes {
        let Some(own) = &self.id_tokens else { return tenant_document.clone() };
        let mut doc: serde_json::Map<String, Value> = serde_json::from_slice(tenant_document).unwrap_or_default();
        let keys = doc.entry("keys").or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(list) = keys {
            list.extend(own.jwks().cloned());
        }
        Bytes::from(serde_json::to_vec(&doc).expect("JSON"))
    }

    pub(crate) async fn jwks(&self) -> Reply {
        match self.jwks.current().await {
            Ok(set) => Reply::json_bytes(200, self.merged_jwks(&set.document))
                .with_header("cache-control", "public, max-age=60"),
            Err(_) => ApiError::unavailable("The signing keys are not available yet.", 1).into_reply(),
        }
    }

    pub(crate) async fn openid_configuration(&self) -> Reply {
        let fetch = async {
            let mut doc = self.tenant.openid_configuration().await?;
            if let Some(base) = &self.public_url {
                for (key, path) in [
                    ("token_endpoint", "/oauth/token"),
                    ("userinfo_endpoint", "/userinfo"),
                    ("jwks_uri", "/.well-known/jwks.json"),
                ] {
                    doc.insert(key.to_string(), Value::String(format!("{base}{path}")));
                }
            }
            if let Some(own) = &self.id_tokens {
                doc.insert("issuer".to_string(), Value::String(own.issuer().to_string()));
            }
            Ok::<_, crate::tenant_client::TenantError>(Bytes::from(serde_json::to_vec(&doc).expect("JSON")))
        };
        match self.document.try_get_with((), fetch).await {
            Ok(body) => Reply::json_bytes(200, body).with_header("cache-control", "public, max-age=60"),
            Err(e) => ApiError::from((*e).clone()).into_reply(),
        }
    }
}
