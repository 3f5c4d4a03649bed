//! Discovery, so SDKs can treat the gateway as the tenant: `/.well-known/jwks.json` from the
//! key cache, and the tenant's `/.well-known/openid-configuration` with its token, userinfo
//! and JWKS endpoints pointing at the gateway's public URL when one is configured.

use crate::error::ApiError;
use crate::reply::Reply;
use crate::tenant::{Jwks, TenantClient};
use bytes::Bytes;
use moka::future::Cache;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub struct Discovery {
    tenant: TenantClient,
    jwks: Arc<Jwks>,
    public_url: Option<String>,
    document: Cache<(), Bytes>,
}

impl Discovery {
    pub fn new(tenant: TenantClient, jwks: Arc<Jwks>, public_url: Option<String>) -> Self {
        let document = Cache::builder().max_capacity(1).time_to_live(Duration::from_secs(600)).build();
        Discovery { tenant, jwks, public_url, document }
    }

    pub async fn jwks(&self) -> Reply {
        match self.jwks.current().await {
            Ok(set) => Reply::json_bytes(200, set.document.clone()).with_header("cache-control", "public, max-age=60"),
            Err(_) => {
                ApiError::new(503, "temporarily_unavailable", "The signing keys are not available yet.").into_reply()
            }
        }
    }

    pub async fn openid_configuration(&self) -> Reply {
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
            Ok::<_, crate::tenant::TenantError>(Bytes::from(serde_json::to_vec(&doc).expect("JSON")))
        };
        match self.document.try_get_with((), fetch).await {
            Ok(body) => Reply::json_bytes(200, body).with_header("cache-control", "public, max-age=60"),
            Err(e) => ApiError::from((*e).clone()).into_reply(),
        }
    }
}
