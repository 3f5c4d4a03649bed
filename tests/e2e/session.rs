//! Session and discovery endpoints the gateway answers itself: `/userinfo`, `/logout`,
//! `/.well-known/jwks.json` and `/.well-known/openid-configuration`.

use crate::common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_answers_for_the_bearer_or_the_cookie() {
    let s = Stack::start().await;
    let (_, tokens) = s.login("mobile-secret").await;
    let at = tokens["accessToken"].as_str().unwrap();
    let url = format!("{}/userinfo", s.gateway.url);
    let (status, me) = json(http().get(&url).bearer_auth(at).send().await.unwrap()).await;
    assert_eq!((status, me["email"].as_str()), (200, Some("demo@example.com")));
    assert_eq!(me["sub"], claims(at)["sub"]);
    let cookie = s.website_cookie().await;
    let (status, me) = json(http().get(&url).header("cookie", cookie).send().await.unwrap()).await;
    assert_eq!((status, me["email"].as_str()), (200, Some("demo@example.com")));
    assert_oauth_error(http().get(&url).send().await.unwrap(), 401, "invalid_token").await;
    assert_oauth_error(http().get(&url).bearer_auth("bogus").send().await.unwrap(), 401, "invalid_token").await;
    assert_oauth_error(http().post(&url).send().await.unwrap(), 405, "method_not_allowed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_clears_the_cookie_revokes_and_redirects_only_where_allowed() {
    let s = Stack::start().await;
    let url = format!("{}/logout", s.gateway.url);
    // Plain logout: 204 and the cookie cleared with the client's attributes.
    let resp = http().post(&url).header("secret", "website-secret").send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["set-cookie"], "sid=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0");

    // An allowed returnTo redirects; another is refused, and the cookie is cleared either way.
    let resp = http()
        .get(format!("{url}?client_id=website-app&returnTo=https%3A%2F%2Fapp.example.com%2Fbye"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "https://app.example.com/bye");
    let resp =
        http().get(format!("{url}?client_id=website-app&returnTo=https%3A%2F%2Fevil.example")).send().await.unwrap();
    assert!(resp.headers()["set-cookie"].to_str().unwrap().ends_with("Max-Age=0"));
    assert_oauth_error(resp, 400, "invalid_request").await;

    // A refresh token given to logout is revoked at the tenant.
    let (_, tokens) = s.login("service-secret").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let resp =
        http().post(&url).header("secret", "service-secret").json(&json!({"refresh_token": rt})).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let revoke = s.calls().into_iter().find(|c| c.path == "/oauth/revoke").expect("revoke reached the tenant");
    assert_eq!(param(&revoke, "client_id"), Some("service-app"));
    assert_eq!(param(&revoke, "token"), Some(rt));
    let token_url = format!("{}/oauth/token", s.gateway.url);
    let resp =
        post_form(&token_url, Some("service-secret"), &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_oauth_error(resp, 403, "invalid_grant").await;

    assert_oauth_error(http().delete(&url).send().await.unwrap(), 405, "method_not_allowed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_typed_in_the_address_bar_ends_the_session_and_a_cross_site_one_does_not() {
    let s = Stack::start().await;
    let url = format!("{}/logout", s.gateway.url);
    let cookie = s.website_cookie().await;
    // A page of another site cannot make the browser say `none`: `cross-site` and no Origin is
    // refused, and the session lives on.
    let refused =
        http().get(&url).header("cookie", &cookie).header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_oauth_error(refused, 403, "access_denied").await;
    assert_eq!(s.gateway.get("/api/me").header("cookie", &cookie).send().await.unwrap().status(), 200);
    // The address typed (what browser-login.md tells the user to open): logged out.
    let typed = http().get(&url).header("cookie", &cookie).header("sec-fetch-site", "none").send().await.unwrap();
    assert_eq!(typed.status(), 204);
    assert_eq!(s.gateway.get("/api/me").header("cookie", &cookie).send().await.unwrap().status(), 401);
    // A POST never counts as typed.
    let other = s.website_cookie().await;
    let post = http().post(&url).header("cookie", &other).header("sec-fetch-site", "none").send().await.unwrap();
    assert_oauth_error(post, 403, "access_denied").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_serves_the_tenants_keys_and_points_sdks_at_the_gateway() {
    let s = Stack::start_edited("threads: 1\n", "threads: 1\npublic_url: https://auth.example.com/\n").await;
    let (status, keys) = json(s.gateway.get("/.well-known/jwks.json").send().await.unwrap()).await;
    assert_eq!(status, 200);
    let (_, tenant_keys) =
        json(http().get(format!("{}.well-known/jwks.json", s.tenant.issuer())).send().await.unwrap()).await;
    assert_eq!(keys["keys"][0]["kid"], tenant_keys["keys"][0]["kid"]);
    assert_eq!(keys["keys"][0]["n"], tenant_keys["keys"][0]["n"]);

    let (status, doc) = json(s.gateway.get("/.well-known/openid-configuration").send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], s.tenant.issuer(), "the issuer stays the tenant's: tokens carry it");
    assert_eq!(doc["token_endpoint"], "https://auth.example.com/oauth/token");
    assert_eq!(doc["userinfo_endpoint"], "https://auth.example.com/userinfo");
    assert_eq!(doc["jwks_uri"], "https://auth.example.com/.well-known/jwks.json");

    // An SDK verifying the id_token with the gateway's JWKS.
    let (_, tokens) = s.login("mobile-secret").await;
    let id_token = tokens["idToken"].as_str().unwrap();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(keys).unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(set.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&["mobile-app"]);
    v.set_issuer(&[s.tenant.issuer()]);
    let verified = jsonwebtoken::decode::<serde_json::Value>(id_token, &key, &v).unwrap();
    assert_eq!(verified.claims["email"], "demo@example.com");
}
