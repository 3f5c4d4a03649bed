//! The outside review's findings, end to end through the real binary: path confusion, identity
//! headers in other spellings, duplicate credentials, unverified email, unmetered tenant calls,
//! forwarding headers, CSRF, upgrades, the refresh endpoint's token checks, and the reload that
//! left the pod unready. Requests go over raw sockets where a client library would tidy them.

use crate::common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// What a raw path must lead to.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// `400` (the gateway's `invalid_request`, or pingora's parser refusing it), never proxied.
    Refused,
    /// Routed to a protected route: `401` without a token.
    Guarded,
    /// Proxied to the backend (a public route) with exactly this path.
    Backend(&'static str),
    /// Answered by the gateway itself with this status and error.
    Own(u16, &'static str),
}

const PATHS: &[(&str, &str, Expect)] = {
    use Expect::*;
    &[
        // Escaped separators, controls and double escapes: refused.
        ("GET", "/public/..%2fapi/me", Refused),
        ("GET", "/public/..%2Fapi/me", Refused),
        ("GET", "/public/%2e%2e%2fapi/me", Refused),
        ("GET", "/public/%2E%2E%2Fapi%2Fme", Refused),
        ("GET", "/public/..;/api/me", Refused),
        ("GET", "/public/.;/api/me", Refused),
        ("GET", "/public/;x/api/me", Refused),
        ("GET", "/public/..\\api\\me", Refused),
        ("GET", "/public/%5c..%5capi/me", Refused),
        ("GET", "/public/..%5Capi/me", Refused),
        ("GET", "/public/..%00/api/me", Refused),
        ("GET", "/public/x%0d%0aInjected:%20yes", Refused),
        ("GET", "/public/%252e%252e/api/me", Refused),
        ("GET", "/public/%252E%252E%252Fapi", Refused),
        ("GET", "/public/%252f", Refused),
        ("GET", "/public/%25%32%65%25%32%65/api/me", Refused),
        ("GET", "/public/%25%32%66", Refused),
        ("GET", "/public/%25%30%30", Refused),
        ("GET", "/%C4%B0nternal/jobs", Refused),
        ("GET", "/%C4%B1nternal/jobs", Refused),
        ("GET", "/%EF%BD%89nternal/jobs", Refused),
        ("GET", "/public/%c0%ae%c0%ae/api/me", Refused),
        ("GET", "/public/%C0%AE%C0%AE/api/me", Refused),
        ("GET", "/public/%e0%80%ae%e0%80%ae/api/me", Refused),
        ("GET", "/public/%u002e%u002e/api/me", Refused),
        ("GET", "/public/%ef%bc%8e%ef%bc%8e/api/me", Refused),
        ("GET", "/public/%ef%bc%8f", Refused),
        ("GET", "/public/%2", Refused),
        ("GET", "/public/%zz", Refused),
        ("GET", "/public/caf\u{e9}", Refused),
        ("GET", "/PUBLIC/x", Refused),
        ("GET", "/Public/../api/me", Guarded),
        ("GET", "/internal;v=1/jobs", Refused),
        ("GET", "/public;v=1/x", Refused),
        ("POST", "/oauth/token;x=1", Refused),
        // Dot segments resolved: the protected route it really is.
        ("GET", "/public/../api/me", Guarded),
        ("GET", "/public/%2e%2e/api/me", Guarded),
        ("GET", "/public/%2E%2E/api/me", Guarded),
        ("GET", "/public/.%2e/api/me", Guarded),
        ("GET", "/public/%2e./api/me", Guarded),
        ("GET", "/public/./../api/me", Guarded),
        ("GET", "/public//../api/me", Guarded),
        ("GET", "//public/../api/me", Guarded),
        ("GET", "/public/x/../../api/me", Guarded),
        ("GET", "/public/../../../../api/me", Guarded),
        ("GET", "/%70ublic/../api/me", Guarded),
        ("GET", "/public/..", Guarded),
        ("GET", "/publicity", Guarded),
        ("GET", "/public;x/../api/me", Guarded),
        // Harmless spellings: normalised, and the backend gets the normal form.
        ("GET", "/public/./x", Backend("/public/x")),
        ("GET", "/public//x", Backend("/public/x")),
        ("GET", "/public/%78", Backend("/public/x")),
        ("GET", "/public/a/../x", Backend("/public/x")),
        ("GET", "//public/x", Backend("/public/x")),
        ("GET", "/%2e%2e/public/x", Backend("/public/x")),
        ("GET", "/public/%7e%41", Backend("/public/~A")),
        ("GET", "/public/caf%c3%a9", Backend("/public/caf%C3%A9")),
        ("GET", "/public/a%20b", Backend("/public/a%20b")),
        ("GET", "/public", Backend("/public")),
        ("GET", "/public/x;v=1", Backend("/public/x;v=1")),
        // The gateway's own paths: exact after normalisation; other spellings are 404.
        ("POST", "//oauth/token", Own(401, "invalid_client")),
        ("POST", "/oauth/./token", Own(401, "invalid_client")),
        ("POST", "/oauth/t%6fken", Own(401, "invalid_client")),
        ("POST", "/x/../oauth/token", Own(401, "invalid_client")),
        ("POST", "/oauth/token/", Own(404, "not_found")),
        ("POST", "/OAUTH/TOKEN", Own(404, "not_found")),
        ("POST", "/OAuth/RefreshToken", Own(404, "not_found")),
        ("GET", "/Userinfo", Own(404, "not_found")),
        ("GET", "/logout/", Own(404, "not_found")),
    ]
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_of_a_path_is_decided_as_the_backend_will_read_it() {
    let s = Stack::start().await;
    assert!(PATHS.len() >= 40);
    let mut failures = Vec::new();
    for (method, path, expect) in PATHS {
        let r = raw_get(&s.gateway.url, method, path, &[]).await;
        let body = r.json();
        let reached_backend = body.get("headers").is_some();
        let ok = match expect {
            Expect::Refused => r.status == Some(400) && !reached_backend,
            Expect::Guarded => r.status == Some(401) && body["error"] == "invalid_token",
            Expect::Backend(want) => r.status == Some(200) && body["path"] == *want,
            Expect::Own(status, error) => r.status == Some(*status) && body["error"] == *error && !reached_backend,
        };
        if !ok {
            failures.push(format!("{method} {path}: expected {expect:?}, got {:?} {}", r.status, r.body));
        }
    }
    assert!(failures.is_empty(), "{} of {}:\n{}", failures.len(), PATHS.len(), failures.join("\n"));
    // An overlong path is served like any other, and the query is forwarded untouched.
    let long = format!("/public/{}", "a".repeat(4000));
    assert_eq!(raw_get(&s.gateway.url, "GET", &long, &[]).await.json()["path"], long.as_str());
    let r = raw_get(&s.gateway.url, "GET", "/public/./x?q=%2e%2e/../a&b=%2F", &[]).await;
    assert_eq!(
        (r.json()["path"].as_str(), r.json()["query"].as_str()),
        (Some("/public/x"), Some("q=%2e%2e/../a&b=%2F"))
    );
    // An absolute-form target is decided on its path and reaches the backend in origin form
    // (pingora itself refuses one whose authority is not the Host).
    let r = raw_get(&s.gateway.url, "GET", "http://gateway.test/public/../api/me", &[]).await;
    assert_eq!(r.status, Some(401), "{:?} {}", r.headers, r.body);
    let r = raw_get(&s.gateway.url, "GET", "http://gateway.test/public/./x?a=1", &[]).await;
    assert_eq!((r.json()["path"].as_str(), r.json()["query"].as_str()), (Some("/public/x"), Some("a=1")), "{}", r.body);
    let r = raw_get(&s.gateway.url, "GET", "http://evil.example/public/x", &[]).await;
    assert_eq!(r.status, Some(400));
    for target in ["*", "foo", "gateway.test:443", "foo:bar://gateway.test/public/x"] {
        let r = raw_get(&s.gateway.url, "OPTIONS", target, &[]).await;
        assert!(matches!(r.status, Some(400) | None), "{target}: {:?} {}", r.status, r.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_route_gets_the_normalised_path_with_a_token() {
    let s = Stack::start().await;
    let (_, body) = s.login("mobile-secret").await;
    let bearer = format!("Authorization: Bearer {}", body["accessToken"].as_str().unwrap());
    let r = raw_get(&s.gateway.url, "GET", "/public/../api/./me//x", &[&bearer]).await;
    assert_eq!((r.status, r.json()["path"].as_str()), (Some(200), Some("/api/me/x")), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_match_whole_segments() {
    let s =
        Stack::start_edited("    - { prefix: /public/, policy: public }", "    - { prefix: /health, policy: public }")
            .await;
    assert_eq!(raw_get(&s.gateway.url, "GET", "/health", &[]).await.status, Some(200));
    assert_eq!(raw_get(&s.gateway.url, "GET", "/health/live", &[]).await.status, Some(200));
    assert_eq!(raw_get(&s.gateway.url, "GET", "/healthadmin", &[]).await.status, Some(401));
    assert_eq!(raw_get(&s.gateway.url, "GET", "/health-admin/x", &[]).await.status, Some(401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_headers_spelled_with_underscores_never_reach_the_backend() {
    let s = Stack::start().await;
    let (_, body) = s.login("mobile-secret").await;
    let bearer = format!("Authorization: Bearer {}", body["accessToken"].as_str().unwrap());
    let spoofed = [
        "X_User_Id: auth0|admin",
        "x_user_groups: admins",
        "X_USER_EMAIL: root@example.com",
        "x-user_id: auth0|admin",
        "X_Client_Type: service",
        "Secret_: nope",
        "X_Forwarded_For: 6.6.6.6",
        "X_Real_IP: 6.6.6.6",
    ];
    for (path, with_token) in [("/public/x", false), ("/api/me", true)] {
        let mut headers: Vec<&str> = spoofed.to_vec();
        if with_token {
            headers.push(&bearer);
        }
        let r = raw_get(&s.gateway.url, "GET", path, &headers).await;
        assert_eq!(r.status, Some(200), "{}", r.body);
        let seen = r.json()["headers"].clone();
        for name in
            ["x_user_id", "x_user_groups", "x_user_email", "x-user_id", "x_client_type", "x_forwarded_for", "x_real_ip"]
        {
            assert!(seen.get(name).is_none(), "{name} reached the backend on {path}: {seen}");
        }
        assert!(seen.get("secret_").is_some(), "not a protected name: kept");
        if with_token {
            assert_eq!(seen["x-user-groups"], "admins,staff", "the verified groups");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_credential_per_request_and_only_the_verified_one_is_forwarded() {
    let s = Stack::start().await;
    let (_, body) = s.login("mobile-secret").await;
    let at = body["accessToken"].as_str().unwrap().to_string();
    let cookie = s.website_cookie().await;
    let url = &s.gateway.url;
    let bearer = format!("Authorization: Bearer {at}");
    let refused = [
        vec![bearer.clone(), "Authorization: Bearer forged".to_string()],
        vec![bearer.clone(), bearer.clone()],
        vec![format!("Cookie: {cookie}; sid=forged")],
        vec![format!("Cookie: {cookie}"), "Cookie: sid=forged".to_string()],
        vec![format!("Cookie: {cookie}; SID=forged")],
        vec![bearer.clone(), format!("Cookie: {cookie}")],
    ];
    for headers in refused {
        let h: Vec<&str> = headers.iter().map(String::as_str).collect();
        for path in ["/api/me", "/public/x"] {
            let r = raw_get(url, "GET", path, &h).await;
            assert_eq!((r.status, r.json()["error"].as_str()), (Some(400), Some("invalid_request")), "{path} {h:?}");
        }
        let r = raw_get(url, "GET", "/userinfo", &h).await;
        assert_eq!(r.status, Some(400), "/userinfo {h:?}");
    }
    // The Bearer is verified: the session cookie that agrees with it is not forwarded.
    let same = format!("Cookie: theme=dark; sid={at}");
    let r = raw_get(url, "GET", "/api/me", &[&bearer, &same]).await;
    assert_eq!(r.status, Some(200), "{}", r.body);
    assert_eq!(r.json()["headers"]["cookie"], "theme=dark");
    assert_eq!(r.json()["headers"]["authorization"], format!("Bearer {at}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_header_needs_a_verified_email() {
    let unverified = |y: String| {
        edit(
            &y,
            "- { email: demo@example.com, password: demo-password, name: Demo, groups: [admins, staff] }",
            "- { email: demo@example.com, password: demo-password, name: Demo, groups: [admins, staff], email_verified: false }",
        )
    };
    let s = Stack::start_with(unverified).await;
    let (_, body) = s.login("mobile-secret").await;
    let bearer = format!("Authorization: Bearer {}", body["accessToken"].as_str().unwrap());
    let seen = raw_get(&s.gateway.url, "GET", "/api/me", &[&bearer]).await.json()["headers"].clone();
    assert!(seen.get("x-user-email").is_none(), "unverified email sent: {seen}");
    assert!(seen.get("x-user-id").is_some());

    let s = Stack::start_with(|y| {
        edit(&unverified(y), "  leeway_seconds: 0\n", "  leeway_seconds: 0\n  require_email_verified: false\n")
    })
    .await;
    let (_, body) = s.login("mobile-secret").await;
    let bearer = format!("Authorization: Bearer {}", body["accessToken"].as_str().unwrap());
    let seen = raw_get(&s.gateway.url, "GET", "/api/me", &[&bearer]).await.json()["headers"].clone();
    assert_eq!(seen["x-user-email"], "demo@example.com", "configured to trust it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_and_logout_cost_the_tenant_nothing_for_bad_calls_and_are_limited() {
    let s = Stack::start_with(|y| {
        // (The test configuration has no limits block: the login limit is added.)
        edit(&y, "routes:\n", "limits:\n  login: { rate: 1/min, burst: 3 }\nroutes:\n")
    })
    .await;
    let before = s.calls().len();
    let resp = s.gateway.get("/userinfo").bearer_auth("bogus.token.here").send().await.unwrap();
    assert_eq!(resp.headers()["x-ratelimit-limit"], "3");
    assert_oauth_error(resp, 401, "invalid_token").await;
    // Revoking needs the client's secret; a client_id is not enough.
    let resp = s
        .gateway
        .post("/logout")
        .form(&[("refresh_token", "whatever"), ("client_id", "mobile-app")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "1");
    assert_oauth_error(resp, 401, "invalid_client").await;
    assert_eq!(s.calls().len(), before, "the tenant was not called");
    let resp = s.gateway.get("/userinfo").bearer_auth("x").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = s.gateway.get("/userinfo").bearer_auth("x").send().await.unwrap();
    assert!(resp.headers().get("retry-after").is_some());
    assert_oauth_error(resp, 429, "too_many_requests").await;
    let resp = s.gateway.post("/logout").send().await.unwrap();
    assert_eq!(resp.status(), 429, "logout shares the per-IP bucket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_are_the_gateways_own() {
    let s = Stack::start().await;
    let spoof = ["X-Forwarded-For: 6.6.6.6", "X-Real-IP: 6.6.6.6", "Forwarded: for=6.6.6.6"];
    let seen = raw_get(&s.gateway.url, "GET", "/public/x", &spoof).await.json()["headers"].clone();
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1", "an untrusted peer's header is replaced: {seen}");
    assert_eq!(seen["x-real-ip"], "127.0.0.1");
    assert!(seen.get("forwarded").is_none());

    let s = Stack::start_edited("guard:\n", "limits: { trusted_proxies: [127.0.0.1/32] }\nguard:\n").await;
    let seen = raw_get(&s.gateway.url, "GET", "/public/x", &["X-Forwarded-For: 6.6.6.6, 198.51.100.9"]).await.json()
        ["headers"]
        .clone();
    assert_eq!(seen["x-forwarded-for"], "198.51.100.9, 127.0.0.1", "the client and the proxies after it: {seen}");
    assert_eq!(seen["x-real-ip"], "198.51.100.9");
    let seen = raw_get(&s.gateway.url, "GET", "/public/x", &["X-Forwarded-For: 198.51.100.9, garbage"]).await.json()
        ["headers"]
        .clone();
    assert_eq!(seen["x-real-ip"], "127.0.0.1", "nothing left of an unparsable hop is believed: {seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_requests_with_other_methods_and_opaque_origins_are_refused() {
    let s = Stack::start().await;
    let cookie = format!("Cookie: {}", s.website_cookie().await);
    let url = &s.gateway.url;
    for method in ["PROPFIND", "PURGE", "MKCOL"] {
        let r = raw_get(url, method, "/api/items", &[&cookie]).await;
        assert_eq!(r.status, Some(403), "{method}: {}", r.body);
    }
    for method in ["post", "Delete"] {
        let r = raw_get(url, method, "/api/items", &[&cookie]).await;
        assert_eq!(r.status, Some(400), "{method}: refused at the edge: {}", r.body);
    }
    let r = raw_get(url, "POST", "/api/items", &[&cookie, "Origin: null"]).await;
    assert_eq!(r.status, Some(403));
    let r = raw_get(url, "POST", "/api/items", &[&cookie, "Origin: null", "Referer: https://app.example.com/x"]).await;
    assert_eq!(r.status, Some(403), "null is not replaced by the referer");
    let r = raw_get(url, "POST", "/api/items", &[&cookie, "Origin: https://app.example.com"]).await;
    assert_eq!(r.status, Some(200));
    assert_eq!(raw_get(url, "OPTIONS", "/api/items", &[&cookie]).await.status, Some(200));

    // GET /logout with the cookie from another site: refused, the cookie is not cleared.
    let r = raw_get(url, "GET", "/logout", &[&cookie, "Referer: https://evil.example/page"]).await;
    assert_eq!(r.status, Some(403));
    assert!(r.header("set-cookie").is_none_or(|c| !c.contains("Max-Age=0")), "{:?}", r.headers);
    let r = raw_get(url, "GET", "/logout", &[&cookie]).await;
    assert_eq!(r.status, Some(403), "no origin at all");
    let r =
        raw_get(url, "GET", "/logout?client_id=website-app", &[&cookie, "Referer: https://app.example.com/account"])
            .await;
    assert_eq!(r.status, Some(204), "{}", r.body);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    // Without the cookie, logout is harmless and needs no origin.
    assert_eq!(raw_get(url, "GET", "/logout", &[]).await.status, Some(204));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_only_where_configured_and_after_the_guard() {
    let s = Stack::start_edited(
        "    - { prefix: /public/, policy: public }",
        "    - { prefix: /public/, policy: public }\n    - { prefix: /ws, policy: authenticated, websocket: true }",
    )
    .await;
    let url = &s.gateway.url;
    let upgrade = [
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ];
    let r = raw_get(url, "GET", "/public/chat", &upgrade).await;
    assert_eq!(r.status, Some(400), "{}", r.body);
    assert_eq!(raw_get(url, "GET", "/ws/chat", &upgrade).await.status, Some(401), "the guard applies first");
    let (_, body) = s.login("mobile-secret").await;
    let bearer = format!("Authorization: Bearer {}", body["accessToken"].as_str().unwrap());
    let mut with_token = upgrade.to_vec();
    with_token.push(&bearer);
    let r = raw_get(url, "GET", "/ws/chat", &with_token).await;
    assert_ne!(r.status, Some(400), "allowed on the websocket route: {:?} {}", r.status, r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_takes_only_an_access_token_issued_to_the_client() {
    let s = Stack::start().await;
    let (_, body) = s.login("mobile-secret").await;
    let refresh = |bearer: String| {
        s.gateway
            .post("/oauth/refreshtoken")
            .header("secret", "mobile-secret")
            .bearer_auth(bearer)
            .json(&json!({"refresh_token": body["refreshToken"]}))
            .send()
    };
    let id_token = body["idToken"].as_str().unwrap().to_string();
    assert_oauth_error(refresh(id_token).await.unwrap(), 401, "invalid_token").await;
    let now = jsonwebtoken::get_current_timestamp();
    let no_azp = s.tenant.signer().sign(&json!({
        "iss": s.tenant.issuer(), "sub": "auth0|x", "aud": "https://api.test", "iat": now, "exp": now + 60,
    }));
    assert_oauth_error(refresh(no_azp).await.unwrap(), 401, "invalid_token").await;
    let huge_exp = s.tenant.signer().sign(&json!({
        "iss": s.tenant.issuer(), "sub": "auth0|x", "aud": "https://api.test", "iat": now, "exp": u64::MAX,
        "azp": "mobile-app",
    }));
    let resp = refresh(huge_exp).await.unwrap();
    assert_ne!(resp.status().as_u16(), 500, "no overflow");
    let ok = refresh(body["accessToken"].as_str().unwrap().to_string()).await.unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_default_to_samesite_lax() {
    let s = Stack::start_edited("    same_site: Lax\n", "").await;
    let resp = s.password_login("website-secret").await;
    assert!(resp.headers()["set-cookie"].to_str().unwrap().contains("SameSite=Lax"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brute_force_counts_every_spelling_of_a_username_as_one() {
    let s =
        Stack::start_edited("guard:\n", "limits: { brute_force: { max_failures: 3, block_seconds: 60 } }\nguard:\n")
            .await;
    let url = format!("{}/oauth/token", s.gateway.url);
    for spelling in [" demo@example.com", "DEMO@example.com", "\u{ff44}emo@example.com"] {
        let resp = post_form(&url, Some("mobile-secret"), &password_form(spelling, "wrong")).await;
        assert_eq!(resp.status(), 403, "{spelling}");
    }
    let resp = post_form(&url, Some("mobile-secret"), &password_form("demo@example.com", DEMO_PASSWORD)).await;
    assert_oauth_error(resp, 429, "too_many_attempts").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_algorithms_on_reload_never_leaves_the_gateway_unready() {
    let s = Stack::start().await;
    let readyz = format!("{}/readyz", s.gateway.admin_url);
    let deadline = Instant::now() + Duration::from_secs(15);
    while http().get(&readyz).send().await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text =
        s.gateway.config_text.replace("  leeway_seconds: 0\n", "  leeway_seconds: 0\n  algorithms: [RS256, ES256]\n");
    std::fs::write(&s.gateway.config_path, text).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !s.gateway.logs().contains("configuration reloaded") {
        let status = http().get(&readyz).send().await.unwrap().status();
        assert_eq!(status, 200, "unready during the reload");
        assert!(Instant::now() < deadline, "no reload:\n{}", s.gateway.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(http().get(&readyz).send().await.unwrap().status(), 200, "ready after it");
    let (status, body): (u16, Value) = s.login("mobile-secret").await;
    assert_eq!(status, 200);
    let r = s.gateway.get("/api").bearer_auth(body["accessToken"].as_str().unwrap()).send();
    assert_eq!(r.await.unwrap().status(), 200, "tokens verify with the new key set");
}

#[test]
fn the_embedded_servers_listen_on_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.yaml")).unwrap();
    for (from, to, key) in [
        ("url: http://127.0.0.1:8081", "url: http://0.0.0.0:8081", "tenant.embedded"),
        ("url: http://127.0.0.1:8082", "url: http://10.1.2.3:8082", "backend.embedded_echo"),
    ] {
        let path = dir.path().join("gateway.yaml");
        std::fs::write(&path, demo.replace(from, to)).unwrap();
        for command in [&["check"][..], &[][..]] {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_authgate"))
                .arg("--config")
                .arg(&path)
                .args(command)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(64), "{command:?}: {stderr}");
            assert!(stderr.contains(key) && stderr.contains("loopback"), "{stderr}");
        }
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authgate"))
        .args(["--config", concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.yaml"), "check"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("never in production"), "the demo is flagged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_warns_about_rules_that_never_decide() {
    let b = Backends::start(
        |y| {
            edit(
                &y,
                "    - { prefix: /internal/, policy: secret }",
                "    - { prefix: /internal/, policy: secret }\n    - { prefix: /public/admin, policy: authenticated }",
            )
        },
        authgate::dev::echo::router(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.yaml");
    std::fs::write(&path, b.yaml.replace("{LISTEN}", "1").replace("{ADMIN}", "2")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authgate"))
        .arg("--config")
        .arg(&path)
        .arg("check")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("routes.rules[2]") && stderr.contains("never used"), "{stderr}");
}

/// Send `start`, then a header line every 100 ms (at most `lines`) without ever ending the
/// head: what the gateway answered once it closed the connection, or `None` if it never did
/// within 20 s.
async fn drip_headers(addr: &str, start: &[u8], lines: usize) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(start).await.unwrap();
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        for _ in 0..lines {
            if c.write_all(b"X-Drip: 1\r\n").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = c.read_to_end(&mut answer).await;
    })
    .await;
    closed.is_ok().then(|| String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off_and_connections_are_capped() {
    let s = Stack::start_edited(
        "threads: 1\n",
        "threads: 1\nconnections: { max: 3, header_timeout_ms: 500, idle_timeout_ms: 30000 }\n",
    )
    .await;
    let addr = s.gateway.url.trim_start_matches("http://").to_string();
    // A request whose headers never end: answered 408 and closed, well before the 60 s pingora
    // would otherwise wait per read.
    let answer = drip_headers(&addr, b"GET /public/x HTTP/1.1\r\nHost: x\r\n", 40).await;
    let answer = answer.expect("the slow connection was closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("cache-control: no-store"), "{answer}");

    // Three idle connections fill the cap: a fourth is answered 503 and closed.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    // Once the gateway has taken them (polled: until then a fourth is still served).
    let mut refused = None;
    let full = eventually(Duration::from_secs(5), async || {
        let r = raw_get(&s.gateway.url, "GET", "/public/x", &[]).await;
        let full = r.status == Some(503);
        refused = Some(r);
        full
    })
    .await;
    let r = refused.expect("one answer at least");
    assert!(full, "the cap was never reached: {r:?}");
    assert_eq!(r.json()["error"], "temporarily_unavailable");
    // The one error map: what the errors table promises for a 503.
    assert_eq!((r.header("retry-after"), r.header("cache-control")), (Some("1"), Some("no-store")), "{r:?}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if raw_get(&s.gateway.url, "GET", "/public/x", &[]).await.status == Some(200) {
            break;
        }
        assert!(Instant::now() < deadline, "never served again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_with_transfer_encoding_is_refused() {
    let s = Stack::start().await;
    let r = raw(
        &s.gateway.url,
        b"POST /public/x HTTP/1.1\r\nHost: x\r\nContent-Length: 52\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/me HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, Some(400), "{}", r.body);
    assert!(r.json().get("headers").is_none(), "reached the backend");
    assert_eq!(raw_get(&s.gateway.url, "GET", "/public/x", &[]).await.status, Some(200));
}

/// The raw-socket suite (`tests/hostile/raw_socket.py`): malformed framing, oversized and
/// smuggled requests, path variants, cookie bombs. Each must get a 4xx or a closed
/// connection, and the gateway must keep serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_socket_suite_passes() {
    let s = Stack::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hostile/raw_socket.py");
    let out = tokio::process::Command::new("python3").arg(script).arg("--url").arg(&s.gateway.url).output().await;
    let out = out.expect("python3 runs the raw-socket suite");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_outside_reviewers_second_pass_found_is_closed() {
    let s = Stack::start_with(|y| {
        let y = edit(&y, "threads: 1\n", "threads: 1\nconnections: { header_timeout_ms: 800 }\n");
        edit(
            &y,
            "    - { prefix: /internal/, policy: secret }",
            "    - { prefix: /internal/, policy: secret }\n    - { prefix: /api/items, methods: [DELETE], policy: secret }",
        )
    })
    .await;
    let url = &s.gateway.url;
    // Methods are upper-case tokens: `delete` is refused, not read as another method.
    let (_, body) = s.login("mobile-secret").await;
    let bearer = format!("Authorization: Bearer {}", body["accessToken"].as_str().unwrap());
    let r = raw_get(url, "delete", "/api/items/1", &[&bearer]).await;
    assert_eq!(r.status, Some(400), "{}", r.body);
    assert_eq!(raw_get(url, "DELETE", "/api/items/1", &[&bearer]).await.status, Some(401), "the secret rule");
    // Method overrides and URL rewrites never reach the backend.
    let headers = [
        "X-HTTP-Method-Override: DELETE",
        "X-Original-URL: /admin",
        "X-Rewrite-URL: /admin",
        "X-Client-IP: 6.6.6.6",
        "True-Client-IP: 6.6.6.6",
        "X-Forwarded-Host: evil.example",
        "X-Forwarded-Proto: gopher",
        "X_Forwarded_Host: evil.example",
    ];
    let seen = raw_get(url, "GET", "/public/x", &headers).await.json()["headers"].clone();
    for h in [
        "x-http-method-override",
        "x-original-url",
        "x-rewrite-url",
        "x-client-ip",
        "true-client-ip",
        "x-forwarded-host",
        "x_forwarded_host",
    ] {
        assert!(seen.get(h).is_none(), "{h} reached the backend: {seen}");
    }
    assert_eq!(seen["x-forwarded-proto"], "http", "the gateway's own");
    // The cookie is the credential: the client's Authorization does not ride along.
    let cookie = format!("Cookie: {}", s.website_cookie().await);
    let r = raw_get(url, "GET", "/api/me", &[&cookie, "Authorization: Basic YWRtaW46YWRtaW4="]).await;
    assert_eq!(r.status, Some(200), "{}", r.body);
    assert!(r.json()["headers"].get("authorization").is_none(), "{}", r.body);
    assert_eq!(raw_get(url, "GET", "/api/me", &[&cookie, "Authorization: Bearer\tforged"]).await.status, Some(400));
    // Cookies as Rack 2 reads them: a second session cookie after a comma, or with its name escaped.
    let sid = cookie.trim_start_matches("Cookie: ").to_string();
    for forged in [format!("Cookie: a=1, sid=forged; {sid}"), format!("Cookie: s%69d=forged; {sid}")] {
        assert_eq!(raw_get(url, "GET", "/api/me", &[&forged]).await.status, Some(400), "{forged}");
    }
    // Host must be a host name, and HTTP/1.1 must send one.
    let r = raw(url, b"GET /public/x HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert_eq!(r.status, Some(400));
    let r = raw(url, b"GET /public/x HTTP/1.1\r\nHost: a/../x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(r.status, Some(400));
    // A cross-site logout is refused even when the browser sent no cookie.
    let r = raw_get(url, "POST", "/logout", &["Origin: https://evil.example", "Sec-Fetch-Site: cross-site"]).await;
    assert_eq!(r.status, Some(403), "{}", r.body);
    // /sessions/{x} is the gateway's for DELETE only.
    assert_eq!(raw_get(url, "GET", "/sessions/1", &[&bearer]).await.json()["path"], "/sessions/1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_lines_or_a_bad_request_line_do_not_stop_the_header_deadline() {
    let s = Stack::start_edited("threads: 1\n", "threads: 1\nconnections: { header_timeout_ms: 500 }\n").await;
    let addr = s.gateway.url.trim_start_matches("http://").to_string();
    for start in [
        &b"\r\n\r\nGET /public/x HTTP/1.1\r\nHost: a\r\n"[..],
        b"GET /public/a b HTTP/1.1\r\nHost: a\r\n",
        b"\n\nGET /public/x HTTP/1.1\r\nHost: a\r\n",
    ] {
        let text = drip_headers(&addr, start, 60).await;
        let text = text.unwrap_or_else(|| panic!("never closed: {:?}", String::from_utf8_lossy(start)));
        assert!(text.starts_with("HTTP/1.1 408") || text.starts_with("HTTP/1.1 400"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_cannot_ride_on_another_users_access_token() {
    let s = Stack::start().await;
    let (_, demo) = s.login("mobile-secret").await;
    let url = format!("{}/oauth/token", s.gateway.url);
    let (_, partner) = json(
        post_form(
            &url,
            Some("mobile-secret"),
            &[
                ("grant_type", "password"),
                ("username", "partner@example.com"),
                ("password", "partner-password"),
                ("connection", "partners-db"),
            ],
        )
        .await,
    )
    .await;
    let resp = s
        .gateway
        .post("/oauth/refreshtoken")
        .header("secret", "mobile-secret")
        .bearer_auth(partner["accessToken"].as_str().unwrap())
        .json(&json!({"refresh_token": demo["refreshToken"]}))
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 401, "invalid_grant").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_clients_get_the_cookie_from_every_login_and_bodies_say_things_once() {
    let s = Stack::start().await;
    let ro = s
        .gateway
        .post("/oauth/ro")
        .header("secret", "website-secret")
        .json(&json!({"grant_type": "password", "username": "demo@example.com", "password": DEMO_PASSWORD,
            "connection": "Username-Password-Authentication", "scope": "openid"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ro.status(), 200);
    assert!(ro.headers()["set-cookie"].to_str().unwrap().starts_with("sid=ey"));
    assert!(ro.text().await.unwrap().is_empty(), "no tokens in the body of a web client's answer");
    let pw = s
        .gateway
        .post("/v1/auth/password/authenticate")
        .header("secret", "website-secret")
        .json(&json!({"username": "demo@example.com", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(pw.status(), 200);
    assert!(pw.headers()["set-cookie"].to_str().unwrap().starts_with("sid=ey"));
    assert!(pw.text().await.unwrap().is_empty());
    // A JSON body that names a member twice is refused, as a form that does.
    let twice = s
        .gateway
        .post("/oauth/token")
        .header("secret", "mobile-secret")
        .header("content-type", "application/json")
        .body(r#"{"grant_type":"password","username":"x@y","password":"demo-password","username":"demo@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_oauth_error(twice, 400, "invalid_request").await;
    // A Content-Length that is not one number gets the gateway's JSON refusal.
    let r = raw(&s.gateway.url, b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n").await;
    assert_eq!((r.status, r.json()["error"].as_str()), (Some(400), Some("invalid_request")), "{}", r.body);
}
