//! The limits counted in this process (governor), for one replica: rate limiters keyed by
//! client, IP or user, and the consecutive failures of a username from an IP.

use super::{ceil_secs, too_many, Rate, RateInfo};
use crate::http::error::ApiError;
use governor::clock::{Clock, Reference};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::RateLimiter;
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

/// The limits' state in this process (governor), for one replica.
pub(super) struct Local<C: LimitClock> {
    pub(super) clock: C,
    pub(super) login: Limiter<(u64, IpAddr), C>,
    pub(super) attempts: Limiter<(u64, IpAddr), C>,
    pub(super) refresh: Limiter<u64, C>,
    pub(super) backend_ip: Option<Limiter<IpAddr, C>>,
    pub(super) backend_user: Option<Limiter<u64, C>>,
    pub(super) failures: moka::sync::Cache<(u64, IpAddr), SharedFailures<C>>,
}

impl<C: LimitClock> Local<C> {
    /// How long until `until`, when it lies ahead.
    pub(super) fn time_until(&self, until: C::Instant) -> Option<Duration> {
        let left = Duration::from(until.duration_since(self.clock.now()));
        (!left.is_zero()).then_some(left)
    }
}
