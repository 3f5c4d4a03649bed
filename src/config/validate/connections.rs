//! The `connections` block: how many downstream connections are served (in all, and from one
//! address), and for how long.

use super::defaults::{
    DEFAULT_BODY_TIMEOUT_MS, DEFAULT_HEADER_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_IP,
};
use super::Problems;
use crate::config::file::FileConnections;
use std::time::Duration;

pub(super) fn connections(p: &mut Problems, c: &FileConnections) -> crate::config::ConnectionLimits {
    let max = c.max.unwrap_or(DEFAULT_MAX_CONNECTIONS);
    if max == 0 {
        p.push("connections.max", "must be at least 1");
    }
    let ms = |p: &mut Problems, key: &str, v: Option<u64>, default: u64| {
        let ms = v.unwrap_or(default);
        if ms < 100 {
            p.push(key, "must be at least 100 (milliseconds)");
        }
        Duration::from_millis(ms)
    };
    let max_per_ip = c.max_per_ip.unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_IP);
    if max_per_ip == 0 {
        p.push("connections.max_per_ip", "must be at least 1");
    }
    crate::config::ConnectionLimits {
        max,
        max_per_ip,
        header_timeout: ms(p, "connections.header_timeout_ms", c.header_timeout_ms, DEFAULT_HEADER_TIMEOUT_MS),
        body_timeout: ms(p, "connections.body_timeout_ms", c.body_timeout_ms, DEFAULT_BODY_TIMEOUT_MS),
        idle_timeout: ms(p, "connections.idle_timeout_ms", c.idle_timeout_ms, DEFAULT_IDLE_TIMEOUT_MS),
    }
}
