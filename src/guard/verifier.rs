//! Token verification with a cache: a token verified once costs a hash and a lookup until it
//! expires, not an RSA verification. Keyed by the token's SHA-256; never kept past its `exp`.
//! A revoked token (logout, on any replica) is refused before the cache is asked.
//! Only what the guard uses is kept (subject, `azp`, the identity header values already
//! rendered), and the cache is bounded by bytes, not entries.

use super::identity::identity_values;
use crate::config::Guard as GuardConfig;
use crate::jwt::{verify, TokenChecks, VerifyError};
use crate::revocations::Revocations;
use crate::tenant_client::Jwks;
use moka::sync::Cache;
use moka::Expiry;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the guard keeps of a verified token, in one string: the subject, `azp` and the
/// identity header values (one per configured header, same order), with their end offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    pub(crate) exp: u64,
    /// `iat` (0 when absent): with `exp`, the token's lifetime.
    iat: u64,
    text: Box<str>,
    /// Where each value ends in `text`; `ABSENT`: no such claim.
    ends: Box<[u32]>,
    /// The values of the claims route rules read (`guard.authz_claims`, same order): kept so
    /// that the rules are evaluated on every request without parsing the token again.
    authz: Box<[Box<[Box<str>]>]>,
}

const ABSENT: u32 = u32::MAX;

impl Verified {
    pub(crate) fn new(exp: u64, subject: Option<&str>, azp: Option<&str>, identity: &[Option<Box<str>>]) -> Self {
        let mut text = String::new();
        let mut ends = Vec::with_capacity(2 + identity.len());
        for value in [subject, azp].into_iter().chain(identity.iter().map(|v| v.as_deref())) {
            match value {
                Some(v) => {
                    text.push_str(v);
                    ends.push(text.len() as u32);
                }
                None => ends.push(ABSENT),
            }
        }
        Verified { exp, iat: 0, text: text.into_boxed_str(), ends: ends.into_boxed_slice(), authz: Box::new([]) }
    }

    /// With the token's `iat`.
    pub(crate) fn issued_at(self, iat: u64) -> Self {
        Verified { iat, ..self }
    }

    /// Whether a session token is due for a refresh in passing at `now`: within
    /// `before` seconds of its `exp`, or within half its lifetime (a token that lives shorter
    /// than `before` is not refreshed on every request).
    pub(crate) fn renewal_due(&self, now: u64, before: u64) -> bool {
        let lifetime = if self.iat > 0 { self.exp.saturating_sub(self.iat) } else { u64::MAX };
        self.exp <= now.saturating_add(before.min(lifetime / 2))
    }

    /// With the values of the claims route rules read.
    pub(crate) fn with_authz(self, authz: Box<[Box<[Box<str>]>]>) -> Self {
        Verified { authz, ..self }
    }

    /// The values of `guard.authz_claims`, for `authz::decide`.
    pub(crate) fn authz_claims(&self) -> &[Box<[Box<str>]>] {
        &self.authz
    }

    fn value(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index).filter(|e| **e != ABSENT)? as usize;
        let start = self.ends[..index].iter().rev().find(|e| **e != ABSENT).map_or(0, |e| *e as usize);
        self.text.get(start..end)
    }

    pub(crate) fn subject(&self) -> Option<&str> {
        self.value(0)
    }

    /// The client the token was issued to.
    pub(crate) fn azp(&self) -> Option<&str> {
        self.value(1)
    }

    /// The value of the `i`-th configured identity header, if the token has it.
    pub(crate) fn identity(&self, i: usize) -> Option<&str> {
        self.value(2 + i)
    }

    /// Bytes an entry holds, for the cache's weigher: the key, the value and its string, the
    /// allocator's and moka's bookkeeping. Measured with `examples/token_cache.rs`: about 560
    /// bytes an entry all told; 800 plus the strings keeps the budget an upper bound.
    fn weight(&self) -> u32 {
        const OVERHEAD: usize = 800;
        let authz: usize =
            self.authz.iter().map(|values| 16 + values.iter().map(|v| 16 + v.len()).sum::<usize>()).sum();
        (OVERHEAD + self.text.len() + 4 * self.ends.len() + authz).min(u32::MAX as usize) as u32
    }
}

struct UntilExp;

impl Expiry<[u8; 32], Arc<Verified>> for UntilExp {
    fn expire_after_create(&self, _: &[u8; 32], v: &Arc<Verified>, _: Instant) -> Option<Duration> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        Some(Duration::from_secs(v.exp.saturating_sub(now)))
    }
}

pub(crate) struct Verifier {
    /// `authgate_token_cache_lookups_total{result="hit"|"miss"}`, resolved once.
    hits: prometheus::IntCounter,
    misses: prometheus::IntCounter,
    revocations: Arc<Revocations>,
    jwks: Arc<Jwks>,
    policy: TokenChecks,
    guard: GuardConfig,
    cache: Cache<[u8; 32], Arc<Verified>>,
}

impl Verifier {
    /// `cache_bytes` bounds the verified-token cache.
    pub(crate) fn new(
        jwks: Arc<Jwks>,
        policy: TokenChecks,
        guard: GuardConfig,
        cache_bytes: u64,
        revocations: Arc<Revocations>,
    ) -> Self {
        let cache = Cache::builder()
            .max_capacity(cache_bytes)
            .weigher(|_, v: &Arc<Verified>| v.weight())
            .expire_after(UntilExp)
            .build();
        let lookups = &crate::metrics::metrics().token_cache_lookups;
        let (hits, misses) = (lookups.with_label_values(&["hit"]), lookups.with_label_values(&["miss"]));
        Verifier { hits, misses, revocations, jwks, policy, guard, cache }
    }

    pub(crate) async fn verify(&self, token: &str) -> Result<Arc<Verified>, VerifyError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if self.revocations.is_revoked(&key) {
            return Err(VerifyError::Revoked);
        }
        if let Some(v) = self.cache.get(&key) {
            self.hits.inc();
            return Ok(v);
        }
        self.misses.inc();
        let claims = {
            use tracing::Instrument;
            verify(token, &self.jwks, &self.policy).instrument(crate::otel::verify_span()).await?
        };
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str());
        let verified = Arc::new(
            Verified::new(
                claims.get("exp").and_then(|v| v.as_u64()).unwrap_or(0),
                text("sub"),
                text("azp"),
                &identity_values(&self.guard, &claims),
            )
            .issued_at(claims.get("iat").and_then(|v| v.as_u64()).unwrap_or(0))
            .with_authz(
                self.guard.authz_claims.iter().map(|name| crate::authz::claim_values(name, claims.get(name))).collect(),
            ),
        );
        self.cache.insert(key, verified.clone());
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_as_stored_and_absent_ones_stay_absent() {
        let v =
            Verified::new(7, Some("auth0|1"), None, &[Some("a@b.c".into()), None, Some("".into()), Some("x,y".into())]);
        assert_eq!((v.subject(), v.azp()), (Some("auth0|1"), None));
        assert_eq!(
            (v.identity(0), v.identity(1), v.identity(2), v.identity(3)),
            (Some("a@b.c"), None, Some(""), Some("x,y"))
        );
        assert_eq!(v.identity(4), None);
        let none = Verified::new(0, None, None, &[]);
        assert_eq!((none.subject(), none.azp()), (None, None));
    }

    #[test]
    fn a_token_is_due_for_renewal_near_its_end_and_never_in_its_first_half() {
        let hour = Verified::new(10_000, None, None, &[]).issued_at(6_400);
        assert!(!hour.renewal_due(9_000, 60), "an hour's token, 1000 s left");
        assert!(hour.renewal_due(9_940, 60), "60 s left");
        assert!(hour.renewal_due(10_100, 60), "expired");
        let short = Verified::new(1_002, None, None, &[]).issued_at(1_000);
        assert!(!short.renewal_due(1_000, 60), "a 2 s token just issued: not before half its life");
        assert!(short.renewal_due(1_001, 60));
        let no_iat = Verified::new(1_000, None, None, &[]);
        assert!(no_iat.renewal_due(950, 60) && !no_iat.renewal_due(900, 60));
    }
}
