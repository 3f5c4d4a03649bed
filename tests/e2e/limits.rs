//! Rate limits and brute-force protection end to end: the X-RateLimit headers, refusals that
//! never reach the tenant or the backend, blocks and their expiry, isolation between users and
//! IPs, and trusted versus untrusted forwarding.

use crate::common::*;

const LIMITS: &str = "
limits:
  trusted_proxies: [127.0.0.1/32]
  login: { rate: 1/min, burst: 7 }
  login_attempts: { rate: 1/min, burst: 5 }
  backend_per_ip: { rate: 1/min, burst: 3 }
  brute_force: { max_failures: 3, block_seconds: 1 }
";

async fn stack() -> Stack {
    Stack::start_with(|y| format!("{y}{LIMITS}")).await
}

/// A password login from the end user at `ip` (through the trusted proxy on 127.0.0.1).
async fn login_from(s: &Stack, ip: &str, user: &str, password: &str) -> reqwest::Response {
    s.gateway
        .post("/oauth/token")
        .header("secret", "mobile-secret")
        .header("x-forwarded-for", format!("6.6.6.6, {ip}"))
        .form(&password_form(user, password))
        .send()
        .await
        .unwrap()
}

fn rate_headers(resp: &reqwest::Response) -> (u32, u32, u64) {
    let h = |n: &str| resp.headers().get(n).unwrap_or_else(|| panic!("{n} missing")).to_str().unwrap().to_string();
    (
        h("x-ratelimit-limit").parse().unwrap(),
        h("x-ratelimit-remaining").parse().unwrap(),
        h("x-ratelimit-reset").parse().unwrap(),
    )
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_responses_carry_the_tightest_limit_and_refusals_skip_the_tenant() {
    let s = stack().await;
    let mut last_remaining = u32::MAX;
    for _ in 0..5 {
        let resp = login_from(&s, "198.51.100.1", "demo@example.com", DEMO_PASSWORD).await;
        assert_eq!(resp.status(), 200);
        let (limit, remaining, reset) = rate_headers(&resp);
        assert_eq!(limit, 5, "the per-username limit (burst 5) is the tightest");
        assert!(remaining < last_remaining, "remaining falls");
        assert!(reset > now() && reset <= now() + 5 * 60 + 1, "reset lies ahead: {reset}");
        last_remaining = remaining;
    }
    let calls = s.calls().len();
    let resp = login_from(&s, "198.51.100.1", "demo@example.com", DEMO_PASSWORD).await;
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(rate_headers(&resp).1, 0);
    let body = assert_oauth_error(resp, 429, "too_many_requests").await;
    assert_eq!(
        body["error_description"],
        "Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset headers."
    );
    assert_eq!(s.calls().len(), calls, "the tenant was not called");
    // Another user from that IP has its own username allowance, within the client+IP one.
    let resp = login_from(&s, "198.51.100.1", "partner@example.com", "x").await;
    assert_eq!(resp.status(), 403);
    // The client+IP allowance (7, refusals included) is now spent: everything from that IP waits.
    let resp = login_from(&s, "198.51.100.1", "other@example.com", "x").await;
    assert_oauth_error(resp, 429, "too_many_requests").await;
    // Another IP is not affected.
    assert_eq!(login_from(&s, "198.51.100.2", "demo@example.com", DEMO_PASSWORD).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consecutive_failures_block_one_user_from_one_ip_until_it_expires() {
    let s = stack().await;
    for _ in 0..3 {
        let resp = login_from(&s, "198.51.100.7", "demo@example.com", "wrong").await;
        assert_oauth_error(resp, 403, "invalid_grant").await;
    }
    let calls = s.calls().len();
    // Usernames compare case-insensitively; the right password does not help while blocked.
    let resp = login_from(&s, "198.51.100.7", "DEMO@example.com", DEMO_PASSWORD).await;
    let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(retry_after, 1, "the configured block: 1s");
    let body = assert_oauth_error(resp, 429, "too_many_attempts").await;
    assert_eq!(body["error_description"], "Your account has been blocked after multiple consecutive login attempts.");
    assert_eq!(s.calls().len(), calls, "the tenant was not called");
    // Other users and other IPs are not affected.
    assert_eq!(login_from(&s, "198.51.100.8", "demo@example.com", DEMO_PASSWORD).await.status(), 200);
    assert_eq!(login_from(&s, "198.51.100.7", "partner@example.com", "nope").await.status(), 403);
    // The block ends when Retry-After said (the limits' clock itself is tested in
    // src/limits/tests.rs with a fake clock).
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    assert_eq!(login_from(&s, "198.51.100.7", "demo@example.com", DEMO_PASSWORD).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_resets_the_failure_count() {
    let s = Stack::start_with(|y| format!("{y}{}", LIMITS.replace("rate: 1/min, burst: 5", "rate: 1/min, burst: 20")))
        .await;
    for round in 0..2 {
        for _ in 0..2 {
            assert_eq!(
                login_from(&s, "198.51.100.9", "demo@example.com", "wrong").await.status(),
                403,
                "round {round}"
            );
        }
        // Two failures, then a success: never three in a row.
        if round == 0 {
            assert_eq!(login_from(&s, "198.51.100.9", "demo@example.com", DEMO_PASSWORD).await.status(), 200);
        }
    }
    assert_eq!(login_from(&s, "198.51.100.9", "demo@example.com", "wrong").await.status(), 403, "not blocked yet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_forwarding_names_the_user_ip_and_untrusted_forwarding_changes_nothing() {
    let s = stack().await;
    assert_eq!(login_from(&s, "203.0.113.50", "demo@example.com", DEMO_PASSWORD).await.status(), 200);
    let call = s.calls().pop().unwrap();
    assert_eq!(header(&call, "auth0-forwarded-for"), Some("203.0.113.50"));

    // Without trusted proxies the socket peer is the user, whatever X-Forwarded-For says.
    let s = Stack::start_with(|y| {
        format!("{y}{}", LIMITS.replace("trusted_proxies: [127.0.0.1/32]", "trusted_proxies: []"))
    })
    .await;
    for i in 0..3 {
        let resp = login_from(&s, &format!("203.0.113.{i}"), "demo@example.com", "wrong").await;
        assert_eq!(resp.status(), 403);
    }
    let resp = login_from(&s, "203.0.113.99", "demo@example.com", DEMO_PASSWORD).await;
    assert_oauth_error(resp, 429, "too_many_attempts").await;
    assert_eq!(header(&s.calls().pop().unwrap(), "auth0-forwarded-for"), Some("127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_routes_are_limited_per_ip_with_the_headers() {
    let s = stack().await;
    let get = |ip: &'static str| s.gateway.get("/public/x").header("x-forwarded-for", ip).send();
    for expected in [2, 1, 0] {
        let resp = get("198.51.100.20").await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(rate_headers(&resp), (3, expected, rate_headers(&resp).2));
    }
    let resp = get("198.51.100.20").await.unwrap();
    assert!(resp.headers().contains_key("retry-after"));
    let body = assert_oauth_error(resp, 429, "too_many_requests").await;
    assert!(body.get("headers").is_none(), "the backend was not reached");
    assert_eq!(get("198.51.100.21").await.unwrap().status(), 200, "another IP");
    // A guard refusal on a limited route still carries the headers.
    let resp = s.gateway.get("/api").header("x-forwarded-for", "198.51.100.22").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(rate_headers(&resp).1, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_routes_can_be_limited_per_user() {
    let s = Stack::start_with(|y| {
        format!(
            "{y}{}",
            LIMITS.replace("backend_per_ip: { rate: 1/min, burst: 3 }", "backend_per_user: { rate: 1/min, burst: 2 }")
        )
    })
    .await;
    let (_, tokens) = s.login("mobile-secret").await;
    let at = tokens["accessToken"].as_str().unwrap();
    for ip in ["198.51.100.30", "198.51.100.31"] {
        let resp = s.gateway.get("/api").bearer_auth(at).header("x-forwarded-for", ip).send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    let resp = s.gateway.get("/api").bearer_auth(at).header("x-forwarded-for", "198.51.100.32").send().await.unwrap();
    assert_oauth_error(resp, 429, "too_many_requests").await;
    assert_eq!(s.gateway.get("/public/x").send().await.unwrap().status(), 200, "no user, no per-user limit");
}
