//! Rate limits (governor) and brute-force protection, decided in one place, answered with
//! the `X-RateLimit-*` headers. Plain values in and out.

pub(crate) mod client_ip;
mod fleet;
mod local;

pub use crate::config::{LimitsConfig, Rate};
pub use local::LimitClock;

use fleet::Fleet;
use local::Local;

use crate::config::OnStoreError;
use crate::http::error::ApiError;
use crate::store::LimitStore;
use async_trait::async_trait;
use governor::clock::DefaultClock;
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

    /// Add the `X-RateLimit-*` headers to an answer's, unless a limit nearer the answer (the
    /// tenant's, a tighter one) set them already: the one place they are merged.
    pub(crate) fn stamp(&self, headers: &mut Vec<(&'static str, String)>) {
        if !headers.iter().any(|(n, _)| *n == "x-ratelimit-limit") {
            headers.extend(self.headers());
        }
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
    info.stamp(&mut e.headers);
    e
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Where the limits are counted, chosen once when they are built: in this process
/// (`local::Local`, governor) or for the whole fleet in the shared store (`fleet::Fleet`).
#[async_trait]
pub(super) trait Counting: Send + Sync {
    /// A login call by the client named `client` from `ip`.
    async fn login(&self, client: &str, ip: IpAddr) -> Result<RateInfo, ApiError>;
    /// A refresh for the user `subject`.
    async fn refresh(&self, subject: &str) -> Result<RateInfo, ApiError>;
    /// A password attempt for `username` from `ip`: the brute-force block first, then the rate.
    async fn attempt(&self, username: &str, ip: IpAddr) -> Result<RateInfo, ApiError>;
    /// A password attempt's outcome; `true` when this failure started a block.
    async fn record_attempt(&self, username: &str, ip: IpAddr, success: bool) -> bool;
    /// A backend request from `ip`, before the guard (see `Limits::precheck_backend_ip`).
    fn precheck_backend_ip(&self, ip: IpAddr) -> Result<Option<RateInfo>, ApiError>;
    /// A backend request once the guard let it through (see `Limits::check_backend`).
    async fn backend(&self, ip: IpAddr, subject: Option<&str>) -> Result<Option<RateInfo>, ApiError>;
    /// Drop the state of keys that have been idle long enough to be whole again.
    fn forget_idle(&self);
    /// Keys held in this process.
    #[cfg(test)]
    fn keys(&self) -> usize;
}

/// Every limit of the gateway.
pub struct Limits {
    pub(crate) config: LimitsConfig,
    counting: Box<dyn Counting>,
}

impl Limits {
    pub fn new(config: LimitsConfig) -> Self {
        Self::with_clock(config, DefaultClock::default())
    }

    /// The limits in this process, counting time with `clock`.
    pub(crate) fn with_clock<C: LimitClock>(config: LimitsConfig, clock: C) -> Self {
        Limits { counting: Box::new(Local::new(&config, clock)), config }
    }

    /// The same limits, counted in the shared store for the whole fleet.
    pub(crate) fn fleet(config: LimitsConfig, store: Arc<dyn LimitStore>, on_error: OnStoreError) -> Self {
        Limits { counting: Box::new(Fleet::new(&config, store, on_error)), config }
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
        self.counting.login(client, ip).await
    }

    /// A refresh for the user `subject`: each adds a revocation that lives as long as the
    /// replaced token, so one account may add only so many (fleet-wide with a store).
    pub(crate) async fn check_refresh(&self, subject: &str) -> Result<RateInfo, ApiError> {
        self.counting.refresh(subject).await
    }

    /// A call to `/userinfo` or `/logout` from `ip`: under the login rate, in a bucket of its
    /// own per IP.
    pub(crate) async fn check_session_endpoint(&self, ip: IpAddr) -> Result<RateInfo, ApiError> {
        self.check_login(SESSION_ENDPOINTS, ip).await
    }

    /// A login attempt for `username` from `ip`: brute-force block first, then the rate.
    pub async fn check_attempt(&self, username: &str, ip: IpAddr) -> Result<RateInfo, ApiError> {
        self.counting.attempt(username, ip).await
    }

    /// The outcome of a login attempt: failures count up to a block; a success resets.
    pub(crate) async fn record_attempt(&self, username: &str, ip: IpAddr, success: bool) {
        if self.counting.record_attempt(username, ip, success).await {
            tracing::warn!(%ip, "login attempts blocked after {} consecutive failures", self.config.max_failures);
            let digest = short_digest(&username_key(username));
            crate::audit::brute_force_blocked(&digest, ip, self.config.max_failures, self.config.block.as_secs());
        }
    }

    /// A backend request from `ip`, before the guard (so floods stay cheap). In memory this is
    /// the per-IP check itself. With the shared store it is a local pre-check at the same rate
    /// (one replica seeing more than the whole fleet may is over the limit for sure): the
    /// shared count follows in `check_backend`, so the guarded path makes at most one store
    /// round trip.
    pub async fn precheck_backend_ip(&self, ip: IpAddr) -> Result<Option<RateInfo>, ApiError> {
        self.counting.precheck_backend_ip(ip)
    }

    /// A backend request from `ip` by the user `subject` (once the guard verified it): the
    /// per-user limit, and with the shared store the per-IP one, both counted concurrently
    /// (pipelined on one connection). The tightest limit that applied.
    pub(crate) async fn check_backend(&self, ip: IpAddr, subject: Option<&str>) -> Result<Option<RateInfo>, ApiError> {
        self.counting.backend(ip, subject).await
    }

    /// Drop the state of keys that have been idle long enough to be whole again.
    pub(crate) fn forget_idle(&self) {
        self.counting.forget_idle();
    }

    /// Keys held in this process, for tests.
    #[cfg(test)]
    pub(crate) fn keys(&self) -> usize {
        self.counting.keys()
    }
}

/// The first 128 bits of a value's SHA-256, in hex: how the shared store names users.
pub(super) fn short_digest(value: &str) -> String {
    use sha2::Digest;
    crate::http::hex::hex(&sha2::Sha256::digest(value.as_bytes())[..16])
}

pub(super) fn blocked(wait: Duration) -> ApiError {
    crate::metrics::metrics().limit_refusals.with_label_values(&["brute_force"]).inc();
    ApiError::new(429, "too_many_attempts", BLOCKED).with_header("retry-after", ceil_secs(wait).max(1).to_string())
}

fn store_unavailable() -> ApiError {
    ApiError::unavailable("The rate-limit store cannot be reached; try again shortly.", 1)
}

#[cfg(test)]
mod tests;
