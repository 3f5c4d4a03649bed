//! The limits counted in the shared store: every replica counts the same requests, high-rate
//! limits through leases taken ahead.

use super::local::Limiter;
use super::RateInfo;
use super::{
    blocked, ceil_secs, short_digest, store_unavailable, too_many, username_key, Counting, LimitsConfig, Rate,
};
use crate::config::OnStoreError;
use crate::http::error::ApiError;
use crate::store::{LimitStore, StoreError};
use async_trait::async_trait;
use governor::clock::DefaultClock;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The limits' state in the shared store: every replica counts the same requests.
pub(super) struct Fleet {
    config: LimitsConfig,
    /// The per-IP limit counted in this process too, before the guard: one replica seeing more
    /// than the whole fleet may is over the limit for sure, at no store round trip.
    precheck: Option<Limiter<IpAddr, DefaultClock>>,
    store: Arc<dyn LimitStore>,
    on_error: OnStoreError,
    /// Requests taken from the store ahead, per key, and spent here (see `lease_size`); a
    /// lease is spent for `LEASE_LIFETIME`, then its rest is given back with the next count.
    leases: moka::sync::Cache<String, Arc<Lease>>,
}

/// Requests taken from the shared count ahead of time by this replica.
struct Lease {
    left: AtomicU32,
    /// The shared count's remaining when the lease was taken (not counting the lease).
    remaining: u32,
    reset: u64,
    taken: Instant,
}

/// What the shared store said of `cost` requests.
enum Counted {
    Allowed(RateInfo),
    Refused { retry_after: Duration },
}

/// How long a lease may be spent: then what is left of it is given back to the shared count
/// with the key's next count, so a replica never sits on requests others could use, and slow
/// traffic does not leave the fleet admitting fewer than the limit.
const LEASE_LIFETIME: Duration = Duration::from_millis(250);

/// A key's lease is forgotten after this long without a request (its rest, if any, is then
/// refilled by time, as any request counted in the store).
const LEASE_IDLE: Duration = Duration::from_secs(60);

/// How many requests a replica takes at once for a high-rate limit on the guarded path: one
/// store round trip per lease, not per request. Small limits (a burst under 32) are counted
/// one by one, exactly. Leased requests are counted in the store when they are taken, so the
/// fleet never lets more through than the limit; at worst a replica's unspent lease is
/// refused to others for `LEASE_LIFETIME` (then given back).
fn lease_size(rate: &Rate) -> u32 {
    (rate.burst / 16).clamp(1, 64)
}

/// Which limit a check is for: its metric name, its rate, and its key in the shared store.
pub(super) struct Check<'a> {
    pub(super) name: &'static str,
    pub(super) rate: Rate,
    pub(super) key: &'a str,
}

impl Fleet {
    pub(super) fn new(config: &LimitsConfig, store: Arc<dyn LimitStore>, on_error: OnStoreError) -> Self {
        let precheck = config.backend_per_ip.map(|r| Limiter::new("backend_per_ip", r, &DefaultClock::default()));
        let leases = moka::sync::Cache::builder().max_capacity(100_000).time_to_idle(LEASE_IDLE).build();
        Fleet { config: config.clone(), precheck, store, on_error, leases }
    }

    /// A guarded-path check in the shared store, spending a lease when this replica holds one.
    pub(super) async fn leased_check(&self, check: Check<'_>) -> Result<RateInfo, ApiError> {
        let size = lease_size(&check.rate);
        if size == 1 {
            return self.check(check).await;
        }
        let mut refund = 0;
        if let Some(lease) = self.leases.get(check.key) {
            if lease.taken.elapsed() >= LEASE_LIFETIME {
                refund = lease.left.swap(0, Ordering::AcqRel);
            } else if let Ok(left) = lease.left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            {
                let remaining = lease.remaining + left - 1;
                return Ok(RateInfo { limit: check.rate.burst, remaining, reset: lease.reset });
            }
        }
        match self.count(&check, size, refund).await? {
            Counted::Allowed(info) => {
                let lease = Lease {
                    left: AtomicU32::new(size - 1),
                    remaining: info.remaining,
                    reset: info.reset,
                    taken: Instant::now(),
                };
                self.leases.insert(check.key.to_string(), Arc::new(lease));
                Ok(RateInfo { remaining: info.remaining + size - 1, ..info })
            }
            // Not a whole lease left: take requests one by one.
            Counted::Refused { .. } => self.check(check).await,
        }
    }

    /// One request counted in the shared store: allowed, or refused with `429`.
    pub(super) async fn check(&self, check: Check<'_>) -> Result<RateInfo, ApiError> {
        match self.count(&check, 1, 0).await? {
            Counted::Allowed(info) => Ok(info),
            Counted::Refused { retry_after } => Err(too_many(check.name, &check.rate, retry_after)),
        }
    }

    /// `cost` requests in the shared store, after giving back `refund` (a lease's rest); while
    /// the store is unreachable, `on_error` decides (an error only when it denies).
    async fn count(&self, check: &Check<'_>, cost: u32, refund: u32) -> Result<Counted, ApiError> {
        let per = check.rate.quota().replenish_interval();
        match self.store.gcra(check.key, per, check.rate.burst, cost, refund).await {
            Ok(g) if g.allowed => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                let reset = ceil_secs(now + g.reset_after);
                Ok(Counted::Allowed(RateInfo { limit: check.rate.burst, remaining: g.remaining, reset }))
            }
            Ok(g) => Ok(Counted::Refused { retry_after: g.retry_after }),
            Err(e) => {
                self.tolerate("rate limit", &e)?;
                Ok(Counted::Allowed(RateInfo { limit: check.rate.burst, remaining: check.rate.burst, reset: 0 }))
            }
        }
    }

    /// The brute-force block on `key`, if any.
    pub(super) async fn blocked_for(&self, key: &str) -> Result<Option<Duration>, ApiError> {
        match self.store.blocked_for(key).await {
            Ok(wait) => Ok(wait),
            Err(e) => self.tolerate("brute force", &e).map(|()| None),
        }
    }

    /// A login attempt's outcome on `key`: failures count up to `max`, then block for `block`;
    /// a success resets. `true` when this failure started a block. A store error is reported
    /// (the attempt itself was already allowed).
    async fn record_outcome(&self, key: &str, success: bool, max: u32, block: Duration) -> bool {
        let result = if success {
            self.store.clear_failures(key).await.map(|_| false)
        } else {
            self.store.record_failure(key, max, block).await
        };
        result.unwrap_or_else(|e| {
            crate::store::report_error("brute force", &e);
            false
        })
    }

    /// The store could not be reached: reported; `on_error` decides whether the request goes on.
    fn tolerate(&self, operation: &'static str, e: &StoreError) -> Result<(), ApiError> {
        crate::store::report_error(operation, e);
        match self.on_error {
            OnStoreError::Allow => Ok(()),
            OnStoreError::Deny => Err(store_unavailable()),
        }
    }
}

/// The store's key for a username and IP: a digest, so no username is stored.
fn user_key(username: &str, ip: IpAddr) -> String {
    format!("{}:{ip}", short_digest(&username_key(username)))
}

#[async_trait]
impl Counting for Fleet {
    async fn login(&self, client: &str, ip: IpAddr) -> Result<RateInfo, ApiError> {
        let key = format!("login:{client}:{ip}");
        self.check(Check { name: "login", rate: self.config.login, key: &key }).await
    }

    async fn refresh(&self, subject: &str) -> Result<RateInfo, ApiError> {
        let key = format!("refresh:{}", short_digest(subject));
        self.check(Check { name: "refresh_per_user", rate: self.config.refresh_per_user, key: &key }).await
    }

    async fn attempt(&self, username: &str, ip: IpAddr) -> Result<RateInfo, ApiError> {
        let key = user_key(username, ip);
        if let Some(wait) = self.blocked_for(&key).await? {
            return Err(blocked(wait));
        }
        let key = format!("attempts:{key}");
        self.check(Check { name: "login_attempts", rate: self.config.login_attempts, key: &key }).await
    }

    async fn record_attempt(&self, username: &str, ip: IpAddr, success: bool) -> bool {
        let key = user_key(username, ip);
        self.record_outcome(&key, success, self.config.max_failures, self.config.block).await
    }

    /// A pre-check only: the fleet's count follows in `backend`.
    fn precheck_backend_ip(&self, ip: IpAddr) -> Result<Option<RateInfo>, ApiError> {
        self.precheck.as_ref().map_or(Ok(None), |l| l.check(&ip).map(|_| None))
    }

    /// The per-user and the per-IP limits, counted concurrently (pipelined on one connection).
    async fn backend(&self, ip: IpAddr, subject: Option<&str>) -> Result<Option<RateInfo>, ApiError> {
        let per_user = async {
            let (Some(rate), Some(subject)) = (self.config.backend_per_user, subject) else { return Ok(None) };
            let key = format!("user:{}", short_digest(subject));
            self.leased_check(Check { name: "backend_per_user", rate, key: &key }).await.map(Some)
        };
        let per_ip = async {
            let Some(rate) = self.config.backend_per_ip else { return Ok(None) };
            let key = format!("ip:{ip}");
            self.leased_check(Check { name: "backend_per_ip", rate, key: &key }).await.map(Some)
        };
        let (by_user, by_ip) = tokio::join!(per_user, per_ip);
        Ok(RateInfo::tightest(by_ip?, by_user?))
    }

    fn forget_idle(&self) {
        if let Some(l) = &self.precheck {
            l.forget_idle();
        }
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.precheck.as_ref().map_or(0, Limiter::len)
    }
}
