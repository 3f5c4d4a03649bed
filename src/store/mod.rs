//! One interface for the state a fleet of sidecars shares: sessions (by id, by the hash of
//! their access token, by user), the revocation feed, and the rate-limit and brute-force
//! counters. Two implementations: in this process (one replica, the demo) and Redis
//! (standalone, Sentinel or Cluster).

mod memory;
mod redis_scripts;
mod redis_store;

pub(crate) use memory::MemoryStore;
pub(crate) use redis_store::RedisStore;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A login's server-side record. The access token itself is not kept (only its hash), except
/// sealed with opaque cookies; the refresh token is kept sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    /// Hex SHA-256 of the session's random id: the id itself (an opaque cookie's value) is
    /// never stored, so reading the store does not give a usable cookie.
    pub(crate) id: String,
    /// The random id itself, when known (just recorded, or found by its cookie); never stored.
    #[serde(skip)]
    pub(crate) cookie_id: Option<String>,
    /// The user (`sub`).
    pub(crate) subject: String,
    /// The client's name in the configuration.
    pub(crate) client: String,
    /// Unix seconds.
    pub(crate) created: u64,
    pub(crate) expires: u64,
    /// The tenant's session id (`sid` of the id_token at login), which a back-channel logout
    /// names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tenant_sid: Option<String>,
    /// Hex SHA-256 of the session's current access token.
    pub(crate) token_hash: String,
    /// The refresh token, sealed.
    pub(crate) refresh_token: Option<String>,
    /// The access token, sealed (opaque cookies only).
    pub(crate) access_token: Option<String>,
    /// The current access token's `exp` (Unix seconds; 0 when unknown: a record written by an
    /// older version). Its revocation is kept until then.
    #[serde(default)]
    pub(crate) token_expires: u64,
}

/// A revoked token or session id: its SHA-256, and until when it must stay revoked (Unix
/// seconds: the token's `exp` plus the leeway and grace under which it could still be used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Revoked {
    pub(crate) hash: [u8; 32],
    pub(crate) until: u64,
}

/// What `put_session` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Put {
    Written,
    /// The session was ended, or is gone.
    Ended,
    /// Another refresh replaced the session's token first.
    Superseded,
}

/// The access token a refresh replaces: it still names its session (for a logout that
/// presents it) until `link_until` (Unix seconds), though it no longer verifies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rotated<'a> {
    pub(crate) token_hash: &'a str,
    pub(crate) link_until: u64,
}

/// One page of the revocation feed.
#[derive(Debug, Default)]
pub(crate) struct FeedPage {
    pub(crate) entries: Vec<Revoked>,
    /// Where to read from next.
    pub(crate) next: u64,
    /// The page came back shorter than asked: the feed was read to its head.
    pub(crate) drained: bool,
}

/// What a GCRA limit check said.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Gcra {
    pub(crate) allowed: bool,
    pub(crate) remaining: u32,
    /// Until the allowance is whole again.
    pub(crate) reset_after: Duration,
    /// When refused: until the next request would be allowed.
    pub(crate) retry_after: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("the store did not answer in time")]
    Timeout,
    #[error("the store is unreachable or failed: {0}")]
    Failed(String),
    /// A refresh of a session that was ended meanwhile (logout, management).
    #[error("the session has ended")]
    Ended,
    /// A refresh of a session that another refresh replaced meanwhile.
    #[error("the session was refreshed meanwhile")]
    Superseded,
}

pub(crate) type StoreResult<T> = Result<T, StoreError>;

/// Where sessions and their revocations are kept.
#[async_trait]
pub(crate) trait SessionStore: Send + Sync {
    /// Save `s`, indexed by its token hash and its user; it expires at `s.expires`.
    /// `previous`: `s` continues a session (a refresh); then it is written only while that
    /// session still exists with `previous`'s token as its current one (of two refreshes at
    /// once, one wins). A session that was ended is never written again (a refresh racing a
    /// logout cannot bring it back).
    async fn put_session(&self, s: &SessionRecord, previous: Option<&Rotated<'_>>) -> StoreResult<Put>;
    async fn session_by_token(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>>;
    async fn session_by_id(&self, id: &str) -> StoreResult<Option<SessionRecord>>;
    /// Delete `s` and its indexes, and remember that it ended (until it would have expired).
    /// The record as it was when it ended (a refresh may have replaced `s` meanwhile: its
    /// token is then the one to revoke too); `None` when it was gone already.
    async fn delete_session(&self, s: &SessionRecord) -> StoreResult<Option<SessionRecord>>;
    /// Publish revocations to every replica.
    async fn publish_revocations(&self, revoked: &[Revoked]) -> StoreResult<()>;
    /// The live sessions of a user.
    async fn sessions_of(&self, subject: &str) -> StoreResult<Vec<SessionRecord>>;
    /// The live sessions recorded with this tenant session id (`SessionRecord::tenant_sid`).
    async fn sessions_of_tenant_sid(&self, sid: &str) -> StoreResult<Vec<SessionRecord>>;
    /// Users with at least one live session, each once.
    async fn active_subjects(&self) -> StoreResult<Vec<String>>;
    /// At most `page` revocations published from `cursor` on (from any replica; one read
    /// twice does no harm), and the cursor to ask next.
    async fn revocations_since(&self, cursor: u64, page: usize) -> StoreResult<FeedPage>;
    /// Take the refresh lease of session `id` for `holder`, for `ttl` (of the fleet, one
    /// refresh of a session at a time): whether it was free. A holder that died lets it expire.
    async fn take_lease(&self, id: &str, holder: &str, ttl: Duration) -> StoreResult<bool>;
    /// Give the lease back, when `holder` still has it.
    async fn release_lease(&self, id: &str, holder: &str) -> StoreResult<()>;
    /// Keep a refresh's outcome (sealed) for the session's other callers, for `ttl`.
    async fn share_refresh(&self, id: &str, sealed: &str, ttl: Duration) -> StoreResult<()>;
    /// The outcome of the session's last refresh, while it is kept.
    async fn shared_refresh(&self, id: &str) -> StoreResult<Option<String>>;
    /// Remember `key` until `until` (Unix seconds): false when it is remembered already (a
    /// replayed back-channel logout token's `jti`).
    async fn first_sighting(&self, key: &str, until: u64) -> StoreResult<bool>;
    /// Forget `key` (what it stood for could not be done: the sender may try again).
    async fn forget_sighting(&self, key: &str) -> StoreResult<()>;
}

/// Rate-limit and brute-force state shared by every replica.
#[async_trait]
pub(crate) trait LimitStore: Send + Sync {
    /// `cost` requests at once against `key` under a GCRA of `per` per request and `burst`,
    /// after giving back `refund` requests counted earlier and not used.
    async fn gcra(&self, key: &str, per: Duration, burst: u32, cost: u32, refund: u32) -> StoreResult<Gcra>;
    /// How long `key` stays blocked, if it is.
    async fn blocked_for(&self, key: &str) -> StoreResult<Option<Duration>>;
    /// Count a failure for `key`; at `max` consecutive ones it is blocked for `block`.
    /// Whether it is now blocked.
    async fn record_failure(&self, key: &str, max: u32, block: Duration) -> StoreResult<bool>;
    async fn clear_failures(&self, key: &str) -> StoreResult<()>;
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Count a store failure and log it at most once a minute (the store may be down for long).
pub(crate) fn report_error(operation: &'static str, e: &StoreError) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_WARNED: AtomicU64 = AtomicU64::new(0);
    crate::metrics::metrics().store_errors.with_label_values(&[operation]).inc();
    let now = unix_now();
    let last = LAST_WARNED.load(Ordering::Relaxed);
    if now >= last + 60 && LAST_WARNED.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
        tracing::warn!(operation, error = %e, "the store is unreachable; limits follow on_error, sessions fall back to this replica");
    }
    set_degraded(true);
}

static DEGRADED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the last store operation failed (readiness reports it; the gateway stays ready).
pub(crate) fn degraded() -> bool {
    DEGRADED.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn set_degraded(value: bool) {
    DEGRADED.store(value, std::sync::atomic::Ordering::Relaxed);
}
