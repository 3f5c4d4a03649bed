//! The `limits` block: trusted proxies, rate limits and the brute-force block.

use super::defaults::{
    DEFAULT_BLOCK_SECONDS, DEFAULT_LOGIN_ATTEMPTS_BURST, DEFAULT_LOGIN_ATTEMPTS_RATE, DEFAULT_LOGIN_BURST,
    DEFAULT_LOGIN_RATE, DEFAULT_MAX_FAILURES, DEFAULT_REFRESH_PER_USER_BURST, DEFAULT_REFRESH_PER_USER_RATE,
    MAX_BLOCK_SECONDS,
};
use super::Problems;
use crate::config::file::{FileLimits, FileRate};
use crate::config::{LimitsConfig, Rate};
use std::time::Duration;

fn rate(p: &mut Problems, key: &str, r: Option<FileRate>, default: Option<(&str, u32)>) -> Option<Rate> {
    let (text, burst) = match (r, default) {
        (Some(r), _) => (r.rate, r.burst),
        (None, Some((d, b))) => (d.to_string(), Some(b)),
        (None, None) => return None,
    };
    Rate::parse(&text, burst).map_err(|e| p.push(key, e)).ok()
}

pub(super) fn limits(p: &mut Problems, l: FileLimits) -> LimitsConfig {
    let trusted_proxies = l
        .trusted_proxies
        .iter()
        .filter_map(|c| {
            c.parse::<ipnet::IpNet>()
                .or_else(|_| c.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| p.push("limits.trusted_proxies", format!("{c:?} is not a CIDR like 10.0.0.0/8")))
                .ok()
        })
        .collect();
    let fallback = Rate::parse(DEFAULT_LOGIN_RATE, Some(DEFAULT_LOGIN_BURST)).expect("valid");
    let max_failures = l.brute_force.max_failures.unwrap_or(DEFAULT_MAX_FAILURES);
    if max_failures == 0 {
        p.push("limits.brute_force.max_failures", "must be at least 1");
    }
    let block_seconds = l.brute_force.block_seconds.unwrap_or(DEFAULT_BLOCK_SECONDS);
    if !(1..=MAX_BLOCK_SECONDS).contains(&block_seconds) {
        p.push("limits.brute_force.block_seconds", format!("must be from 1 to {MAX_BLOCK_SECONDS} (30 days)"));
    }
    LimitsConfig {
        trusted_proxies,
        login: rate(p, "limits.login", l.login, Some((DEFAULT_LOGIN_RATE, DEFAULT_LOGIN_BURST))).unwrap_or(fallback),
        login_attempts: rate(
            p,
            "limits.login_attempts",
            l.login_attempts,
            Some((DEFAULT_LOGIN_ATTEMPTS_RATE, DEFAULT_LOGIN_ATTEMPTS_BURST)),
        )
        .unwrap_or(fallback),
        refresh_per_user: rate(
            p,
            "limits.refresh_per_user",
            l.refresh_per_user,
            Some((DEFAULT_REFRESH_PER_USER_RATE, DEFAULT_REFRESH_PER_USER_BURST)),
        )
        .unwrap_or(fallback),
        backend_per_ip: rate(p, "limits.backend_per_ip", l.backend_per_ip, None),
        backend_per_user: rate(p, "limits.backend_per_user", l.backend_per_user, None),
        max_failures,
        block: Duration::from_secs(block_seconds.clamp(1, MAX_BLOCK_SECONDS)),
    }
}
