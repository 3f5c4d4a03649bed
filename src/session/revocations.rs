//! Revoked tokens and session ids (as SHA-256 hashes), known to this replica. A logout here
//! is known at once; one on another replica arrives through the store's revocation feed,
//! read every `FEED_INTERVAL`, so the guard never asks the store per request. When the store
//! is unreachable the revocations already known keep applying.

use crate::store::Sessions;
use moka::sync::Cache;
use std::sync::Arc;
use std::time::Duration;

/// How often the feed is read: the longest a revoked token still passes on another replica
/// (plus one store round trip).
pub(crate) const FEED_INTERVAL: Duration = Duration::from_millis(200);

pub(crate) struct Revocations {
    revoked: Cache<[u8; 32], ()>,
    /// The feed was read once: until then a replica could take tokens logged out elsewhere,
    /// so it is not ready.
    caught_up: std::sync::atomic::AtomicBool,
}

impl Revocations {
    /// Entries are kept `retention` (the longest a session lives).
    pub(crate) fn new(retention: Duration) -> Self {
        Revocations {
            revoked: Cache::builder().max_capacity(1_000_000).time_to_live(retention).build(),
            caught_up: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The feed has been read at least once (readiness).
    pub(crate) fn caught_up(&self) -> bool {
        self.caught_up.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn revoke(&self, hash: [u8; 32]) {
        self.revoked.insert(hash, ());
    }

    pub(crate) fn is_revoked(&self, hash: &[u8; 32]) -> bool {
        self.revoked.contains_key(hash)
    }

    /// Apply the feed's entries (hex hashes).
    fn apply(&self, entries: &[String]) {
        for e in entries {
            if let Some(h) = from_hex(e) {
                self.revoke(h);
            }
        }
    }
}

/// Lower-case hex, written into one string.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

pub(crate) fn from_hex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Read the store's revocation feed once from `cursor`; the cursor to read from next. A
/// failure is counted and logged (once a minute) and the cursor keeps its place, so the
/// replica catches up when the store returns.
pub(crate) async fn poll(store: &Arc<dyn Sessions>, revocations: &Revocations, cursor: u64) -> u64 {
    match store.revocations_since(cursor).await {
        Ok((entries, next)) => {
            revocations.apply(&entries);
            revocations.caught_up.store(true, std::sync::atomic::Ordering::Relaxed);
            next
        }
        Err(e) => {
            crate::store::report_error("revocation feed", &e);
            cursor
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_through_hex() {
        let h = [0xab; 32];
        assert_eq!(from_hex(&hex(&h)), Some(h));
        assert_eq!(from_hex("zz"), None);
    }
}
