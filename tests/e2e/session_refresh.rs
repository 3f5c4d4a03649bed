//! Sessions against a tenant that rotates refresh tokens as Auth0 does (a reused one ends the
//! whole family), over two gateway processes sharing a real Redis: silent refresh keeps a
//! browser session alive past its tokens, concurrent refreshes of one session make one tenant
//! call, and the tenant's back-channel logout ends the session on every replica.

use crate::common::redis::{with_store, RedisServer, TEST_ENCRYPTION_KEY};
use crate::common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The demo stack on `redis`, the dev tenant rotating refresh tokens with no reuse interval
/// (any reuse ends the family), access tokens living `ttl` seconds.
async fn rotating(redis: &RedisServer, ttl: u64) -> Backends {
    let store = with_store("standalone", &[redis.url()], "");
    let edit = move |yaml: String| {
        let yaml = store(yaml);
        let yaml = edit(
            &yaml,
            &format!("encryption_key: \"{TEST_ENCRYPTION_KEY}\" }}"),
            &format!(
                "encryption_key: \"{TEST_ENCRYPTION_KEY}\", refresh_before_seconds: 1, \
                 backchannel_logout_path: /backchannel-logout }}"
            ),
        );
        edit(
            &yaml,
            "  password_hash: fast\n",
            &format!(
                "  password_hash: fast\n  access_token_ttl_seconds: {ttl}\n  rotate_refresh_tokens: true\n  \
                 refresh_reuse_interval_seconds: 0\n"
            ),
        )
    };
    Backends::start(edit, authgate::dev::echo::router()).await
}

/// The `sid=…` pair of a response's session cookie, when it sets one.
fn cookie_of(resp: &reqwest::Response) -> Option<String> {
    let set = resp.headers().get("set-cookie")?.to_str().ok()?;
    Some(set.split(';').next()?.to_string()).filter(|pair| pair.starts_with("sid=") && pair.len() > 4)
}

async fn website_login(g: &Gateway) -> String {
    let form = password_form("demo@example.com", DEMO_PASSWORD);
    let resp = post_form(&format!("{}/oauth/token", g.url), Some("website-secret"), &form).await;
    assert_eq!(resp.status(), 200);
    cookie_of(&resp).expect("a session cookie")
}

fn refresh_grants(b: &Backends) -> usize {
    let calls = b.recorder.lock().unwrap();
    calls.iter().filter(|c| param(c, "grant_type") == Some("refresh_token")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_session_outlives_its_two_second_tokens_with_no_refresh_by_the_page() {
    let redis = RedisServer::start();
    let b = rotating(&redis, 2).await;
    let (a, z) = (Gateway::start(&b.yaml).await, Gateway::start(&b.yaml).await);
    let mut cookie = website_login(&a).await;
    let (started, mut calls, mut renewed) = (Instant::now(), 0, 0);
    // Ten seconds of page calls on either replica, the browser keeping what it is sent.
    while started.elapsed() < Duration::from_secs(10) {
        let g = if calls % 2 == 0 { &a } else { &z };
        let resp = g.get("/api/me").header("cookie", &cookie).send().await.unwrap();
        let fresh = cookie_of(&resp);
        let status = resp.status().as_u16();
        let echo: Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "call {calls} after {:?}: {echo}", started.elapsed());
        assert!(echo["headers"]["x-user-id"].as_str().is_some_and(|s| s.starts_with("auth0|")), "{echo}");
        // The backend sees the token that was decided on, never an expired one.
        let seen = echo["headers"]["cookie"].as_str().and_then(|c| c.strip_prefix("sid=")).expect("the session cookie");
        let exp = claims(seen)["exp"].as_u64().unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert!(exp >= now, "the backend got a token that expired at {exp} (now {now})");
        if let Some(fresh) = fresh {
            assert_eq!(fresh, format!("sid={seen}"), "the new cookie is the token the backend saw");
            cookie = fresh;
            renewed += 1;
        }
        calls += 1;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(renewed >= 4, "2-second tokens over 10 seconds: renewed {renewed} times in {calls} calls");
    assert_eq!(refresh_grants(&b), renewed, "one tenant refresh per renewal");
    assert_eq!(b.tenant.refresh_families_revoked(), 0, "no refresh token was reused");
    let metrics = http().get(format!("{}/metrics", a.admin_url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("authgate_refreshes_total{outcome=\"refreshed\"}"), "{metrics}");
}

/// `n` refreshes of one session at once, alternating between the replicas.
async fn at_once(
    n: usize,
    a: &Gateway,
    z: &Gateway,
    send: impl Fn(&Gateway) -> reqwest::RequestBuilder,
) -> Vec<reqwest::Response> {
    let calls = (0..n).map(|i| send(if i % 2 == 0 { a } else { z }).send());
    futures_util::future::join_all(calls).await.into_iter().map(Result::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_refreshes_of_one_session_at_once_over_two_replicas_make_one_tenant_call() {
    let redis = RedisServer::start();
    let b = rotating(&redis, 3600).await;
    let (a, z) = (Gateway::start(&b.yaml).await, Gateway::start(&b.yaml).await);

    // The browser's way: the cookie and no body.
    let cookie = website_login(&a).await;
    let send = |g: &Gateway| {
        g.post("/oauth/refreshtoken")
            .header("secret", "website-secret")
            .header("cookie", &cookie)
            .header("origin", "https://app.example.com")
    };
    let answers = at_once(20, &a, &z, send).await;
    let mut cookies = Vec::new();
    for resp in answers {
        assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
        cookies.push(cookie_of(&resp).expect("a new cookie"));
    }
    assert_eq!(refresh_grants(&b), 1, "one refresh at the tenant for twenty callers");
    assert!(cookies.iter().all(|c| *c == cookies[0] && *c != cookie), "every caller has the one new token");
    for g in [&a, &z] {
        assert_eq!(g.get("/api/me").header("cookie", &cookies[0]).send().await.unwrap().status(), 200);
    }

    // An application's way: its Bearer and refresh token.
    let (status, login) = Stack::login_at(&a.url, "mobile-secret").await;
    assert_eq!(status, 200, "{login}");
    let (access, refresh) = (login["accessToken"].as_str().unwrap(), login["refreshToken"].as_str().unwrap());
    let body = json!({ "refresh_token": refresh });
    let send =
        |g: &Gateway| g.post("/oauth/refreshtoken").header("secret", "mobile-secret").bearer_auth(access).json(&body);
    let mut tokens = Vec::new();
    for resp in at_once(20, &a, &z, send).await {
        let (status, body) = json(resp).await;
        assert_eq!(status, 200, "{body}");
        tokens.push((
            body["accessToken"].as_str().unwrap().to_string(),
            body["refreshToken"].as_str().unwrap().to_string(),
        ));
    }
    assert_eq!(refresh_grants(&b), 2, "one more refresh at the tenant");
    assert!(tokens.iter().all(|t| *t == tokens[0]), "every caller has the same tokens");
    // The rotated refresh token is the family's current one: it refreshes again.
    let (status, body) = json(
        z.post("/oauth/refreshtoken")
            .header("secret", "mobile-secret")
            .bearer_auth(&tokens[0].0)
            .json(&json!({ "refresh_token": tokens[0].1 }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(b.tenant.refresh_families_revoked(), 0, "no refresh token was reused");
    let metrics = http().get(format!("{}/metrics", a.admin_url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("authgate_refreshes_total{outcome=\"joined\"}"), "{metrics}");
}

/// A logout token as `tenant` would send it, with `change` applied to its claims, signed by
/// `signer` (the tenant's own key unless a test forges one) under the tenant's own `kid`.
fn logout_token(b: &Backends, signer: &authgate::dev::tenant::Signer, change: Value) -> String {
    signer.sign_with_kid(&logout_claims(b, change), &b.tenant.signer().kid)
}

fn logout_claims(b: &Backends, change: Value) -> Value {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut claims = json!({
        "iss": b.tenant.issuer(), "aud": "website-app", "iat": now, "exp": now + 120,
        "jti": format!("{:x}", rand::random::<u128>()), "sub": b.tenant.subject_of("demo@example.com"),
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    for (k, v) in change.as_object().unwrap() {
        match v {
            Value::Null => claims.as_object_mut().unwrap().remove(k),
            v => claims.as_object_mut().unwrap().insert(k.clone(), v.clone()),
        };
    }
    claims
}

async fn backchannel(g: &Gateway, token: &str) -> reqwest::Response {
    post_form(&format!("{}/backchannel-logout", g.url), None, &[("logout_token", token)]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenants_back_channel_logout_ends_the_session_on_every_replica() {
    let redis = RedisServer::start();
    let b = rotating(&redis, 3600).await;
    let (a, z) = (Gateway::start(&b.yaml).await, Gateway::start(&b.yaml).await);
    b.tenant.set_backchannel_logout_uri("website-app", Some(format!("{}/backchannel-logout", a.url)));
    let cookie = website_login(&a).await;
    let works = async |g: &Gateway| g.get("/api/me").header("cookie", &cookie).send().await.unwrap().status() == 200;
    assert!(works(&z).await);

    // What §2.6 refuses, refused, and nothing ended.
    let own = b.tenant.signer();
    let forged = authgate::dev::tenant::Signer::generate();
    // A real id_token of the tenant's for the same user: signed, with iss and aud, no event.
    let (_, mobile) = Stack::login_at(&a.url, "mobile-secret").await;
    let id_token = mobile["idToken"].as_str().unwrap().to_string();
    let old = json!({"iat": claims(&id_token)["iat"].as_u64().unwrap() - 3600});
    let refused = [
        ("a nonce", logout_token(&b, &own, json!({"nonce": "n"}))),
        ("another audience", logout_token(&b, &own, json!({"aud": "somebody-else"}))),
        ("no audience", logout_token(&b, &own, json!({"aud": null}))),
        ("no issuer", logout_token(&b, &own, json!({"iss": null}))),
        ("a signature by another key under the tenant's kid", logout_token(&b, &forged, json!({}))),
        ("no logout event", logout_token(&b, &own, json!({"events": {}}))),
        ("no jti", logout_token(&b, &own, json!({"jti": null}))),
        ("neither sub nor sid", logout_token(&b, &own, json!({"sub": null}))),
        ("an iat an hour old", logout_token(&b, &own, old)),
        ("typ at+jwt", own.sign_typed(&logout_claims(&b, json!({})), "at+jwt")),
        ("an id_token", id_token),
    ];
    for (what, token) in refused {
        let resp = backchannel(&a, &token).await;
        assert_eq!(resp.headers()["cache-control"], "no-store", "{what}");
        assert_oauth_error(resp, 400, "invalid_request").await;
        assert!(works(&a).await && works(&z).await, "{what}: nothing ended");
    }

    // A token naming only the tenant's session (sid) ends the sessions recorded with it.
    let (_, mobile) = Stack::login_at(&z.url, "mobile-secret").await;
    let (access, sid) =
        (mobile["accessToken"].as_str().unwrap(), claims(mobile["idToken"].as_str().unwrap())["sid"].clone());
    assert!(sid.is_string(), "the tenant's id_token carries its sid");
    let bearer_works = async |g: &Gateway| g.get("/api/me").bearer_auth(access).send().await.unwrap().status() == 200;
    assert!(bearer_works(&a).await);
    let only_sid = logout_token(&b, &own, json!({"sub": null, "sid": sid, "aud": "mobile-app"}));
    assert_eq!(backchannel(&z, &only_sid).await.status(), 200);
    assert!(eventually(Duration::from_secs(5), async || !bearer_works(&a).await && !bearer_works(&z).await).await);

    // An admin blocks the user at the tenant: its back-channel logout reaches A, and the
    // session ends on A and, through the store, on Z.
    let management = post_form(
        &format!("{}/oauth/token", b.tenant.base_url()),
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "test-management"),
            ("client_secret", "test-management-secret"),
            ("audience", &format!("{}/api/v2/", b.tenant.base_url())),
        ],
    )
    .await;
    let (status, grant) = json(management).await;
    assert_eq!(status, 200, "{grant}");
    let user = b.tenant.subject_of("demo@example.com");
    let blocked = http()
        .patch(format!("{}/api/v2/users/{}", b.tenant.base_url(), user.replace('|', "%7C")))
        .bearer_auth(grant["access_token"].as_str().unwrap())
        .json(&json!({"blocked": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 200);
    let started = Instant::now();
    assert!(
        eventually(Duration::from_secs(10), async || !works(&a).await && !works(&z).await).await,
        "the session still works: deliveries {:?}",
        b.tenant.backchannel_deliveries()
    );
    println!("back-channel logout to refusal on both replicas: {:?}", started.elapsed());
    assert!(b.tenant.backchannel_deliveries().iter().any(|(_, status)| status == "200"));

    // A token is taken once: the same jti again is refused.
    let token = logout_token(&b, &own, json!({}));
    assert_eq!(backchannel(&z, &token).await.status(), 200, "valid, though no session is left");
    assert_oauth_error(backchannel(&a, &token).await, 400, "invalid_request").await;
    let metrics = http().get(format!("{}/metrics", a.admin_url)).send().await.unwrap().text().await.unwrap();
    for outcome in ["ended", "refused", "replayed"] {
        assert!(metrics.contains(&format!("authgate_backchannel_logouts_total{{outcome=\"{outcome}\"}}")), "{outcome}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refreshed_away_cookie_joins_its_refresh_within_the_reuse_window_and_is_refused_after() {
    let s = Stack::start_edited(
        "session: { duration_seconds: 3600 }",
        "session: { duration_seconds: 3600, refresh_reuse_seconds: 1 }",
    )
    .await;
    let old = s.website_cookie().await;
    let refresh = |cookie: &str| {
        s.gateway
            .post("/oauth/refreshtoken")
            .header("secret", "website-secret")
            .header("cookie", cookie.to_string())
            .header("origin", "https://app.example.com")
            .send()
    };
    let new = cookie_of(&refresh(&old).await.unwrap()).expect("a new cookie");
    // Within the window: a page request still carrying the old cookie is handed the new one.
    let resp = s.gateway.get("/api/me").header("cookie", &old).send().await.unwrap();
    assert_eq!((resp.status().as_u16(), cookie_of(&resp)), (200, Some(new.clone())));
    // After it: refused, the new cookie works, and the tenant was called once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(s.gateway.get("/api/me").header("cookie", &old).send().await.unwrap().status(), 401);
    assert_eq!(refresh(&old).await.unwrap().status(), 401);
    assert_eq!(s.gateway.get("/api/me").header("cookie", &new).send().await.unwrap().status(), 200);
    let refreshes = s.calls().iter().filter(|c| param(c, "grant_type") == Some("refresh_token")).count();
    assert_eq!(refreshes, 1);
}
