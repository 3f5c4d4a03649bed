//! Token verification with a cache: a token verified once costs a hash and a lookup until it
//! expires, not an RSA verification. Keyed by the token's SHA-256; never kept past its `exp`.
//! A revoked token (logout, on any replica) is refused before the cache is asked.
//! Only what the guard uses is kept (subject, `azp`, the identity header values already
//! rendered), and the cache is bounded by bytes, not entries.

use super::identity::identity_values;
use super::jwt::{verify, Policy, VerifyError};
use crate::config::Guard as GuardConfig;
use crate::session::Revocations;
use crate::tenant::Jwks;
use moka::sync::Cache;
use moka::Expiry;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the guard keeps of a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub exp: u64,
    pub subject: Option<Box<str>>,
    /// The client the token was issued to.
    pub azp: Option<Box<str>>,
    /// One value per configured identity header (same order); `None`: no header.
    pub identity: Box<[Option<Box<str>>]>,
}

impl Verified {
    /// Bytes an entry holds, for the cache's weigher: the key, the value, its strings, and
    /// moka's bookkeeping (measured: about 200 bytes an entry).
    fn weight(&self) -> u32 {
        const OVERHEAD: usize = 32 + 200 + std::mem::size_of::<Verified>();
        let strings = self.subject.as_deref().map_or(0, str::len)
            + self.azp.as_deref().map_or(0, str::len)
            + self.identity.iter().map(|v| 16 + v.as_deref().map_or(0, str::len)).sum::<usize>();
        (OVERHEAD + strings).min(u32::MAX as usize) as u32
    }
}

struct UntilExp;

impl Expiry<[u8; 32], Arc<Verified>> for UntilExp {
    fn expire_after_create(&self, _: &[u8; 32], v: &Arc<Verified>, _: Instant) -> Option<Duration> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        Some(Duration::from_secs(v.exp.saturating_sub(now)))
    }
}

pub struct Verifier {
    revocations: Arc<Revocations>,
    jwks: Arc<Jwks>,
    policy: Policy,
    guard: GuardConfig,
    cache: Cache<[u8; 32], Arc<Verified>>,
}

impl Verifier {
    /// `cache_bytes` bounds the verified-token cache.
    pub fn new(
        jwks: Arc<Jwks>,
        policy: Policy,
        guard: GuardConfig,
        cache_bytes: u64,
        revocations: Arc<Revocations>,
    ) -> Self {
        let cache = Cache::builder()
            .max_capacity(cache_bytes)
            .weigher(|_, v: &Arc<Verified>| v.weight())
            .expire_after(UntilExp)
            .build();
        Verifier { revocations, jwks, policy, guard, cache }
    }

    pub async fn verify(&self, token: &str) -> Result<Arc<Verified>, VerifyError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if self.revocations.is_revoked(&key) {
            return Err(VerifyError::Revoked);
        }
        if let Some(v) = self.cache.get(&key) {
            return Ok(v);
        }
        let claims = verify(token, &self.jwks, &self.policy).await?;
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(Box::from);
        let verified = Arc::new(Verified {
            exp: claims.get("exp").and_then(|v| v.as_u64()).unwrap_or(0),
            subject: text("sub"),
            azp: text("azp"),
            identity: identity_values(&self.guard, &claims),
        });
        self.cache.insert(key, verified.clone());
        Ok(verified)
    }

    /// Entries and weighed bytes held (tests, benchmarks).
    pub fn cache_usage(&self) -> (u64, u64) {
        self.cache.run_pending_tasks();
        (self.cache.entry_count(), self.cache.weighted_size())
    }
}
