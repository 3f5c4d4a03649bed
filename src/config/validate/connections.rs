//! The `connections` block: how many downstream connections are served (in all, and from one
//! address), and for how long.

use super::defaults::{
    DEFAULT_BODY_TIMEOUT_MS, DEFAULT_HEADER_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_IP,
};
use super::scalars::at_least;
use super::Problems;
use crate::config::file::FileConnections;
use std::time::Duration;

pub(super) fn connections(p: &mut Problems, c: &FileConnections) -> crate::config::ConnectionLimits {
    let max = at_least(p, "connections.max", c.max, DEFAULT_MAX_CONNECTIONS, 1, "");
    let max_per_ip = at_least(p, "connections.max_per_ip", c.max_per_ip, DEFAULT_MAX_CONNECTIONS_PER_IP, 1, "");
    let ms = |p: &mut Problems, key: &str, v: Option<u64>, default: u64| {
        Duration::from_millis(at_least(p, key, v, default, 100, "milliseconds"))
    };
    crate::config::ConnectionLimits {
        max,
        max_per_ip,
        header_timeout: ms(p, "connections.header_timeout_ms", c.header_timeout_ms, DEFAULT_HEADER_TIMEOUT_MS),
        body_timeout: ms(p, "connections.body_timeout_ms", c.body_timeout_ms, DEFAULT_BODY_TIMEOUT_MS),
        idle_timeout: ms(p, "connections.idle_timeout_ms", c.idle_timeout_ms, DEFAULT_IDLE_TIMEOUT_MS),
    }
}
