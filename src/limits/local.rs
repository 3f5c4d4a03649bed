//! The limits counted in this process (governor), for one replica: rate limiters keyed by
//! client, IP or user, and the consecutive failures of a username from an IP.

use super::{blocked, ceil_secs, too_many, username_key, Counting, LimitsConfig, Rate, RateInfo};
use crate::http::error::ApiError;
use async_trait::async_trait;
use governor::clock::{Clock, Reference};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::RateLimiter;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The clock the in-memory limits count time with: governor's own in the gateway, a
/// `governor::clock::FakeRelativeClock` in tests (so no test waits for a limit to refill).
pub trait LimitClock: Clock + Clone + Send + Sync + 'static {}
impl<C: Clock + Clone + Send + Sync + 'static> LimitClock for C {}

pub(super) type Keyed<K, C> = RateLimiter<K, DefaultKeyedStateStore<K>, C, StateInformationMiddleware>;

pub(super) struct Limiter<K: Hash + Eq + Clone, C: LimitClock> {
    /// The limit's name in metrics.
    name: &'static str,
    rate: Rate,
    inner: Keyed<K, C>,
}

impl<K: Hash + Eq + Clone, C: LimitClock> Limiter<K, C> {
    pub(super) fn new(name: &'static str, rate: Rate, clock: &C) -> Self {
        let inner = RateLimiter::dashmap_with_clock(rate.quota(), clock.clone());
        Limiter { name, rate, inner: inner.with_middleware::<StateInformationMiddleware>() }
    }

    pub(super) fn check(&self, key: &K) -> Result<RateInfo, ApiError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let per = self.rate.quota().replenish_interval();
        match self.inner.check_key(key) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                let refill = per * (self.rate.burst - remaining);
                Ok(RateInfo { limit: self.rate.burst, remaining, reset: ceil_secs(now + refill) })
            }
            Err(not_until) => Err(too_many(self.name, &self.rate, not_until.wait_time_from(self.inner.clock().now()))),
        }
    }

    pub(super) fn forget_idle(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.inner.len()
    }
}

/// Consecutive failed logins of one username from one IP, and the block they led to.
pub(super) struct Failures<I> {
    pub(super) count: u32,
    pub(super) blocked_until: Option<I>,
}

impl<I> Default for Failures<I> {
    fn default() -> Self {
        Failures { count: 0, blocked_until: None }
    }
}

/// One (username, IP)'s failures, updated in place.
pub(super) type SharedFailures<C> = Arc<Mutex<Failures<<C as Clock>::Instant>>>;

/// The limits' state in this process (governor), for one replica. Keys are keyed hashes, so
/// memory per key is fixed.
pub(super) struct Local<C: LimitClock> {
    clock: C,
    hasher: RandomState,
    max_failures: u32,
    block: Duration,
    login: Limiter<(u64, IpAddr), C>,
    attempts: Limiter<(u64, IpAddr), C>,
    refresh: Limiter<u64, C>,
    backend_ip: Option<Limiter<IpAddr, C>>,
    backend_user: Option<Limiter<u64, C>>,
    failures: moka::sync::Cache<(u64, IpAddr), SharedFailures<C>>,
}

impl<C: LimitClock> Local<C> {
    pub(super) fn new(config: &LimitsConfig, clock: C) -> Self {
        Local {
            login: Limiter::new("login", config.login, &clock),
            attempts: Limiter::new("login_attempts", config.login_attempts, &clock),
            refresh: Limiter::new("refresh_per_user", config.refresh_per_user, &clock),
            backend_ip: config.backend_per_ip.map(|r| Limiter::new("backend_per_ip", r, &clock)),
            backend_user: config.backend_per_user.map(|r| Limiter::new("backend_per_user", r, &clock)),
            failures: moka::sync::Cache::builder().max_capacity(1_000_000).time_to_idle(config.block).build(),
            hasher: RandomState::new(),
            max_failures: config.max_failures,
            block: config.block,
            clock,
        }
    }

    /// How long until `until`, when it lies ahead.
    fn time_until(&self, until: C::Instant) -> Option<Duration> {
        let left = Duration::from(until.duration_since(self.clock.now()));
        (!left.is_zero()).then_some(left)
    }

    /// Usernames compare trimmed, NFKC-normalised and case-insensitively (so `Ｄemo@example.com`
    /// and ` demo@example.com` count as `demo@example.com`).
    fn attempt_key(&self, username: &str, ip: IpAddr) -> (u64, IpAddr) {
        (self.hasher.hash_one(username_key(username)), ip)
    }
}

#[async_trait]
impl<C: LimitClock> Counting for Local<C> {
    async fn login(&self, client: &str, ip: IpAddr) -> Result<RateInfo, ApiError> {
        self.login.check(&(self.hasher.hash_one(client), ip))
    }

    async fn refresh(&self, subject: &str) -> Result<RateInfo, ApiError> {
        self.refresh.check(&self.hasher.hash_one(subject))
    }

    async fn attempt(&self, username: &str, ip: IpAddr) -> Result<RateInfo, ApiError> {
        let key = self.attempt_key(username, ip);
        if let Some(f) = self.failures.get(&key) {
            let blocked_until = f.lock().expect("not poisoned").blocked_until;
            if let Some(wait) = blocked_until.and_then(|until| self.time_until(until)) {
                return Err(blocked(wait));
            }
        }
        self.attempts.check(&key)
    }

    async fn record_attempt(&self, username: &str, ip: IpAddr, success: bool) -> bool {
        let key = self.attempt_key(username, ip);
        if success {
            self.failures.invalidate(&key);
            return false;
        }
        let entry = self.failures.get_with(key, Default::default);
        let mut f = entry.lock().expect("not poisoned");
        if f.blocked_until.is_some_and(|until| self.time_until(until).is_none()) {
            *f = Failures::default();
        }
        f.count += 1;
        if f.count >= self.max_failures {
            f.blocked_until = Some(self.clock.now() + Nanos::from(self.block));
            return true;
        }
        false
    }

    /// In this process the per-IP limit itself.
    fn precheck_backend_ip(&self, ip: IpAddr) -> Result<Option<RateInfo>, ApiError> {
        self.backend_ip.as_ref().map(|l| l.check(&ip)).transpose()
    }

    /// The per-user limit (the per-IP one was the pre-check).
    async fn backend(&self, _ip: IpAddr, subject: Option<&str>) -> Result<Option<RateInfo>, ApiError> {
        let (Some(limiter), Some(subject)) = (&self.backend_user, subject) else { return Ok(None) };
        limiter.check(&self.hasher.hash_one(subject)).map(Some)
    }

    fn forget_idle(&self) {
        self.login.forget_idle();
        self.attempts.forget_idle();
        self.refresh.forget_idle();
        if let Some(l) = &self.backend_ip {
            l.forget_idle();
        }
        if let Some(l) = &self.backend_user {
            l.forget_idle();
        }
        self.failures.run_pending_tasks();
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.login.len()
            + self.attempts.len()
            + self.refresh.len()
            + self.backend_ip.as_ref().map_or(0, Limiter::len)
            + self.backend_user.as_ref().map_or(0, Limiter::len)
            + self.failures.entry_count() as usize
    }
}
