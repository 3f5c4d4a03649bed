//! Rate limits (governor) and brute-force protection, decided in one place, answered with
//! the `X-RateLimit-*` headers. Plain values in and out.

pub mod client_ip;
mod quota;

pub use quota::Rate;

use crate::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::RateLimiter;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// What a limit said about a request, for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    /// Requests allowed at once (the burst).
    pub limit: u32,
    pub remaining: u32,
    /// UTC epoch seconds when the allowance is whole again.
    pub reset: u64,
}

impl RateInfo {
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", self.reset.to_string()),
        ]
    }

    /// The tighter of two: the one with less left.
    pub fn tightest(a: Option<RateInfo>, b: Option<RateInfo>) -> Option<RateInfo> {
        match (a, b) {
            (Some(x), Some(y)) => Some(if y.remaining < x.remaining { y } else { x }),
            (x, None) => x,
            (None, y) => y,
        }
    }
}

/// The login limiter's key for the session endpoints (client indexes are far below it; the
/// unknown-secret bucket is `u16::MAX`).
const SESSION_ENDPOINTS: u16 = u16::MAX - 1;

/// The form of a username that brute-force counts are keyed by.
pub fn username_key(username: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    username.trim().nfkc().collect::<String>().to_lowercase()
}

const TOO_MANY_REQUESTS: &str =
    "Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset headers.";
const BLOCKED: &str = "Your account has been blocked after multiple consecutive login attempts.";

/// Configuration of the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Per (client, client IP) on the login endpoints.
    pub login: Rate,
    /// Per (username, client IP) on login attempts.
    pub login_attempts: Rate,
    pub backend_per_ip: Option<Rate>,
    pub backend_per_user: Option<Rate>,
    pub max_failures: u32,
    pub block: Duration,
}

struct Limiter<K: Hash + Eq + Clone> {
    /// The limit's name in metrics.
    name: &'static str,
    rate: Rate,
    inner: Keyed<K>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    fn new(name: &'static str, rate: Rate) -> Self {
        Limiter { name, rate, inner: RateLimiter::keyed(rate.quota()).with_middleware::<StateInformationMiddleware>() }
    }

    fn check(&self, key: &K) -> Result<RateInfo, ApiError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let per = self.rate.quota().replenish_interval();
        match self.inner.check_key(key) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                let refill = per * (self.rate.burst - remaining);
                Ok(RateInfo { limit: self.rate.burst, remaining, reset: ceil_secs(now + refill) })
            }
            Err(not_until) => {
                crate::metrics::metrics().limit_refusals.with_label_values(&[self.name]).inc();
                let wait = not_until.wait_time_from(self.inner.clock().now());
                let info = RateInfo { limit: self.rate.burst, remaining: 0, reset: ceil_secs(now + wait) };
                let mut e = ApiError::new(429, "too_many_requests", TOO_MANY_REQUESTS)
                    .with_header("retry-after", ceil_secs(wait).max(1).to_string());
                e.headers.extend(info.headers());
                Err(e)
            }
        }
    }

    fn forget_idle(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.inner.len()
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[derive(Default)]
struct Failures {
    count: u32,
    blocked_until: Option<Instant>,
}

/// Every limit of the gateway.
pub struct Limits {
    pub config: LimitsConfig,
    hasher: std::collections::hash_map::RandomState,
    login: Limiter<(u16, IpAddr)>,
    attempts: Limiter<(u64, IpAddr)>,
    backend_ip: Option<Limiter<IpAddr>>,
    backend_user: Option<Limiter<u64>>,
    failures: moka::sync::Cache<(u64, IpAddr), Arc<Mutex<Failures>>>,
}

impl Limits {
    pub fn new(config: LimitsConfig) -> Self {
        Limits {
            hasher: Default::default(),
            login: Limiter::new("login", config.login),
            attempts: Limiter::new("login_attempts", config.login_attempts),
            backend_ip: config.backend_per_ip.map(|r| Limiter::new("backend_per_ip", r)),
            backend_user: config.backend_per_user.map(|r| Limiter::new("backend_per_user", r)),
            failures: moka::sync::Cache::builder().max_capacity(1_000_000).time_to_idle(config.block).build(),
            config,
        }
    }

    /// Usernames compare trimmed, NFKC-normalised and case-insensitively (so `Ｄemo@example.com`
    /// and ` demo@example.com` count as `demo@example.com`); keys are keyed hashes, so memory
    /// per key is fixed.
    fn user_key(&self, username: &str) -> u64 {
        self.hasher.hash_one(username_key(username))
    }

    /// The end user's IP for a request from `peer`.
    pub fn client_ip(&self, peer: IpAddr, headers: &http::HeaderMap) -> IpAddr {
        client_ip::resolve(peer, headers, &self.config.trusted_proxies).client
    }

    /// The end user's IP and the `X-Forwarded-For` chain to send on.
    pub fn forwarding(&self, peer: IpAddr, headers: &http::HeaderMap) -> client_ip::Resolved {
        client_ip::resolve(peer, headers, &self.config.trusted_proxies)
    }

    /// A call to `/userinfo` or `/logout` from `ip`: under the login rate, in a bucket of its
    /// own per IP.
    pub fn check_session_endpoint(&self, ip: IpAddr) -> Result<RateInfo, ApiError> {
        self.login.check(&(SESSION_ENDPOINTS, ip))
    }

    /// A login call from `ip` by the client at `client_index`.
    pub fn check_login(&self, client_index: usize, ip: IpAddr) -> Result<RateInfo, ApiError> {
        self.login.check(&(client_index as u16, ip))
    }

    /// A login attempt for `username` from `ip`: brute-force block first, then the rate.
    pub fn check_attempt(&self, username: &str, ip: IpAddr) -> Result<RateInfo, ApiError> {
        let key = (self.user_key(username), ip);
        if let Some(f) = self.failures.get(&key) {
            let f = f.lock().expect("not poisoned");
            if let Some(until) = f.blocked_until.filter(|u| *u > Instant::now()) {
                let wait = until - Instant::now();
                crate::metrics::metrics().limit_refusals.with_label_values(&["brute_force"]).inc();
                return Err(ApiError::new(429, "too_many_attempts", BLOCKED)
                    .with_header("retry-after", ceil_secs(wait).max(1).to_string()));
            }
        }
        self.attempts.check(&key)
    }

    /// The outcome of a login attempt: failures count up to a block; a success resets.
    pub fn record_attempt(&self, username: &str, ip: IpAddr, success: bool) {
        let key = (self.user_key(username), ip);
        if success {
            self.failures.invalidate(&key);
            return;
        }
        let entry = self.failures.get_with(key, Default::default);
        let mut f = entry.lock().expect("not poisoned");
        if f.blocked_until.is_some_and(|u| u <= Instant::now()) {
            *f = Failures::default();
        }
        f.count += 1;
        if f.count >= self.config.max_failures {
            f.blocked_until = Some(Instant::now() + self.config.block);
            tracing::warn!(%ip, "login attempts blocked after {} consecutive failures", f.count);
        }
    }

    /// A backend request from `ip` (checked before the guard, so floods stay cheap).
    pub fn check_backend_ip(&self, ip: IpAddr) -> Result<Option<RateInfo>, ApiError> {
        self.backend_ip.as_ref().map(|l| l.check(&ip)).transpose()
    }

    /// A backend request by the user `subject` (checked once the guard verified the token).
    pub fn check_backend_user(&self, subject: &str) -> Result<Option<RateInfo>, ApiError> {
        self.backend_user.as_ref().map(|l| l.check(&self.hasher.hash_one(subject))).transpose()
    }

    /// Drop the state of keys that have been idle long enough to be whole again.
    pub fn forget_idle(&self) {
        self.login.forget_idle();
        self.attempts.forget_idle();
        if let Some(l) = &self.backend_ip {
            l.forget_idle();
        }
        if let Some(l) = &self.backend_user {
            l.forget_idle();
        }
        self.failures.run_pending_tasks();
    }

    /// Keys held, for metrics and tests.
    pub fn keys(&self) -> usize {
        self.login.len()
            + self.attempts.len()
            + self.backend_ip.as_ref().map_or(0, Limiter::len)
            + self.backend_user.as_ref().map_or(0, Limiter::len)
            + self.failures.entry_count() as usize
    }
}

#[cfg(test)]
mod tests;
