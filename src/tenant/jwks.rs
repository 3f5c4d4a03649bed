//! The tenant's signing keys (`/.well-known/jwks.json`), cached in moka.
//! An unknown `kid` triggers one refetch (moka makes it single flight), at most once per
//! `min_refetch_interval`, so forged kids cannot hammer the tenant.

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use moka::future::Cache;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Decoding keys by `kid`.
pub struct KeySet {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
}

impl KeySet {
    pub fn from_jwks(set: &JwkSet) -> Self {
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), AlgorithmParameters::RSA(_)) = (&jwk.common.key_id, &jwk.algorithm) else {
                continue;
            };
            let alg = match jwk.common.key_algorithm {
                None | Some(KeyAlgorithm::RS256) => Algorithm::RS256,
                Some(_) => continue,
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid.clone(), (key, alg));
            }
        }
        KeySet { keys }
    }

    pub fn get(&self, kid: &str) -> Option<&(DecodingKey, Algorithm)> {
        self.keys.get(kid)
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum JwksError {
    #[error("the key set could not be fetched")]
    Unavailable,
    #[error("no key with that kid")]
    UnknownKid,
}

pub struct Jwks {
    http: reqwest::Client,
    url: url::Url,
    cache: Cache<(), Arc<KeySet>>,
    last_forced: Mutex<Option<Instant>>,
    min_refetch_interval: Duration,
}

impl Jwks {
    pub fn new(http: reqwest::Client, url: url::Url, ttl: Duration, min_refetch_interval: Duration) -> Self {
        Jwks {
            http,
            url,
            cache: Cache::builder().max_capacity(1).time_to_live(ttl).build(),
            last_forced: Mutex::new(None),
            min_refetch_interval,
        }
    }

    async fn fetch(&self) -> Result<Arc<KeySet>, JwksError> {
        let response = self
            .http
            .get(self.url.clone())
            .send()
            .await
            .map_err(|_| JwksError::Unavailable)?;
        if !response.status().is_success() {
            tracing::warn!(status = response.status().as_u16(), "JWKS fetch failed");
            return Err(JwksError::Unavailable);
        }
        let set: JwkSet = response.json().await.map_err(|_| JwksError::Unavailable)?;
        Ok(Arc::new(KeySet::from_jwks(&set)))
    }

    async fn current(&self) -> Result<Arc<KeySet>, JwksError> {
        self.cache
            .try_get_with((), self.fetch())
            .await
            .map_err(|e| (*e).clone())
    }

    /// The key for `kid`, refetching the set once when the kid is unknown.
    pub async fn key(&self, kid: &str) -> Result<(DecodingKey, Algorithm), JwksError> {
        let set = self.current().await?;
        if let Some(k) = set.get(kid) {
            return Ok(k.clone());
        }
        if !self.may_force_refetch() {
            return Err(JwksError::UnknownKid);
        }
        self.cache.invalidate(&()).await;
        let set = self.current().await?;
        set.get(kid).cloned().ok_or(JwksError::UnknownKid)
    }

    fn may_force_refetch(&self) -> bool {
        let mut last = self.last_forced.lock().expect("not poisoned");
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < self.min_refetch_interval) {
            return false;
        }
        *last = Some(now);
        true
    }
}
