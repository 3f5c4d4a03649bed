//! `/oauth/token` end to end: every answer shape, what reaches the tenant, tenant errors.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camel_case_answer_for_a_mobile_client() {
    let s = Stack::start().await;
    let resp = s.password_login("mobile-secret").await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let (status, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");
    let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["accessToken", "expireAt", "idToken", "refreshToken"]);
    let access = claims(body["accessToken"].as_str().unwrap());
    assert_eq!(access["iss"], s.tenant.issuer());
    assert_eq!(access["azp"], "mobile-app");
    assert!(access["sub"].as_str().unwrap().starts_with("auth0|"));
    let expire_at =
        time::OffsetDateTime::parse(body["expireAt"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    let ahead = expire_at - time::OffsetDateTime::now_utc();
    assert!(ahead > time::Duration::hours(23) && ahead <= time::Duration::hours(24), "{ahead}");
    assert!(body["expireAt"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_answer_for_a_service_client_with_scope_only_when_it_differs() {
    let s = Stack::start().await;
    let url = format!("{}/oauth/token", s.gateway.url);
    let mut form = password_form("demo@example.com", DEMO_PASSWORD);
    form.push(("scope", "openid offline_access"));
    let (status, body) = json(post_form(&url, Some("service-secret"), &form).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86400);
    for k in ["access_token", "refresh_token", "id_token"] {
        assert!(body[k].is_string(), "{k} in {body}");
    }
    assert!(body.get("scope").is_none(), "same scope as asked: {body}");

    let mut form = password_form("demo@example.com", DEMO_PASSWORD);
    form.push(("scope", "email"));
    let (_, body) = json(post_form(&url, Some("service-secret"), &form).await).await;
    assert_eq!(body["scope"], "openid email");
    assert!(body.get("refresh_token").is_none(), "no offline_access asked: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn website_client_gets_an_empty_body_and_the_session_cookie() {
    let s = Stack::start().await;
    let resp = s.password_login("website-secret").await;
    assert_eq!(resp.status(), 200);
    let cookies: Vec<_> =
        resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert_eq!(cookies.len(), 1);
    let (name_value, attrs) = cookies[0].split_once("; ").unwrap();
    let token = name_value.strip_prefix("sid=").unwrap();
    assert_eq!(claims(token)["azp"], "website-app");
    assert_eq!(attrs, "HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=3600");
    assert_eq!(resp.text().await.unwrap(), "");
    // `website` is the sidecar's own scope: never sent upstream.
    let call = s.calls().pop().unwrap();
    assert_eq!(param(&call, "scope"), Some("openid profile offline_access"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_reaches_the_tenant() {
    let s = Stack::start().await;
    let mut form = password_form("demo@example.com", DEMO_PASSWORD);
    form.extend([("scope", "email email admin offline_access website"), ("client_secret", "attacker-guess")]);
    let resp = s
        .gateway
        .post("/oauth/token")
        .header("secret", "mobile-secret")
        .header("x-forwarded-for", "203.0.113.9")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let calls = s.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(param(call, "grant_type"), Some("http://auth0.com/oauth/grant-type/password-realm"));
    assert_eq!(param(call, "realm"), Some("Username-Password-Authentication"));
    assert_eq!(param(call, "scope"), Some("openid email offline_access"));
    assert_eq!(param(call, "client_id"), Some("mobile-app"));
    assert_eq!(param(call, "client_secret"), Some("mobile-client-secret"));
    assert_eq!(param(call, "audience"), Some("https://api.test"));
    // The end user's IP is the socket peer until trusted proxies are configured.
    assert_eq!(header(call, "auth0-forwarded-for"), Some("127.0.0.1"));
    assert!(header(call, "secret").is_none());
    assert!(!format!("{call:?}").contains("mobile-secret\""), "{call:?}");
    assert!(!format!("{call:?}").contains("attacker-guess"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_realm_json_bodies_and_rotated_secrets() {
    let s = Stack::start().await;
    let url = format!("{}/oauth/token", s.gateway.url);
    // JSON body, the password-realm grant name, `realm`, and the second (rotation) secret.
    let body = serde_json::json!({
        "grant_type": "http://auth0.com/oauth/grant-type/password-realm",
        "username": "partner@example.com", "password": "partner-password", "realm": "partners-db",
        "audience": null, "scope": "", "client_id": "mobile-app",
    });
    let resp = http().post(&url).header("secret", "mobile-secret-next").json(&body).send().await.unwrap();
    let (status, answer) = json(resp).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(param(&s.calls()[0], "realm"), Some("partners-db"));
    // A connection the client does not allow.
    let mut form = password_form("partner@example.com", "partner-password");
    form.push(("connection", "partners-db"));
    let resp = post_form(&url, Some("website-secret"), &form).await;
    let err = assert_oauth_error(resp, 400, "invalid_request").await;
    assert!(err["error_description"].as_str().unwrap().contains("partners-db"));
    assert_eq!(s.calls().len(), 1, "refused before the tenant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_token_grant_on_the_token_endpoint() {
    let s = Stack::start().await;
    let url = format!("{}/oauth/token", s.gateway.url);
    let (_, first) =
        json(post_form(&url, Some("service-secret"), &password_form("demo@example.com", DEMO_PASSWORD)).await).await;
    let rt = first["refresh_token"].as_str().unwrap();
    let (status, body) =
        json(post_form(&url, Some("service-secret"), &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await)
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refresh_token"], rt, "not rotated: the one sent comes back");
    assert_ne!(body["access_token"], first["access_token"]);
    // No scope asked nor answered by the tenant: the one the new token carries (never "").
    assert_eq!(body["scope"], claims(body["access_token"].as_str().unwrap())["scope"], "{body}");
    assert!(body["scope"].as_str().is_some_and(|s| s.contains("openid")), "{body}");
    let resp =
        post_form(&url, Some("service-secret"), &[("grant_type", "refresh_token"), ("refresh_token", "nope")]).await;
    assert_oauth_error(resp, 403, "invalid_grant").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_refusals_pass_through_with_their_status() {
    let s = Stack::start().await;
    let url = format!("{}/oauth/token", s.gateway.url);
    let resp = post_form(&url, Some("mobile-secret"), &password_form("demo@example.com", "wrong")).await;
    let body = assert_oauth_error(resp, 403, "invalid_grant").await;
    assert_eq!(body["error_description"], "Wrong email or password.");
    let resp = post_form(&url, Some("mobile-secret"), &password_form("blocked@example.com", "blocked-password")).await;
    let body = assert_oauth_error(resp, 401, "unauthorized").await;
    assert_eq!(body["error_description"], "user is blocked");
    let resp = post_form(&url, Some("mobile-secret"), &password_form("mfa@example.com", "mfa-password")).await;
    let body = assert_oauth_error(resp, 403, "mfa_required").await;
    assert!(body["mfa_token"].as_str().is_some_and(|t| t.len() > 20), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_header_selects_the_client() {
    let s = Stack::start().await;
    let url = format!("{}/oauth/token", s.gateway.url);
    let form = password_form("demo@example.com", DEMO_PASSWORD);
    assert_oauth_error(post_form(&url, None, &form).await, 401, "invalid_client").await;
    assert_oauth_error(post_form(&url, Some("mobile-secreT"), &form).await, 401, "invalid_client").await;
    let mut with_id = form.clone();
    with_id.push(("client_id", "website-app"));
    assert_oauth_error(post_form(&url, Some("mobile-secret"), &with_id).await, 401, "invalid_client").await;
    assert!(s.calls().is_empty(), "no call reached the tenant");
}
