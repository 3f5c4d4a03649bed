//! The guard end to end: tokens verified against the tenant's JWKS (with rotation and a tenant
//! that goes down), forged tokens refused, identity headers nobody can forge, route policies,
//! the cookie path and its cross-site check.

use crate::common::*;
use authgate::dev::tenant::Signer;
use serde_json::{json, Value};
use std::time::Duration;

/// GET `path` through the gateway with `headers`: (status, body).
async fn get(s: &Stack, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = http().get(format!("{}{path}", s.gateway.url));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    json(req.send().await.unwrap()).await
}

async fn access_token(s: &Stack) -> String {
    let (status, body) = s.login("mobile-secret").await;
    assert_eq!(status, 200, "{body}");
    body["accessToken"].as_str().unwrap().to_string()
}

/// Claims like the tenant's for the demo user, changed by `edit`.
fn claims_like(s: &Stack, edit: impl FnOnce(&mut Value)) -> Value {
    let now = jsonwebtoken::get_current_timestamp();
    let mut c = json!({
        "iss": s.tenant.issuer(), "sub": "auth0|forged", "aud": ["https://api.test"],
        "iat": now, "exp": now + 600, "azp": "mobile-app", "jti": now.to_string() + &rand_suffix(),
    });
    edit(&mut c);
    c
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst).to_string()
}

fn b64(v: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_reaches_the_backend_with_the_identity() {
    let s = Stack::start().await;
    let at = access_token(&s).await;
    let bearer = format!("Bearer {at}");
    let (status, echo) = get(&s, "/api/me?x=1", &[("authorization", &bearer), ("secret", "mobile-secret")]).await;
    assert_eq!(status, 200, "{echo}");
    let h = &echo["headers"];
    assert_eq!(h["x-user-id"], claims(&at)["sub"]);
    assert_eq!(h["x-user-email"], "demo@example.com");
    assert_eq!(h["x-user-groups"], "admins,staff");
    assert_eq!(h["x-client-type"], "mobile");
    assert!(h.get("secret").is_none());
    assert_eq!(h["authorization"], bearer, "the bearer goes along");
    assert_eq!(echo["query"], "x=1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_headers_cannot_be_forged_on_any_route() {
    let s = Stack::start().await;
    let at = access_token(&s).await;
    let bearer = format!("Bearer {at}");
    let spoofed = [
        ("x-user-id", "auth0|admin"),
        ("x-user-email", "root@example.com"),
        ("x-user-groups", "superusers"),
        ("x-client-type", "service"),
    ];
    let (status, echo) = get(&s, "/public/page", &spoofed).await;
    assert_eq!(status, 200);
    for (h, _) in spoofed {
        assert!(echo["headers"].get(h).is_none(), "{h} reached the backend on a public route: {echo}");
    }
    let mut with_token = spoofed.to_vec();
    with_token.push(("authorization", &bearer));
    let (status, echo) = get(&s, "/api/me", &with_token).await;
    assert_eq!(status, 200);
    assert_eq!(echo["headers"]["x-user-id"], claims(&at)["sub"]);
    assert_eq!(echo["headers"]["x-user-email"], "demo@example.com");
    assert_eq!(echo["headers"]["x-user-groups"], "admins,staff");
    assert!(echo["headers"].get("x-client-type").is_none(), "no secret header, no client type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_refused_before_the_backend() {
    let s = Stack::start().await;
    let signer = s.tenant.signer();
    let good = signer.sign(&claims_like(&s, |_| {}));
    assert_eq!(get(&s, "/api", &[("authorization", &format!("Bearer {good}"))]).await.0, 200, "control");

    let now = jsonwebtoken::get_current_timestamp();
    let mut forged: Vec<(&str, String)> = vec![
        ("wrong key", Signer::generate().sign(&claims_like(&s, |_| {}))),
        ("expired", signer.sign(&claims_like(&s, |c| c["exp"] = json!(now - 5)))),
        ("not yet valid", signer.sign(&claims_like(&s, |c| c["nbf"] = json!(now + 300)))),
        ("wrong audience", signer.sign(&claims_like(&s, |c| c["aud"] = json!("https://other.api")))),
        ("wrong issuer", signer.sign(&claims_like(&s, |c| c["iss"] = json!("https://evil.example/")))),
        ("garbage", "not.a.jwt".to_string()),
    ];
    // alg: none, with the real kid.
    let none_header = b64(json!({"alg": "none", "typ": "JWT", "kid": signer.kid}).to_string().as_bytes());
    let payload = b64(claims_like(&s, |_| {}).to_string().as_bytes());
    forged.push(("alg none", format!("{none_header}.{payload}.")));
    // HS256 keyed with the RSA public key (algorithm confusion).
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(signer.kid.clone());
    let public_n = signer.jwk()["n"].as_str().unwrap().to_string();
    let hs = jsonwebtoken::encode(
        &header,
        &claims_like(&s, |_| {}),
        &jsonwebtoken::EncodingKey::from_secret(public_n.as_bytes()),
    )
    .unwrap();
    forged.push(("HS256 confusion", hs));
    // A tampered payload under a real signature.
    let parts: Vec<&str> = good.split('.').collect();
    let tampered_payload = b64(claims_like(&s, |c| c["sub"] = json!("auth0|admin")).to_string().as_bytes());
    forged.push(("tampered payload", format!("{}.{}.{}", parts[0], tampered_payload, parts[2])));

    for (what, token) in forged {
        let resp = s.gateway.get("/api").bearer_auth(&token).send().await.unwrap();
        assert_eq!(
            resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap()),
            Some(r#"Bearer error="invalid_token""#),
            "{what}: {}",
            resp.status()
        );
        let body = assert_oauth_error(resp, 401, "invalid_token").await;
        assert!(body.get("headers").is_none(), "{what} reached the backend");
    }
    let (status, _) = get(&s, "/api", &[]).await;
    assert_eq!(status, 401, "no token at all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_picked_up_from_an_unknown_kid() {
    let s = Stack::start().await;
    let before = access_token(&s).await;
    assert_eq!(get(&s, "/api", &[("authorization", &format!("Bearer {before}"))]).await.0, 200);
    let new_key = s.tenant.rotate_key();
    let after = access_token(&s).await;
    assert_ne!(claims(&after)["jti"], claims(&before)["jti"]);
    let header: Value = serde_json::from_slice(&base64_decode(after.split('.').next().unwrap())).unwrap();
    assert_eq!(header["kid"], new_key.kid.as_str(), "signed with the new key");
    assert_eq!(get(&s, "/api", &[("authorization", &format!("Bearer {after}"))]).await.0, 200);
    // Tokens of the old key still verify: it stays in the JWKS during rotation.
    assert_eq!(get(&s, "/api", &[("authorization", &format!("Bearer {before}"))]).await.0, 200);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_down_at_refresh_time_leaves_the_keys_we_have() {
    let s = Stack::start().await;
    let signer = s.tenant.signer();
    assert_eq!(
        get(&s, "/api", &[("authorization", &format!("Bearer {}", signer.sign(&claims_like(&s, |_| {}))))]).await.0,
        200
    );
    s.tenant.set_jwks_failing(true);
    // A new kid forces a refetch, which fails: tokens of the known key keep working.
    let rotated = s.tenant.rotate_key();
    let new_kid_token = rotated.sign(&claims_like(&s, |_| {}));
    let (status, _) = get(&s, "/api", &[("authorization", &format!("Bearer {new_kid_token}"))]).await;
    assert_eq!(status, 401, "unknown kid while the tenant is down");
    let (status, _) =
        get(&s, "/api", &[("authorization", &format!("Bearer {}", signer.sign(&claims_like(&s, |_| {}))))]).await;
    assert_eq!(status, 200, "stale keys still serve");
    let (status, _) = json(http().get(format!("{}/readyz", s.gateway.admin_url)).send().await.unwrap()).await;
    assert_eq!(status, 200, "still ready: we have keys");
    assert!(s.gateway.logs().contains("serving the keys we have"), "the failure is logged");
    // The tenant comes back: after the refetch interval the new kid is learnt.
    s.tenant.set_jwks_failing(false);
    let bearer = format!("Bearer {}", rotated.sign(&claims_like(&s, |_| {})));
    let learnt =
        eventually(Duration::from_secs(5), async || get(&s, "/api", &[("authorization", &bearer)]).await.0 == 200);
    assert!(learnt.await, "the new kid is learnt once the refetch interval has passed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_forged_kids_costs_the_tenant_one_fetch() {
    let s = Stack::start().await;
    // Make sure the gateway has its keys, then count what the flood adds.
    let at = access_token(&s).await;
    assert_eq!(get(&s, "/api", &[("authorization", &format!("Bearer {at}"))]).await.0, 200);
    let before = s.tenant.jwks_requests();
    let forger = Signer::generate();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let token = forger.sign_with_kid(&claims_like(&s, |_| {}), &format!("forged-kid-{i}"));
        let url = format!("{}/api", s.gateway.url);
        tasks.push(tokio::spawn(
            async move { http().get(url).bearer_auth(token).send().await.unwrap().status().as_u16() },
        ));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 401);
    }
    let added = s.tenant.jwks_requests() - before;
    assert!(added <= 1, "{added} JWKS fetches for 40 forged kids");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_policies_public_secret_and_authenticated() {
    let s = Stack::start().await;
    assert_eq!(get(&s, "/public/x", &[]).await.0, 200);
    let (status, body) = get(&s, "/internal/jobs", &[]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    let (status, echo) = get(&s, "/internal/jobs", &[("secret", "service-secret")]).await;
    assert_eq!(status, 200);
    assert_eq!(echo["headers"]["x-client-type"], "service");
    let (status, body) = get(&s, "/anything/else", &[]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_works_and_cross_site_writes_need_an_allowed_origin() {
    let s = Stack::start().await;
    let cookie = s.website_cookie().await;
    let (status, echo) = get(&s, "/api/me", &[("cookie", &cookie)]).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo["headers"]["x-user-email"], "demo@example.com");
    assert!(echo["headers"].get("authorization").is_none(), "cookie_to_bearer is off by default");

    let post = |origin: Option<&'static str>| {
        let mut r = s.gateway.post("/api/items").header("cookie", &cookie).body("{}");
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    assert_oauth_error(post(None).await.unwrap(), 403, "access_denied").await;
    assert_oauth_error(post(Some("https://evil.example")).await.unwrap(), 403, "access_denied").await;
    assert_eq!(post(Some("https://app.example.com")).await.unwrap().status(), 200);
    // A bearer token is not sent by browsers on their own: no origin needed.
    let at = access_token(&s).await;
    let resp = s.gateway.post("/api/items").bearer_auth(at).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_can_become_a_bearer_for_the_backend() {
    let s = Stack::start_edited("  leeway_seconds: 0\n", "  leeway_seconds: 0\n  cookie_to_bearer: true\n").await;
    let cookie = s.website_cookie().await;
    let (status, echo) = get(&s, "/api/me", &[("cookie", &cookie)]).await;
    assert_eq!(status, 200);
    assert_eq!(echo["headers"]["authorization"], format!("Bearer {}", cookie.trim_start_matches("sid=")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_for_the_keys() {
    let b = Backends::start(|y| y, authgate::dev::echo::router()).await;
    b.tenant.set_jwks_failing(true);
    let g = Gateway::start(&b.yaml).await;
    let readyz = format!("{}/readyz", g.admin_url);
    assert_eq!(http().get(&readyz).send().await.unwrap().status(), 503);
    b.tenant.set_jwks_failing(false);
    let ready = eventually(Duration::from_secs(10), async || http().get(&readyz).send().await.unwrap().status() == 200);
    assert!(ready.await, "never became ready");
}
