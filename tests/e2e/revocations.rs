//! The revocation list under a backlog and at its capacity, a replica's readiness while it
//! reads the feed, and logouts that present a cookie a refresh has replaced: two replicas
//! sharing a real Redis.

use crate::common::redis::{with_store, RedisServer};
use crate::common::*;
use std::io::{Read, Write};
use std::time::Duration;

async fn website_login(g: &Gateway) -> reqwest::Response {
    password_login_at(&g.url, "website-secret").await
}

/// The `sid=…` pair a response sets.
fn cookie_of(resp: &reqwest::Response) -> String {
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_string()
}

async fn logged_in(g: &Gateway) -> String {
    let resp = website_login(g).await;
    assert_eq!(resp.status(), 200);
    cookie_of(&resp)
}

async fn logout(g: &Gateway, cookie: &str) -> u16 {
    let resp =
        g.post("/logout").header("cookie", cookie).header("origin", "https://app.example.com").send().await.unwrap();
    resp.status().as_u16()
}

async fn refresh(g: &Gateway, cookie: &str) -> reqwest::Response {
    g.post("/oauth/refreshtoken").header("secret", "website-secret").header("cookie", cookie).send().await.unwrap()
}

async fn status_of(g: &Gateway, cookie: &str) -> u16 {
    g.get("/api/me").header("cookie", cookie).send().await.unwrap().status().as_u16()
}

/// A refresh that lost a race: one of the `expected` refusals, or the store's `503` (on a
/// loaded machine it may not answer within its 300 ms); either way no new cookie.
async fn assert_no_session_came_of(refused: reqwest::Response, expected: &[(u16, &str)], round: u32) {
    let status = refused.status().as_u16();
    assert!(refused.headers().get("set-cookie").is_none_or(|c| c.to_str().unwrap().contains("Max-Age=0")));
    let error = refused.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap_or_default().to_string();
    let fine =
        expected.iter().chain(&[(503, "temporarily_unavailable")]).any(|(s, e)| (*s, *e) == (status, error.as_str()));
    assert!(fine, "round {round}: the refresh answered {status} {error}");
}

/// Whether `cookie` is refused (401) on every replica within a few feed intervals.
async fn refused_everywhere(cookie: &str, replicas: &[&Gateway]) -> bool {
    for g in replicas {
        if !eventually(Duration::from_secs(5), async || status_of(g, cookie).await == 401).await {
            return false;
        }
    }
    true
}

/// Write `count` revocations into the feed, published in the past (one a millisecond, the
/// newest a second ago), as a busy fleet leaves it: every other one in the format of older
/// versions (no `until`). One Lua call, so it takes well under a second.
fn fill_feed(redis: &RedisServer, count: u32) {
    const FILL: &str = "local t = redis.call('TIME') \
        local now_ms = tonumber(t[1]) * 1000 \
        local expires = tonumber(t[1]) + 3600 \
        local n = tonumber(ARGV[1]) \
        for i = 1, n do \
          local hash = string.format('%016x', i) .. string.rep('0', 48) \
          local member = hash \
          if i % 2 == 0 then member = hash .. '.' .. expires end \
          redis.call('ZADD', KEYS[1], now_ms - 1000 - n + i, member) \
        end \
        return n";
    let args = ["EVAL", FILL, "1", "authgate:revoked", &count.to_string()];
    let mut command = format!("*{}\r\n", args.len());
    for a in args {
        command.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    let mut s = std::net::TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(command.as_bytes()).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(String::from_utf8_lossy(&buf[..n]), format!(":{count}\r\n"));
}

/// Two replicas sharing `redis`, their configuration edited from `from` to `to` (none when
/// `from` is empty).
async fn two_replicas(redis: &RedisServer, from: &str, to: &str) -> (Backends, Gateway, Gateway) {
    let store = with_store("standalone", &[redis.url()], "");
    let b = Backends::start(
        |y| {
            let y = store(y);
            if from.is_empty() {
                y
            } else {
                edit(&y, from, to)
            }
        },
        authgate::dev::echo::router(),
    )
    .await;
    let (a, z) = (Gateway::start(&b.yaml).await, Gateway::start(&b.yaml).await);
    (b, a, z)
}

/// A metric's value on a replica's `/metrics`.
async fn metric(g: &Gateway, name: &str) -> Option<f64> {
    let text = http().get(format!("{}/metrics", g.admin_url)).send().await.ok()?.text().await.ok()?;
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_revocation_list_keeps_every_revocation_and_refuses_new_sessions() {
    let redis = RedisServer::start();
    let session = "session: { duration_seconds: 3600, ";
    let (_b, a, z) = two_replicas(&redis, session, &format!("{session}revocations_max: 100, ")).await;
    let cookie = logged_in(&a).await;
    assert_eq!(status_of(&z, &cookie).await, 200);

    // A backlog past the capacity: both replicas keep all of it and say they are full.
    fill_feed(&redis, 150);
    for g in [&a, &z] {
        let full =
            eventually(Duration::from_secs(10), async || metric(g, "authgate_revocations_full").await == Some(1.0))
                .await;
        assert!(full, "never full: {:?} entries", metric(g, "authgate_revocations").await);
        assert_eq!(metric(g, "authgate_revocations").await, Some(150.0));
        assert!(g.logs().contains("the revocation list is at its capacity"));
    }

    // A logout still revokes, on both replicas.
    assert!([204, 302].contains(&logout(&a, &cookie).await));
    assert!(refused_everywhere(&cookie, &[&a, &z]).await, "a logged-out cookie still reaches the backend");

    // No new session while full (it could add revocations that would have to be dropped).
    let refused = website_login(&z).await;
    assert_eq!(refused.headers()["retry-after"], "60");
    assert_oauth_error(refused, 503, "temporarily_unavailable").await;
    let (status, _) = Stack::login_at(&a.url, "mobile-secret").await;
    assert_eq!(status, 503, "a Bearer login records a session too");
    assert_eq!(http().get(format!("{}/readyz", z.admin_url)).send().await.unwrap().status(), 200, "still ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_is_ready_only_once_it_has_read_the_whole_feed() {
    let redis = RedisServer::start();
    let b = Backends::with_redis(&redis).await;
    let a = Gateway::start(&b.yaml).await;
    let cookie = logged_in(&a).await;
    // More than one page of backlog (a page is 10,000 entries; up to 50,000 while catching up),
    // then a logout: the newest entry, read last.
    fill_feed(&redis, 120_000);
    // A is reading that backlog in large pages meanwhile: the publication has a connection of
    // its own, so it does not wait behind them.
    assert!([204, 302].contains(&logout(&a, &cookie).await));
    assert_eq!(metric(&a, "authgate_revocations_unpublished").await, Some(0.0), "the publication failed");

    let z = Gateway::start(&b.yaml).await;
    let readyz = format!("{}/readyz", z.admin_url);
    let ready =
        eventually(Duration::from_secs(30), async || http().get(&readyz).send().await.unwrap().status() == 200).await;
    assert!(ready, "never ready:\n{}", z.logs());
    // Ready means the whole feed was read: the logout is known, with no wait.
    assert_eq!(status_of(&z, &cookie).await, 401, "a ready replica took a logged-out cookie");
    assert!(metric(&z, "authgate_revocations").await.is_some_and(|n| n >= 120_000.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_while_the_store_is_down_reaches_the_other_replicas_once_it_is_back() {
    let mut redis = RedisServer::start();
    let (_b, a, z) = two_replicas(&redis, "", "").await;
    let cookie = logged_in(&a).await;
    assert_eq!(status_of(&z, &cookie).await, 200);
    redis.kill();
    assert!([204, 302].contains(&logout(&a, &cookie).await));
    assert_eq!(status_of(&a, &cookie).await, 401, "revoked here at once");
    assert_eq!(metric(&a, "authgate_revocations_unpublished").await, Some(1.0));
    // The store comes back empty (it keeps nothing on disk): Z knows of the logout only if A
    // publishes it again.
    redis.restart();
    assert!(refused_everywhere(&cookie, &[&z]).await, "the logout never reached the other replica");
    assert_eq!(metric(&a, "authgate_revocations_unpublished").await, Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_with_a_cookie_from_before_a_refresh_ends_the_refreshed_session() {
    let redis = RedisServer::start();
    let (_b, a, z) = two_replicas(&redis, "", "").await;
    let old = logged_in(&a).await;
    let resp = refresh(&a, &old).await;
    assert_eq!(resp.status(), 200);
    let new = cookie_of(&resp);
    assert_eq!(status_of(&z, &new).await, 200);

    // The page still holding the old cookie logs out, on the other replica.
    assert!([204, 302].contains(&logout(&z, &old).await));
    assert!(refused_everywhere(&new, &[&a, &z]).await, "the refreshed session outlived the logout");
    let again = refresh(&a, &new).await;
    assert_eq!(again.status(), 401, "the ended session refreshed");
    let again = refresh(&z, &new).await;
    assert_eq!(again.status(), 401, "the ended session refreshed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_racing_a_refresh_leaves_no_session_alive() {
    let redis = RedisServer::start();
    let (_b, a, z) = two_replicas(&redis, "", "").await;
    for round in 0..8 {
        let old = logged_in(&a).await;
        // A page refreshing in the background on A while the user logs out on Z.
        let (refreshed, logged_out) = tokio::join!(refresh(&a, &old), logout(&z, &old));
        assert!([204, 302].contains(&logged_out), "round {round}: logout {logged_out}");
        match refreshed.status().as_u16() {
            200 => {
                let new = cookie_of(&refreshed);
                assert!(refused_everywhere(&new, &[&a, &z]).await, "round {round}: the refreshed session lives on");
                assert_eq!(refresh(&a, &new).await.status(), 401, "round {round}: it refreshed again");
            }
            // The logout came first: the refresh found no session, or lost the race to write.
            401 => {}
            // The logout revoked the refresh token at the tenant before the refresh used it (403),
            // or the store did not answer within its 300 ms on a loaded machine (503): no cookie.
            _ => assert_no_session_came_of(refreshed, &[(403, "invalid_grant")], round).await,
        }
        assert!(refused_everywhere(&old, &[&a, &z]).await, "round {round}: the old cookie lives on");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_refreshes_at_once_one_wins_and_a_logout_ends_everything() {
    let redis = RedisServer::start();
    let (_b, a, z) = two_replicas(&redis, "", "").await;
    for round in 0..6 {
        let old = logged_in(&a).await;
        let (first, second) = tokio::join!(refresh(&a, &old), refresh(&z, &old));
        let mut won: Vec<String> =
            [&first, &second].iter().filter(|r| r.status() == 200).map(|r| cookie_of(r)).collect();
        // One refreshed; the other joined it (the same new cookie), or came after the refresh
        // and its lease and found the session moved on (401).
        won.dedup();
        assert!(won.len() <= 1, "round {round}: two refreshes of one session, two new sessions");
        // The other found the session refreshed already, or lost the race to write it (or, on a
        // loaded machine, the store did not answer in its 300 ms: 503, no cookie either).
        for lost in [first, second].into_iter().filter(|r| r.status() != 200) {
            assert_no_session_came_of(lost, &[(401, "invalid_grant")], round).await;
        }
        // Logging out with the cookie the page still had ends whatever the refresh left.
        assert!([204, 302].contains(&logout(&z, &old).await));
        for cookie in won.iter().chain([&old]) {
            assert!(refused_everywhere(cookie, &[&a, &z]).await, "round {round}: a cookie outlived the logout");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_may_refresh_only_so_often() {
    let redis = RedisServer::start();
    let limit = "limits:\n  refresh_per_user: { rate: 1/hour, burst: 3 }\nguard:\n";
    let (_b, a, z) = two_replicas(&redis, "guard:\n", limit).await;
    let mut cookie = logged_in(&a).await;
    // Counted fleet-wide: three refreshes across both replicas, then no more for this user.
    for g in [&a, &z, &a] {
        let resp = refresh(g, &cookie).await;
        assert_eq!(resp.status(), 200);
        cookie = cookie_of(&resp);
    }
    let refused = refresh(&z, &cookie).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_oauth_error(refused, 429, "too_many_requests").await;
    assert_eq!(status_of(&a, &cookie).await, 200, "the session itself goes on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opaque_cookie_keeps_working_through_a_refresh_on_every_replica() {
    let redis = RedisServer::start();
    let session = "session: { duration_seconds: 3600, ";
    let (_b, a, z) = two_replicas(&redis, session, &format!("{session}cookie: opaque, ")).await;
    let cookie = logged_in(&a).await;
    // Both replicas cache the session's access token.
    assert_eq!((status_of(&a, &cookie).await, status_of(&z, &cookie).await), (200, 200));
    let resp = refresh(&a, &cookie).await;
    assert_eq!(resp.status(), 200);
    let cookie = cookie_of(&resp);
    // The replaced token is revoked on both within a feed interval; the cached copy of it must
    // not lock the user out meanwhile (the cache lives 30 s).
    for _ in 0..15 {
        assert_eq!(status_of(&a, &cookie).await, 200, "refused on the replica that refreshed");
        assert_eq!(status_of(&z, &cookie).await, 200, "refused on the other replica");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_bearer_refreshes_at_once_one_wins_and_a_logout_ends_everything() {
    let redis = RedisServer::start();
    let (_b, a, z) = two_replicas(&redis, "", "").await;
    for round in 0..6 {
        let (status, body) = Stack::login_at(&a.url, "mobile-secret").await;
        assert_eq!(status, 200, "{body}");
        let (at, rt) = (body["accessToken"].as_str().unwrap(), body["refreshToken"].as_str().unwrap());
        let bearer_refresh = |g: &Gateway| {
            let req = g.post("/oauth/refreshtoken").header("secret", "mobile-secret").bearer_auth(at);
            req.json(&serde_json::json!({"refresh_token": rt})).send()
        };
        // The second starts a little later each round: before, during or after the first writes.
        let later = async {
            tokio::time::sleep(Duration::from_millis(20 * round)).await;
            bearer_refresh(&z).await
        };
        let (first, second) = tokio::join!(bearer_refresh(&a), later);
        let (first, second) = (first.unwrap(), second.unwrap());
        let mut won = Vec::new();
        for resp in [first, second] {
            match resp.status().as_u16() {
                200 => won
                    .push(resp.json::<serde_json::Value>().await.unwrap()["accessToken"].as_str().unwrap().to_string()),
                // Replaced by the other refresh (invalid_grant), or already known as revoked
                // (invalid_token); 503 when the store did not answer in time on a loaded machine.
                status => assert!([401, 503].contains(&status), "round {round}: {status} {:?}", resp.text().await),
            }
        }
        won.dedup();
        assert!(won.len() <= 1, "round {round}: two refreshes of one session, two new sessions");
        // The logout with the token the app started from ends whatever the refresh left.
        let resp = a.post("/logout").bearer_auth(at).send().await.unwrap();
        assert!([204, 302].contains(&resp.status().as_u16()), "round {round}: logout {}", resp.status());
        for token in &won {
            for g in [&a, &z] {
                let refused = eventually(Duration::from_secs(5), async || {
                    g.get("/api/me").bearer_auth(token).send().await.unwrap().status() == 401
                });
                assert!(refused.await, "round {round}: a refreshed token outlived the logout");
            }
        }
    }
}
