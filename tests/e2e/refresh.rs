//! `/oauth/refreshtoken` end to end: the bearer is checked against the tenant's JWKS.

use crate::common::*;
use authgate::dev::tenant::Signer;
use serde_json::json;

async fn login(s: &Stack, secret: &str) -> serde_json::Value {
    let (status, body) = s.login(secret).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn refresh(s: &Stack, secret: &str, bearer: Option<&str>, body: serde_json::Value) -> reqwest::Response {
    let mut req = s.gateway.post("/oauth/refreshtoken").header("secret", secret).json(&body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    req.send().await.unwrap()
}

/// An access token like the tenant's for the demo user, with `exp` moved by `exp_offset`
/// seconds from now.
fn token_like(s: &Stack, signer: &Signer, azp: &str, exp_offset: i64) -> String {
    token_for(s, signer, azp, exp_offset, &s.tenant.subject_of("demo@example.com"))
}

fn token_for(s: &Stack, signer: &Signer, azp: &str, exp_offset: i64, sub: &str) -> String {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    signer.sign(&json!({
        "iss": s.tenant.issuer(), "sub": sub, "aud": "https://api.test",
        "iat": now - 90_000, "exp": now + exp_offset, "azp": azp,
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_returns_new_tokens_in_the_client_shape() {
    let s = Stack::start().await;
    let first = login(&s, "mobile-secret").await;
    let (at, rt) = (first["accessToken"].as_str().unwrap(), first["refreshToken"].as_str().unwrap());
    let (status, body) = json(refresh(&s, "mobile-secret", Some(at), json!({"refresh_token": rt})).await).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["accessToken"], first["accessToken"]);
    assert_eq!(body["refreshToken"], rt, "the tenant does not rotate: the sent one comes back");
    assert!(body["idToken"].is_string() && body["expireAt"].is_string());
    // The refresh ended the access token it replaced. Shown again with the same refresh token
    // within session.refresh_reuse_seconds, it is handed the same tokens (a concurrent caller
    // of the same refresh); with another refresh token, it is refused.
    let (status, again) = json(refresh(&s, "mobile-secret", Some(at), json!({"refresh_token": rt})).await).await;
    assert_eq!((status, &again["accessToken"]), (200, &body["accessToken"]), "{again}");
    let other = json!({"refresh_token": "another"});
    let (status, _) = json(refresh(&s, "mobile-secret", Some(at), other).await).await;
    assert_eq!(status, 401, "the replaced access token is revoked");
    assert_eq!(s.calls().iter().filter(|c| param(c, "grant_type") == Some("refresh_token")).count(), 1);
    // The camelCase field name seen in the wild works too, with the new access token.
    let new_at = body["accessToken"].as_str().unwrap();
    let (status, _) = json(refresh(&s, "mobile-secret", Some(new_at), json!({"refreshToken": rt})).await).await;
    assert_eq!(status, 200);
    let call = s.calls().pop().unwrap();
    assert_eq!(param(&call, "grant_type"), Some("refresh_token"));
    assert_eq!(param(&call, "client_secret"), Some("mobile-client-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_are_accepted_within_the_grace_only() {
    let s = Stack::start().await;
    let rt = login(&s, "mobile-secret").await["refreshToken"].as_str().unwrap().to_string();
    let expired_an_hour_ago = token_like(&s, &s.tenant.signer(), "mobile-app", -3600);
    let resp = refresh(&s, "mobile-secret", Some(&expired_an_hour_ago), json!({"refresh_token": rt})).await;
    assert_eq!(resp.status(), 200);
    let expired_long_ago = token_like(&s, &s.tenant.signer(), "mobile-app", -8 * 86_400);
    let resp = refresh(&s, "mobile-secret", Some(&expired_long_ago), json!({"refresh_token": rt})).await;
    assert_oauth_error(resp, 401, "invalid_token").await;
    // Another user's valid access token does not carry this user's refresh token.
    let someone_else = token_for(&s, &s.tenant.signer(), "mobile-app", 3600, "auth0|someone-else");
    let resp = refresh(&s, "mobile-secret", Some(&someone_else), json!({"refresh_token": rt})).await;
    assert_oauth_error(resp, 401, "invalid_grant").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bearers_are_refused_before_the_tenant() {
    let s = Stack::start().await;
    let rt = login(&s, "mobile-secret").await["refreshToken"].as_str().unwrap().to_string();
    let calls_before = s.calls().len();
    let forged = token_like(&s, &Signer::generate(), "mobile-app", 3600);
    let other_client = token_like(&s, &s.tenant.signer(), "website-app", 3600);
    for bearer in [None, Some("not-a-jwt"), Some(forged.as_str()), Some(other_client.as_str())] {
        let resp = refresh(&s, "mobile-secret", bearer, json!({"refresh_token": rt})).await;
        assert_eq!(resp.headers()["www-authenticate"], r#"Bearer error="invalid_token""#);
        assert_oauth_error(resp, 401, "invalid_token").await;
    }
    assert_eq!(s.calls().len(), calls_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_missing_refresh_tokens() {
    let s = Stack::start().await;
    let at = login(&s, "mobile-secret").await["accessToken"].as_str().unwrap().to_string();
    let resp = refresh(&s, "mobile-secret", Some(&at), json!({"refresh_token": "unknown"})).await;
    let body = assert_oauth_error(resp, 403, "invalid_grant").await;
    assert_eq!(body["error_description"], "Unknown or invalid refresh token.");
    let resp = refresh(&s, "mobile-secret", Some(&at), json!({})).await;
    let body = assert_oauth_error(resp, 400, "invalid_request").await;
    assert_eq!(body["error_description"], "missing refresh_token parameter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_tenants_hand_out_a_new_refresh_token() {
    let s = Stack::start_edited("password_hash: fast", "password_hash: fast\n  rotate_refresh_tokens: true").await;
    let first = login(&s, "service-secret").await;
    let (at, rt) = (first["access_token"].as_str().unwrap(), first["refresh_token"].as_str().unwrap());
    let (status, body) = json(refresh(&s, "service-secret", Some(at), json!({"refresh_token": rt})).await).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["refresh_token"], rt);
    let new_at = body["access_token"].as_str().unwrap();
    let resp = refresh(&s, "service-secret", Some(new_at), json!({"refresh_token": rt})).await;
    assert_oauth_error(resp, 403, "invalid_grant").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn website_clients_refresh_with_the_cookie_and_get_a_new_one() {
    let s = Stack::start().await;
    let cookie = s.website_cookie().await;
    // The website never sees its refresh token, so borrow one from the tenant directly.
    let (_, direct) = json(
        http()
            .post(format!("{}oauth/token", s.tenant.issuer()))
            .form(&[
                ("grant_type", "password"),
                ("username", "demo@example.com"),
                ("password", DEMO_PASSWORD),
                ("client_id", "website-app"),
                ("client_secret", "website-client-secret"),
                ("scope", "openid offline_access"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let resp = s
        .gateway
        .post("/oauth/refreshtoken")
        .header("secret", "website-secret")
        .header("cookie", &cookie)
        .json(&json!({"refresh_token": direct["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let new_cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(
        new_cookie.starts_with("sid=ey")
            && new_cookie.ends_with("; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=3600"),
        "{new_cookie}"
    );
    assert_ne!(new_cookie.split(';').next().unwrap(), cookie);
}
