//! Token verification with a cache: a token verified once costs a hash and a lookup until it
//! expires, not an RSA verification. Keyed by the token's SHA-256; never kept past its `exp`.

use super::jwt::{verify, Claims, Policy, VerifyError};
use crate::tenant::Jwks;
use moka::sync::Cache;
use moka::Expiry;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct UntilExp;

impl Expiry<[u8; 32], Arc<Claims>> for UntilExp {
    fn expire_after_create(&self, _: &[u8; 32], claims: &Arc<Claims>, _: Instant) -> Option<Duration> {
        let exp = claims.get("exp").and_then(|v| v.as_u64()).unwrap_or(0);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        Some(Duration::from_secs(exp.saturating_sub(now)))
    }
}

pub struct Verifier {
    jwks: Arc<Jwks>,
    policy: Policy,
    cache: Cache<[u8; 32], Arc<Claims>>,
}

impl Verifier {
    pub fn new(jwks: Arc<Jwks>, policy: Policy, capacity: u64) -> Self {
        let cache = Cache::builder().max_capacity(capacity).expire_after(UntilExp).build();
        Verifier { jwks, policy, cache }
    }

    pub async fn verify(&self, token: &str) -> Result<Arc<Claims>, VerifyError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = self.cache.get(&key) {
            return Ok(claims);
        }
        let claims = Arc::new(verify(token, &self.jwks, &self.policy).await?);
        self.cache.insert(key, claims.clone());
        Ok(claims)
    }
}
