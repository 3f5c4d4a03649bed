//! The tenant's signing keys (`/.well-known/jwks.json`), cached in moka with a TTL.
//! A background task refreshes them ahead of expiry, so no request waits in the steady state;
//! when the tenant is down at refresh time the keys we have keep serving (stale-if-error).
//! An unknown `kid` triggers one refetch, single flight, at most once per
//! `min_refetch_interval`, so a flood of forged kids cannot hammer the tenant.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use moka::future::Cache;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Decoding keys by `kid`, and the document they came from.
pub(crate) struct KeySet {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    /// The JWKS as published (public keys only), served at the gateway's own
    /// `/.well-known/jwks.json`.
    pub(crate) document: bytes::Bytes,
}

impl KeySet {
    /// Keep the signing keys whose algorithm is allowed (a key marked `use: enc` is for
    /// encryption and never verifies a token); a key without `alg` gets its type's default.
    pub(crate) fn from_jwks(set: &JwkSet, allowed: &[Algorithm]) -> Self {
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = &jwk.common.key_id else { continue };
            if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
                continue;
            }
            let alg = match (&jwk.common.key_algorithm, &jwk.algorithm) {
                (Some(a), _) => key_algorithm(*a),
                (None, AlgorithmParameters::RSA(_)) => Some(Algorithm::RS256),
                (None, AlgorithmParameters::EllipticCurve(ec)) => match ec.curve {
                    EllipticCurve::P256 => Some(Algorithm::ES256),
                    EllipticCurve::P384 => Some(Algorithm::ES384),
                    _ => None,
                },
                _ => None,
            };
            let Some(alg) = alg.filter(|a| allowed.contains(a)) else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid.clone(), (key, alg));
            }
        }
        let document = serde_json::to_vec(set).unwrap_or_default().into();
        KeySet { keys, document }
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&(DecodingKey, Algorithm)> {
        self.keys.get(kid)
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

fn key_algorithm(a: KeyAlgorithm) -> Option<Algorithm> {
    use Algorithm as A;
    Some(match a {
        KeyAlgorithm::RS256 => A::RS256,
        KeyAlgorithm::RS384 => A::RS384,
        KeyAlgorithm::RS512 => A::RS512,
        KeyAlgorithm::PS256 => A::PS256,
        KeyAlgorithm::PS384 => A::PS384,
        KeyAlgorithm::PS512 => A::PS512,
        KeyAlgorithm::ES256 => A::ES256,
        KeyAlgorithm::ES384 => A::ES384,
        _ => return None,
    })
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub(crate) enum JwksError {
    #[error("the key set could not be fetched")]
    Unavailable,
    #[error("no key with that kid")]
    UnknownKid,
}

pub struct Jwks {
    tenant: super::TenantClient,
    url: url::Url,
    allowed: Vec<Algorithm>,
    ttl: Duration,
    cache: Cache<(), Arc<KeySet>>,
    /// Single flight for unknown-kid refetches, and when the last one ran.
    refetch: tokio::sync::Mutex<Option<Instant>>,
    min_refetch_interval: Duration,
}

impl Jwks {
    pub(crate) fn new(
        tenant: super::TenantClient,
        url: url::Url,
        allowed: Vec<Algorithm>,
        ttl: Duration,
        min_refetch_interval: Duration,
    ) -> Self {
        Jwks {
            tenant,
            url,
            allowed,
            ttl,
            cache: Cache::builder().max_capacity(1).time_to_live(ttl).build(),
            refetch: tokio::sync::Mutex::new(None),
            min_refetch_interval,
        }
    }

    /// A fixed key set that is never fetched (tests): `set`'s signing keys of the `allowed`
    /// algorithms, kept for good, for `tenant`. A token with another `kid` is refused at once,
    /// without a refetch (none is ever due).
    #[cfg(test)]
    pub(crate) async fn from_keys(tenant: &crate::config::Tenant, set: &JwkSet, allowed: Vec<Algorithm>) -> Self {
        let keys = Arc::new(KeySet::from_jwks(set, &allowed));
        let jwks = Jwks {
            tenant: super::TenantClient::new(tenant).expect("the configuration's tenant client builds"),
            url: tenant.jwks_url.clone(),
            allowed,
            ttl: Duration::MAX,
            // No time to live: the set never expires, so `current` never fetches.
            cache: Cache::builder().max_capacity(1).build(),
            // As if a refetch had just run, and the next one is never due: `key` never fetches.
            refetch: tokio::sync::Mutex::new(Some(Instant::now())),
            min_refetch_interval: Duration::MAX,
        };
        jwks.cache.insert((), keys).await;
        jwks
    }

    async fn fetch(&self) -> Result<Arc<KeySet>, JwksError> {
        let result = async {
            let body = self.tenant.get_capped(&self.url).await.map_err(|_| JwksError::Unavailable)?;
            let set: JwkSet = serde_json::from_slice(&body).map_err(|_| JwksError::Unavailable)?;
            Ok(Arc::new(KeySet::from_jwks(&set, &self.allowed)))
        }
        .await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        crate::metrics::metrics().jwks_fetches.with_label_values(&[outcome]).inc();
        result
    }

    /// Fetch now and replace the cached set. On failure the keys we have stay, for another
    /// TTL (stale-if-error), and the failure is logged.
    pub(crate) async fn refresh(&self) -> Result<(), JwksError> {
        match self.fetch().await {
            Ok(set) => {
                tracing::debug!(keys = set.len(), "JWKS refreshed");
                self.cache.insert((), set).await;
                Ok(())
            }
            Err(e) => {
                match self.cache.get(&()).await {
                    Some(stale) => {
                        tracing::warn!("JWKS refresh failed; serving the keys we have");
                        self.cache.insert((), stale).await;
                    }
                    None => tracing::warn!("JWKS fetch failed; no keys yet"),
                }
                Err(e)
            }
        }
    }

    /// Keys are loaded (readiness).
    pub(crate) fn has_keys(&self) -> bool {
        self.cache.contains_key(&())
    }

    /// The cached set, fetching it (single flight) when there is none.
    pub(crate) async fn current(&self) -> Result<Arc<KeySet>, JwksError> {
        if let Some(set) = self.cache.get(&()).await {
            return Ok(set);
        }
        self.cache.try_get_with((), self.fetch()).await.map_err(|e| (*e).clone())
    }

    /// The key for `kid`, refetching the set once when the kid is unknown.
    pub(crate) async fn key(&self, kid: &str) -> Result<(DecodingKey, Algorithm), JwksError> {
        let set = self.current().await?;
        if let Some(k) = set.get(kid) {
            return Ok(k.clone());
        }
        let mut last = self.refetch.lock().await;
        // Someone else may have refetched while we waited for the lock.
        let set = self.current().await?;
        if let Some(k) = set.get(kid) {
            return Ok(k.clone());
        }
        if last.is_some_and(|t| t.elapsed() < self.min_refetch_interval) {
            return Err(JwksError::UnknownKid);
        }
        *last = Some(Instant::now());
        tracing::info!("unknown kid: refetching the JWKS");
        let _ = self.refresh().await;
        let set = self.current().await?;
        set.get(kid).cloned().ok_or(JwksError::UnknownKid)
    }

    /// Refresh ahead of expiry; the wait before the next refresh: TTL/2, or a second while
    /// no keys are loaded yet.
    pub(crate) async fn refresh_tick(&self) -> Duration {
        let ok = self.refresh().await.is_ok() || self.has_keys();
        if ok {
            self.ttl / 2
        } else {
            Duration::from_secs(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_keys_and_disallowed_algorithms_are_left_out() {
        let n = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";
        let jwk = |kid: &str, extra: serde_json::Value| {
            let mut k = serde_json::json!({"kty": "RSA", "kid": kid, "n": n, "e": "AQAB"});
            k.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            k
        };
        let set: JwkSet = serde_json::from_value(serde_json::json!({"keys": [
            jwk("sig", serde_json::json!({"use": "sig", "alg": "RS256"})),
            jwk("plain", serde_json::json!({})),
            jwk("enc", serde_json::json!({"use": "enc", "alg": "RSA-OAEP"})),
            jwk("enc-no-alg", serde_json::json!({"use": "enc"})),
            jwk("rs512", serde_json::json!({"alg": "RS512"})),
        ]}))
        .unwrap();
        let keys = KeySet::from_jwks(&set, &[Algorithm::RS256]);
        let mut kids: Vec<&str> = keys.keys.keys().map(String::as_str).collect();
        kids.sort();
        assert_eq!(kids, ["plain", "sig"]);
    }
}
