//! The limits' configuration: quotas written like `10/s`, `20/min` or `1000/h`, with a burst
//! (as governor quotas), and which limits apply.

use governor::Quota;
use std::num::NonZeroU32;
use std::time::Duration;

/// Configuration of the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Per (client, client IP) on the login endpoints.
    pub login: Rate,
    /// Per (username, client IP) on login attempts.
    pub login_attempts: Rate,
    /// Refreshes per user (`sub`).
    pub refresh_per_user: Rate,
    pub backend_per_ip: Option<Rate>,
    pub backend_per_user: Option<Rate>,
    pub max_failures: u32,
    pub block: Duration,
}

/// A parsed rate: `count` requests per `period`, bursts up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub(crate) count: u32,
    pub(crate) period: Duration,
    pub(crate) burst: u32,
}

impl Rate {
    /// Parse `N/s`, `N/sec`, `N/min`, `N/h` (or `N/hour`); `burst` defaults to `N`.
    pub fn parse(text: &str, burst: Option<u32>) -> Result<Rate, String> {
        let (n, unit) = text.split_once('/').ok_or_else(|| format!("{text:?} is not like 10/s or 20/min"))?;
        let count: u32 = n
            .trim()
            .parse()
            .ok()
            .filter(|c| *c > 0)
            .ok_or_else(|| format!("{text:?}: the count must be a positive number"))?;
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => return Err(format!("{text:?}: unknown unit {other:?} (use s, min or h)")),
        };
        let burst = burst.unwrap_or(count);
        if burst == 0 {
            return Err("burst must be at least 1".to_string());
        }
        Ok(Rate { count, period, burst })
    }

    pub(crate) fn quota(&self) -> Quota {
        let interval = self.period / self.count;
        Quota::with_period(interval.max(Duration::from_nanos(1)))
            .expect("non-zero interval")
            .allow_burst(NonZeroU32::new(self.burst).expect("checked"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_units_and_bursts() {
        let r = Rate::parse("10/s", Some(50)).unwrap();
        assert_eq!((r.count, r.period, r.burst), (10, Duration::from_secs(1), 50));
        assert_eq!(r.quota().replenish_interval(), Duration::from_millis(100));
        assert_eq!(r.quota().burst_size().get(), 50);
        let r = Rate::parse("20/min", None).unwrap();
        assert_eq!((r.burst, r.quota().replenish_interval()), (20, Duration::from_secs(3)));
        assert!(Rate::parse("1000/h", None).is_ok());
    }

    #[test]
    fn bad_rates_are_refused() {
        for bad in ["10", "0/s", "x/s", "10/day", "-1/s"] {
            assert!(Rate::parse(bad, None).is_err(), "{bad}");
        }
        assert!(Rate::parse("10/s", Some(0)).is_err());
    }
}
