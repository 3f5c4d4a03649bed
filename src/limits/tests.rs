use super::*;
use governor::clock::FakeRelativeClock;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Limits on a fake clock: tests move time on with `clock.advance`, never sleep.
fn limits(login: &str, burst: u32) -> (Limits, FakeRelativeClock) {
    let clock = FakeRelativeClock::default();
    let config = LimitsConfig {
        trusted_proxies: vec![],
        login: Rate::parse(login, Some(burst)).unwrap(),
        login_attempts: Rate::parse("20/min", None).unwrap(),
        refresh_per_user: Rate::parse("1/h", Some(2)).unwrap(),
        backend_per_ip: Some(Rate::parse("1/h", Some(2)).unwrap()),
        backend_per_user: Some(Rate::parse("1/h", Some(1)).unwrap()),
        max_failures: 3,
        block: Duration::from_secs(900),
    };
    (Limits::with_clock(config, clock.clone()), clock)
}

/// `times` failed logins of `u` from 1.1.1.1.
async fn fail(l: &Limits, times: usize) {
    for _ in 0..times {
        l.record_attempt("u", ip("1.1.1.1"), false).await;
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn remaining_falls_and_reset_lies_ahead() {
    let (l, _) = limits("1/min", 3);
    let a = l.check_login("a", ip("1.1.1.1")).await.unwrap();
    let b = l.check_login("a", ip("1.1.1.1")).await.unwrap();
    assert_eq!((a.limit, a.remaining, b.remaining), (3, 2, 1));
    assert!(a.reset > now() && a.reset <= now() + 61, "{a:?}");
    assert!(b.reset > a.reset);
    let headers = b.headers();
    assert_eq!(headers[0], ("x-ratelimit-limit", "3".to_string()));
    assert_eq!(headers[1], ("x-ratelimit-remaining", "1".to_string()));
}

#[tokio::test]
async fn over_the_limit_is_429_with_retry_after_and_the_headers() {
    let (l, _) = limits("1/min", 2);
    l.check_login("a", ip("1.1.1.1")).await.unwrap();
    l.check_login("a", ip("1.1.1.1")).await.unwrap();
    let e = l.check_login("a", ip("1.1.1.1")).await.unwrap_err();
    assert_eq!((e.status, e.error.as_ref()), (429, "too_many_requests"));
    assert!(e.description.contains("X-RateLimit-Reset"));
    let header = |n: &str| e.headers.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()).unwrap();
    let retry: u64 = header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(header("x-ratelimit-remaining"), "0");
    // Other clients and other IPs are not affected.
    assert!(l.check_login("b", ip("1.1.1.1")).await.is_ok());
    assert!(l.check_login("a", ip("2.2.2.2")).await.is_ok());
}

#[tokio::test]
async fn the_allowance_refills_with_time() {
    let (l, clock) = limits("1/min", 2);
    l.check_login("a", ip("1.1.1.1")).await.unwrap();
    l.check_login("a", ip("1.1.1.1")).await.unwrap();
    assert!(l.check_login("a", ip("1.1.1.1")).await.is_err());
    clock.advance(Duration::from_secs(59));
    assert!(l.check_login("a", ip("1.1.1.1")).await.is_err(), "one request a minute");
    clock.advance(Duration::from_secs(1));
    assert_eq!(l.check_login("a", ip("1.1.1.1")).await.unwrap().remaining, 0);
    assert!(l.check_login("a", ip("1.1.1.1")).await.is_err());
    clock.advance(Duration::from_secs(120));
    assert_eq!(l.check_login("a", ip("1.1.1.1")).await.unwrap().remaining, 1, "whole again, less this one");
}

#[tokio::test]
async fn consecutive_failures_block_that_user_from_that_ip_only() {
    let (l, _) = limits("100/s", 100);
    for _ in 0..3 {
        l.check_attempt("Demo@Example.com", ip("1.1.1.1")).await.unwrap();
        l.record_attempt("Demo@Example.com", ip("1.1.1.1"), false).await;
    }
    let e = l.check_attempt("demo@example.com", ip("1.1.1.1")).await.unwrap_err();
    assert_eq!((e.status, e.error.as_ref()), (429, "too_many_attempts"));
    assert_eq!(e.description, BLOCKED);
    assert!(e.headers.iter().any(|(k, v)| *k == "retry-after" && v.parse::<u64>().unwrap() > 800));
    assert!(l.check_attempt("demo@example.com", ip("2.2.2.2")).await.is_ok(), "another IP");
    assert!(l.check_attempt("other@example.com", ip("1.1.1.1")).await.is_ok(), "another user");
}

#[tokio::test]
async fn a_success_resets_the_count() {
    let (l, _) = limits("100/s", 100);
    fail(&l, 2).await;
    l.record_attempt("u", ip("1.1.1.1"), true).await;
    fail(&l, 2).await;
    assert!(l.check_attempt("u", ip("1.1.1.1")).await.is_ok(), "2 failures after the reset, not 4");
}

#[tokio::test]
async fn the_block_expires() {
    let (l, clock) = limits("100/s", 100);
    fail(&l, 3).await;
    assert!(l.check_attempt("u", ip("1.1.1.1")).await.is_err());
    clock.advance(Duration::from_secs(899));
    let e = l.check_attempt("u", ip("1.1.1.1")).await.unwrap_err();
    assert!(e.headers.contains(&("retry-after", "1".to_string())), "{:?}", e.headers);
    clock.advance(Duration::from_secs(1));
    assert!(l.check_attempt("u", ip("1.1.1.1")).await.is_ok());
    l.record_attempt("u", ip("1.1.1.1"), false).await;
    assert!(l.check_attempt("u", ip("1.1.1.1")).await.is_ok(), "the count started again");
}

#[tokio::test]
async fn backend_limits_per_ip_and_per_user() {
    let (l, _) = limits("100/s", 100);
    assert_eq!(l.precheck_backend_ip(ip("1.1.1.1")).await.unwrap().unwrap().remaining, 1);
    assert!(l.precheck_backend_ip(ip("1.1.1.1")).await.is_ok());
    assert!(l.precheck_backend_ip(ip("1.1.1.1")).await.is_err());
    assert!(l.check_backend(ip("1.1.1.1"), Some("auth0|a")).await.is_ok());
    assert!(l.check_backend(ip("1.1.1.1"), Some("auth0|a")).await.is_err());
    assert!(l.check_backend(ip("1.1.1.1"), Some("auth0|b")).await.is_ok());
    assert_eq!(l.check_backend(ip("1.1.1.1"), None).await, Ok(None), "in memory the IP was counted before");
}

#[test]
fn tightest_is_the_one_with_less_left() {
    let a = RateInfo { limit: 50, remaining: 40, reset: 1 };
    let b = RateInfo { limit: 20, remaining: 3, reset: 2 };
    assert_eq!(RateInfo::tightest(Some(a), Some(b)), Some(b));
    assert_eq!(RateInfo::tightest(Some(a), None), Some(a));
    assert_eq!(RateInfo::tightest(None, None), None);
}

#[tokio::test]
async fn idle_keys_are_forgotten() {
    let (l, clock) = limits("1000/s", 1);
    for i in 0..1000u32 {
        l.check_login("a", IpAddr::from(i.to_be_bytes())).await.unwrap();
    }
    assert!(l.keys() >= 1000);
    l.forget_idle();
    assert!(l.keys() >= 1000, "not whole again yet");
    clock.advance(Duration::from_millis(10));
    l.forget_idle();
    assert_eq!(l.keys(), 0, "keys whole again are dropped");
}
