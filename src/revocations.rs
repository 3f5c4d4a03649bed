//! Revoked tokens and session ids, known to this replica. A logout here is known at once; one
//! on another replica arrives through the store's revocation feed, read every `FEED_INTERVAL`,
//! so the guard never asks the store per request. When the store is unreachable the
//! revocations already known keep applying.
//!
//! An entry is never dropped while what it names could still be used: it is kept until its
//! own `until` (the token's `exp` plus leeway and grace, or the session's end), then purged.
//! Entries are compact (8 bytes of the SHA-256 and a 4-byte expiry in an open-addressing
//! table, no allocation of their own; see docs/sessions.md for the bytes an entry takes). The configured capacity bounds them:
//! at it, revocations are still all kept, and new sessions are refused instead (`full`).

use crate::store::{unix_now, Revoked, SessionStore, StoreError};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// How often the feed is read: the longest a revoked token still passes on another replica
/// (plus one store round trip).
pub(crate) const FEED_INTERVAL: Duration = Duration::from_millis(200);

/// Feed entries asked for at once while a replica catches up (start, or the store's return),
/// and once it has. A page the store cannot answer within its timeout is halved, down to
/// `MIN_PAGE`, and grows back after each page read.
const CATCH_UP_PAGE: usize = 50_000;
const FEED_PAGE: usize = 10_000;
const MIN_PAGE: usize = 500;

/// Revocations held for publishing again at most (40 bytes each).
const UNPUBLISHED_MAX: usize = 100_000;

/// Revocations published in one store call when publishing held ones again.
const PUBLISH_CHUNK: usize = 1_000;

/// How often expired entries are purged.
const PURGE_EVERY_SECONDS: u64 = 5;

const SHARDS: usize = 16;

/// The first 8 bytes of a SHA-256: a 64-bit prefix of a uniform hash. Two tokens share one
/// with a chance of 2⁻⁶⁴ per pair, and a shared prefix can only refuse a token, never admit one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Prefix([u8; 8]);

/// Prefix → until (Unix seconds, to 2106). The maps are keyed by the process's random state
/// (whatever the feed holds, no bucket fills up).
type Shard = HashMap<Prefix, u32, RandomState>;

pub(crate) struct Revocations {
    hasher: RandomState,
    shards: Box<[RwLock<Shard>]>,
    len: AtomicUsize,
    capacity: AtomicUsize,
    full: AtomicBool,
    /// The feed has been read to its head once: until then a replica could take tokens
    /// logged out elsewhere, so it is not ready.
    caught_up: AtomicBool,
    last_purge: AtomicU64,
    /// Feed entries to ask for next.
    page: AtomicUsize,
    /// Revocations made here that the store did not take (it failed or timed out): published
    /// again before each feed read, so a logout reaches the other replicas once the store is back.
    unpublished: Mutex<Vec<Revoked>>,
}

impl Revocations {
    /// At most `capacity` entries before new sessions are refused (see `full`).
    pub(crate) fn new(capacity: usize) -> Self {
        let hasher = RandomState::new();
        Revocations {
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::with_hasher(hasher.clone()))).collect(),
            hasher,
            len: AtomicUsize::new(0),
            capacity: AtomicUsize::new(capacity),
            full: AtomicBool::new(false),
            caught_up: AtomicBool::new(false),
            last_purge: AtomicU64::new(unix_now()),
            page: AtomicUsize::new(CATCH_UP_PAGE),
            unpublished: Mutex::new(Vec::new()),
        }
    }

    /// Keep `revoked`, which the store did not take, to publish again. At most
    /// `UNPUBLISHED_MAX` wait (the oldest first out, still revoked here): beyond that the store
    /// has been gone so long that the other replicas' own failures are the alert.
    pub(crate) fn hold_unpublished(&self, revoked: &[Revoked]) {
        self.hold(revoked, false);
    }

    /// Hold `revoked`: after what is held (new), or before it (older ones put back), so the
    /// oldest are the ones that leave at the cap.
    fn hold(&self, revoked: &[Revoked], older: bool) {
        let mut held = self.unpublished.lock().unwrap_or_else(|e| e.into_inner());
        if older {
            held.splice(0..0, revoked.iter().copied());
        } else {
            held.extend_from_slice(revoked);
        }
        if held.len() > UNPUBLISHED_MAX {
            let over = held.len() - UNPUBLISHED_MAX;
            held.drain(..over);
            tracing::error!(dropped = over, "revocations the store did not take were dropped from the retry queue (they stay revoked on this replica)");
        }
        crate::metrics::metrics().revocations_unpublished.set(i64::try_from(held.len()).unwrap_or(i64::MAX));
    }

    /// The held revocations, to publish again (the gauge keeps counting them meanwhile).
    fn take_unpublished(&self) -> Vec<Revoked> {
        std::mem::take(&mut *self.unpublished.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Count what is held now (after publishing again).
    fn count_unpublished(&self) {
        let held = self.unpublished.lock().unwrap_or_else(|e| e.into_inner()).len();
        crate::metrics::metrics().revocations_unpublished.set(i64::try_from(held).unwrap_or(i64::MAX));
    }

    /// A reload's capacity.
    pub(crate) fn set_capacity(&self, capacity: usize) {
        self.capacity.store(capacity, Ordering::Relaxed);
        self.note_size();
    }

    /// Where a hash lives: its shard (bits of the hash the tables do not use) and its prefix.
    fn locate(&self, hash: &[u8; 32]) -> (&RwLock<Shard>, Prefix) {
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&hash[..8]);
        let prefix = Prefix(prefix);
        let shard = (self.hasher.hash_one(prefix) >> 32) as usize % SHARDS;
        (&self.shards[shard], prefix)
    }

    /// Read another store's feed from its start: not ready until it has been read to its head.
    pub(crate) fn catch_up_anew(&self) {
        self.caught_up.store(false, Ordering::Relaxed);
    }

    /// The feed has been read to its head at least once (readiness).
    pub(crate) fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Relaxed)
    }

    /// Remember `r` until its `until`; never refused, whatever the count.
    pub(crate) fn revoke(&self, r: Revoked) {
        if r.until < unix_now() {
            return; // nothing could use it any more
        }
        let (shard, prefix) = self.locate(&r.hash);
        let until = u32::try_from(r.until).unwrap_or(u32::MAX);
        let added = {
            let mut shard = shard.write().unwrap_or_else(|e| e.into_inner());
            match shard.get_mut(&prefix) {
                Some(kept) => {
                    *kept = (*kept).max(until);
                    false
                }
                None => {
                    shard.insert(prefix, until);
                    // Counted under the shard's lock, so a purge never takes it away first.
                    self.len.fetch_add(1, Ordering::Relaxed);
                    true
                }
            }
        };
        if added {
            self.note_size();
        }
    }

    pub(crate) fn is_revoked(&self, hash: &[u8; 32]) -> bool {
        if self.len.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let (shard, prefix) = self.locate(hash);
        shard.read().unwrap_or_else(|e| e.into_inner()).contains_key(&prefix)
    }

    /// Entries kept now.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// At capacity: every revocation is still kept, but no new session may start (each one
    /// could add more) until entries expire.
    pub(crate) fn full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    /// Forget the entries whose `until` has passed; how many were forgotten.
    pub(crate) fn purge(&self, now: u64) -> usize {
        let mut purged = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.write().unwrap_or_else(|e| e.into_inner());
            let before = shard.len();
            shard.retain(|_, until| u64::from(*until) >= now);
            if shard.len() < before / 2 {
                shard.shrink_to_fit();
            }
            self.len.fetch_sub(before - shard.len(), Ordering::Relaxed);
            purged += before - shard.len();
        }
        self.note_size();
        purged
    }

    /// Purge when `PURGE_EVERY_SECONDS` have passed since the last purge.
    fn purge_when_due(&self) {
        let now = unix_now();
        let last = self.last_purge.load(Ordering::Relaxed);
        if now >= last + PURGE_EVERY_SECONDS
            && self.last_purge.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            self.purge(now);
        }
    }

    /// Publish the count, and say so (metric, one log line) when the capacity is reached or left.
    fn note_size(&self) {
        let (len, capacity) = (self.len(), self.capacity.load(Ordering::Relaxed));
        let m = crate::metrics::metrics();
        m.revocations.set(i64::try_from(len).unwrap_or(i64::MAX));
        let full = len >= capacity;
        if self.full.swap(full, Ordering::Relaxed) != full {
            m.revocations_full.set(i64::from(full));
            if full {
                tracing::error!(
                    entries = len,
                    capacity,
                    "the revocation list is at its capacity (session.revocations_max): revocations are all kept, new sessions are refused until entries expire"
                );
            } else {
                tracing::warn!(entries = len, capacity, "the revocation list is below its capacity again");
            }
        }
    }
}

/// Read the store's revocation feed from `cursor` to its head (pages of `FEED_PAGE`, larger
/// while catching up); the cursor to read from next. The replica is caught up once a page
/// comes back short. A failure is counted and logged (once a minute) and the cursor keeps its
/// place, so the replica catches up when the store returns.
pub(crate) async fn poll(store: &Arc<dyn SessionStore>, revocations: &Revocations, mut cursor: u64) -> u64 {
    publish_held(store, revocations).await;
    loop {
        let most = if revocations.caught_up() { FEED_PAGE } else { CATCH_UP_PAGE };
        let page = revocations.page.load(Ordering::Relaxed).min(most);
        match store.revocations_since(cursor, page).await {
            Ok(p) => {
                for r in p.entries {
                    revocations.revoke(r);
                }
                cursor = p.next;
                revocations.page.store((page * 2).min(CATCH_UP_PAGE), Ordering::Relaxed);
                if p.drained {
                    revocations.caught_up.store(true, Ordering::Relaxed);
                    break;
                }
            }
            Err(StoreError::Timeout) if page > MIN_PAGE => {
                revocations.page.store(page / 2, Ordering::Relaxed);
            }
            Err(e) => {
                crate::store::report_error("revocation feed", &e);
                break;
            }
        }
    }
    revocations.purge_when_due();
    cursor
}

/// Publish the revocations the store did not take when they were made; what it still does not
/// take is held again (and counted as a failed `revocation publication`).
async fn publish_held(store: &Arc<dyn SessionStore>, revocations: &Revocations) {
    let held = revocations.take_unpublished();
    for (i, chunk) in held.chunks(PUBLISH_CHUNK).enumerate() {
        if let Err(e) = store.publish_revocations(chunk).await {
            crate::store::report_error("revocation publication", &e);
            revocations.hold(&held[i * PUBLISH_CHUNK..], true);
            return;
        }
    }
    if !held.is_empty() {
        revocations.count_unpublished();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u32) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::digest(n.to_le_bytes()).into()
    }

    #[test]
    fn past_its_capacity_every_revocation_is_kept_and_the_list_says_it_is_full() {
        let r = Revocations::new(100);
        let until = unix_now() + 60;
        for n in 0..150 {
            r.revoke(Revoked { hash: hash(n), until });
        }
        assert!((0..150).all(|n| r.is_revoked(&hash(n))), "none dropped");
        assert!(!r.is_revoked(&hash(150)));
        assert_eq!(r.len(), 150);
        assert!(r.full());
        r.revoke(Revoked { hash: hash(3), until: until + 5 });
        assert_eq!(r.len(), 150, "the same hash is one entry");
    }

    #[test]
    fn entries_are_purged_after_their_own_until_and_not_before() {
        let r = Revocations::new(10);
        let now = unix_now();
        for n in 0..10 {
            r.revoke(Revoked { hash: hash(n), until: now + 10 + u64::from(n % 2) * 1000 });
        }
        assert!(r.full());
        r.revoke(Revoked { hash: hash(99), until: now.saturating_sub(1) });
        assert!(!r.is_revoked(&hash(99)), "already past: not kept");
        assert_eq!(r.purge(now + 5), 0, "none is past its until");
        assert_eq!(r.purge(now + 11), 5, "the short-lived half");
        assert!(!r.full());
        assert!(r.is_revoked(&hash(1)) && !r.is_revoked(&hash(0)));
        r.revoke(Revoked { hash: hash(1), until: now + 20 });
        assert_eq!(r.purge(now + 100), 0, "a later revocation of the same hash never shortens it");
    }

    /// The bytes entries take, for docs/sessions.md (run alone: it reads the process's RSS):
    /// `cargo test --release --lib memory_per_million -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn memory_per_million_entries() {
        let rss = || {
            let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
            statm.split(' ').nth(1).unwrap().parse::<usize>().unwrap() * 4096
        };
        let until = unix_now() + 3600;
        let r = Revocations::new(usize::MAX);
        let mut at = rss();
        for million in 1..=4u32 {
            for n in (million - 1) * 1_000_000..million * 1_000_000 {
                r.revoke(Revoked { hash: hash(n), until });
            }
            let now = rss();
            println!(
                "{million} M entries: +{:.1} MB ({} bytes an entry)",
                (now - at) as f64 / 1e6,
                (now - at) / 1_000_000
            );
            at = now;
        }
        assert_eq!(r.len(), 4_000_000);
    }

    /// What the guard pays per request for the check, for docs/sessions.md:
    /// `cargo test --release --lib lookup_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn lookup_cost() {
        let r = Revocations::new(usize::MAX);
        let probes: Vec<[u8; 32]> = (5_000_000..5_100_000).map(hash).collect();
        let time = |r: &Revocations| {
            let started = std::time::Instant::now();
            let mut hits = 0;
            for _ in 0..20 {
                hits += probes.iter().filter(|p| r.is_revoked(p)).count();
            }
            (started.elapsed().as_nanos() as f64 / (20.0 * probes.len() as f64), hits)
        };
        let (empty, _) = time(&r);
        let until = unix_now() + 3600;
        for n in 0..1_000_000 {
            r.revoke(Revoked { hash: hash(n), until });
        }
        let (full, hits) = time(&r);
        assert_eq!(hits, 0);
        println!("is_revoked: {empty:.1} ns with no entry, {full:.1} ns with 1 M entries (a miss)");
    }
}
