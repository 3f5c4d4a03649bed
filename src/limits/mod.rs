//! Rate limits (governor) and brute-force protection, decided in one place, answered with
//! the `X-RateLimit-*` headers. Plain values in and out.

pub(crate) mod client_ip;
mod fleet;
mod local;

pub use crate::config::{LimitsConfig, Rate};
pub use local::LimitClock;

use fleet::{Check, Fleet};
use local::{Failures, Limiter, Local};

use crate::config::OnStoreError;
use crate::http::error::ApiError;
use crate::store::LimitStore;
use governor::clock::DefaultClock;
use governor::nanos::Nanos;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a limit said about a request, for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    /// Requests allowed at once (the burst).
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// UTC epoch seconds when the allowance is whole again.
    pub(crate) reset: u64,
}

impl RateInfo {
    pub(crate) fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", self.reset.to_string()),
        ]
    }

    /// The tighter of two: the one with less left.
    pub(crate) fn tightest(a: Option<RateInfo>, b: Option<RateInfo>) -> Option<RateInfo> {
        match (a, b) {
            (Some(x), Some(y)) => Some(if y.remaining < x.remaining { y } else { x }),
            (x, None) => x,
            (None, y) => y,
        }
    }
}

/// The login limiter's bucket for the session endpoints (no client can be named so).
const SESSION_ENDPOINTS: &str = "\0session-endpoints";

/// The form of a username that brute-force counts are keyed by.
pub(crate) fn username_key(username: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    username.trim().nfkc().collect::<String>().to_lowercase()
}

const TOO_MANY_REQUESTS: &str =
    "Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset headers.";
const BLOCKED: &str = "Your account has been blocked after multiple consecutive login attempts.";

fn too_many(name: &'static str, rate: &Rate, wait: Duration) -> ApiError {
    crate::metrics::metrics().limit_refusals.with_label_values(&[name]).inc();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let info = RateInfo { limit: rate.burst, remaining: 0, reset: ceil_secs(now + wait) };
    let mut e = ApiError::new(429, "too_many_requests", TOO_MANY_REQUESTS)
        .with_header("retry-after", ceil_secs(wait).max(1).to_string());
    e.headers.extend(info.headers());
    e
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Every limit of the gateway; `C` is the in-memory limits' clock.
pub struct Limits<C: LimitClock = DefaultClock> {
    pub(crate) config: LimitsConfig,
    hasher: std::collections::hash_map::RandomState,
    local: Local<C>,
    fleet: Option<Fleet>,
}

impl Limits {
    pub fn new(config: LimitsConfig) -> Self {
        Self::with_clock(config, DefaultClock::default())
    }

    /// The same limits, counted in the shared store.
    pub(crate) fn fleet(config: LimitsConfig, store: Arc<dyn LimitStore>, on_error: OnStoreError) -> Self {
        let mut limits = Self::new(config);
        limits.fleet = Some(Fleet::new(store, on_error));
        limits
    }
}

impl<C: LimitClock> Limits<C> {
    /// The limits in this process, counting time with `clock`.
    pub(crate) fn with_clock(config: LimitsConfig, clock: C) -> Self {
        let local = Local {
            login: Limiter::new("login", config.login, &clock),
            attempts: Limiter::new("login_attempts", config.login_attempts, &clock),
            refresh: Limiter::new("refresh_per_user", config.refresh_per_user, &clock),
            backend_ip: config.backend_per_ip.map(|r| Limiter::new("backend_per_ip", r, &clock)),
            backend_user: config.backend_per_user.map(|r| Limiter::new("backend_per_user", r, &clock)),
            failures: moka::sync::Cache::builder().max_capacity(1_000_000).time_to_idle(config.block).build(),
            clock: clock.clone(),
        };
        Limits { hasher: Default::default(), local, fleet: None, config }
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
    pub(crate) fn forwarding(&self, peer: IpAddr, headers: &http::HeaderMap) -> client_ip::Resolved {
        client_ip::resolve(peer, headers, &self.config.trusted_proxies)
    }

    /// A login call from `ip` by the client named `client` (`""`: an unknown secret; such
    /// calls share one bucket per IP, so guessing secrets is limited too).
    pub async fn check_login(&self, client: &str, ip: IpAddr) -> Result<RateInfo, ApiError> {
        match &self.fleet {
            Some(s) => {
                let key = format!("login:{client}:{ip}");
                s.check(Check { name: "login", rate: self.config.login, key: &key }).await
            }
            None => self.local.login.check(&(self.hasher.hash_one(client), ip)),
        }
    }

    /// A refresh for the user `subject`: each adds a revocation that lives as long as the
    /// replaced token, so one account may add only so many (fleet-wide with a store).
    pub(crate) async fn check_refresh(&self, subject: &str) -> Result<RateInfo, ApiError> {
        match &self.fleet {
            Some(s) => {
                let key = format!("refresh:{}", short_digest(subject));
                s.check(Check { name: "refresh_per_user", rate: self.config.refresh_per_user, key: &key }).await
            }
            None => self.local.refresh.check(&self.hasher.hash_one(subject)),
        }
    }

    /// A call to `/userinfo` or `/logout` from `ip`: under the login rate, in a bucket of its
    /// own per IP.
    pub(crate) async fn check_session_endpoint(&self, ip: IpAddr) -> Result<RateInfo, ApiError> {
        self.check_login(SESSION_ENDPOINTS, ip).await
    }

    /// The shared store's key for a username and IP: a digest, so no username is stored.
    fn fleet_user_key(username: &str, ip: IpAddr) -> String {
        format!("{}:{ip}", short_digest(&username_key(username)))
    }

    /// A login attempt for `username` from `ip`: brute-force block first, then the rate.
    pub async fn check_attempt(&self, username: &str, ip: IpAddr) -> Result<RateInfo, ApiError> {
        if let Some(s) = &self.fleet {
            let key = Self::fleet_user_key(username, ip);
            if let Some(wait) = s.blocked_for(&key).await? {
                return Err(blocked(wait));
            }
            let key = format!("attempts:{key}");
            return s.check(Check { name: "login_attempts", rate: self.config.login_attempts, key: &key }).await;
        }
        let key = (self.user_key(username), ip);
        if let Some(f) = self.local.failures.get(&key) {
            let blocked_until = f.lock().expect("not poisoned").blocked_until;
            if let Some(wait) = blocked_until.and_then(|until| self.local.time_until(until)) {
                return Err(blocked(wait));
            }
        }
        self.local.attempts.check(&key)
    }

    /// The outcome of a login attempt: failures count up to a block; a success resets.
    pub(crate) async fn record_attempt(&self, username: &str, ip: IpAddr, success: bool) {
        if let Some(s) = &self.fleet {
            let key = Self::fleet_user_key(username, ip);
            if s.record_attempt(&key, success, self.config.max_failures, self.config.block).await {
                tracing::warn!(%ip, "login attempts blocked after {} consecutive failures", self.config.max_failures)
            }
            return;
        }
        let key = (self.user_key(username), ip);
        if success {
            self.local.failures.invalidate(&key);
            return;
        }
        let entry = self.local.failures.get_with(key, Default::default);
        let mut f = entry.lock().expect("not poisoned");
        if f.blocked_until.is_some_and(|until| self.local.time_until(until).is_none()) {
            *f = Failures::default();
        }
        f.count += 1;
        if f.count >= self.config.max_failures {
            f.blocked_until = Some(self.local.clock.now() + Nanos::from(self.config.block));
            tracing::warn!(%ip, "login attempts blocked after {} consecutive failures", f.count);
        }
    }

    /// A backend request from `ip`, before the guard (so floods stay cheap). In memory this is
    /// the per-IP check itself. With the shared store it is a local pre-check at the same rate
    /// (one replica seeing more than the whole fleet may is over the limit for sure): the
    /// shared count follows in `check_backend`, so the guarded path makes at most one store
    /// round trip.
    pub async fn precheck_backend_ip(&self, ip: IpAddr) -> Result<Option<RateInfo>, ApiError> {
        let Some(local) = &self.local.backend_ip else { return Ok(None) };
        match &self.fleet {
            Some(_) => local.check(&ip).map(|_| None),
            None => local.check(&ip).map(Some),
        }
    }

    /// A backend request from `ip` by the user `subject` (once the guard verified it): the
    /// per-user limit, and with the shared store the per-IP one, both counted concurrently
    /// (pipelined on one connection). The tightest limit that applied.
    pub(crate) async fn check_backend(&self, ip: IpAddr, subject: Option<&str>) -> Result<Option<RateInfo>, ApiError> {
        let per_user = async {
            let (Some(rate), Some(local), Some(subject)) =
                (self.config.backend_per_user, &self.local.backend_user, subject)
            else {
                return Ok(None);
            };
            match &self.fleet {
                Some(s) => {
                    let key = format!("user:{}", short_digest(subject));
                    s.leased_check(Check { name: "backend_per_user", rate, key: &key }).await.map(Some)
                }
                None => local.check(&self.hasher.hash_one(subject)).map(Some),
            }
        };
        let per_ip = async {
            match (&self.fleet, self.config.backend_per_ip) {
                (Some(s), Some(rate)) => {
                    let key = format!("ip:{ip}");
                    s.leased_check(Check { name: "backend_per_ip", rate, key: &key }).await.map(Some)
                }
                _ => Ok(None),
            }
        };
        let (by_user, by_ip) = tokio::join!(per_user, per_ip);
        Ok(RateInfo::tightest(by_ip?, by_user?))
    }

    /// Drop the state of keys that have been idle long enough to be whole again.
    pub(crate) fn forget_idle(&self) {
        self.local.login.forget_idle();
        self.local.attempts.forget_idle();
        self.local.refresh.forget_idle();
        if let Some(l) = &self.local.backend_ip {
            l.forget_idle();
        }
        if let Some(l) = &self.local.backend_user {
            l.forget_idle();
        }
        self.local.failures.run_pending_tasks();
    }

    /// Keys held in this process, for tests.
    #[cfg(test)]
    pub(crate) fn keys(&self) -> usize {
        let l = &self.local;
        l.login.len()
            + l.attempts.len()
            + l.refresh.len()
            + l.backend_ip.as_ref().map_or(0, Limiter::len)
            + l.backend_user.as_ref().map_or(0, Limiter::len)
            + l.failures.entry_count() as usize
    }
}

/// The first 128 bits of a value's SHA-256, in hex: how the shared store names users.
fn short_digest(value: &str) -> String {
    use sha2::Digest;
    crate::http::hex::hex(&sha2::Sha256::digest(value.as_bytes())[..16])
}

fn blocked(wait: Duration) -> ApiError {
    crate::metrics::metrics().limit_refusals.with_label_values(&["brute_force"]).inc();
    ApiError::new(429, "too_many_attempts", BLOCKED).with_header("retry-after", ceil_secs(wait).max(1).to_string())
}

fn store_unavailable() -> ApiError {
    ApiError::new(503, "temporarily_unavailable", "The rate-limit store cannot be reached; try again shortly.")
        .with_header("retry-after", "1")
}

#[cfg(test)]
mod tests;
