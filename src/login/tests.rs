//! `LoginService::handle` in-process, against the dev tenant's router on a loopback port: the
//! login endpoints without the binary or pingora. The harness is shared with the guard's tests.

use super::Endpoint;
use crate::app::App;
use crate::dev::tenant::DevTenant;
use crate::http::exchange::{Reply, Request};
use crate::jwt::unverified_claims;
use http::{HeaderMap, HeaderValue};
use serde_json::Value;
use std::net::Ipv4Addr;

pub(crate) const DEMO_EMAIL: &str = "demo@example.com";
pub(crate) const DEMO_PASSWORD: &str = "demo-password";

/// The test configuration the end-to-end tests use too (tests/fixtures/gateway.yaml), pointed
/// at `tenant_url`; nothing is proxied, so the backend is an address nothing listens on.
pub(crate) fn test_config(tenant_url: &str) -> crate::config::Config {
    let text = include_str!("../../tests/fixtures/gateway.yaml")
        .replace("{LISTEN}", "1")
        .replace("{ADMIN}", "2")
        .replace("@TENANT_URL@", tenant_url)
        .replace("@BACKEND_URL@", "http://127.0.0.1:1");
    crate::config::parse(&text, "tests/fixtures/gateway.yaml", &|_| None).expect("the test configuration is valid")
}

/// The dev tenant serving on a free loopback port, and the app configured against it.
pub(crate) struct Harness {
    pub(crate) app: App,
    pub(crate) dev: DevTenant,
}

impl Harness {
    pub(crate) async fn start() -> Harness {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tenant_url = format!("http://{}", listener.local_addr().unwrap());
        let config = test_config(&tenant_url);
        let dev = crate::dev::tenant::from_config(&config, &tenant_url).unwrap();
        tokio::spawn(dev.clone().serve(listener));
        Harness { app: App::new(config).unwrap(), dev }
    }

    pub(crate) async fn call(&self, endpoint: Endpoint, req: &Request) -> Reply {
        self.app.login.handle(endpoint, req).await.reply
    }

    /// `/oauth/token` with the demo user's password and `extra` parameters, as `secret`'s client.
    pub(crate) async fn password_login(&self, secret: &str, extra: &[(&str, &str)]) -> Reply {
        let mut form = vec![("grant_type", "password"), ("username", DEMO_EMAIL), ("password", DEMO_PASSWORD)];
        form.extend_from_slice(extra);
        self.call(Endpoint::Token, &request(Some(secret), &form)).await
    }

    /// The access token of a mobile password login.
    pub(crate) async fn access_token(&self) -> String {
        let reply = self.password_login("mobile-secret", &[]).await;
        assert_eq!(reply.status, 200, "{}", text(&reply));
        json(&reply)["accessToken"].as_str().expect("an access token").to_string()
    }
}

/// A form POST from 127.0.0.1, with the `secret` header when given.
pub(crate) fn request(secret: Option<&str>, form: &[(&str, &str)]) -> Request {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
    if let Some(s) = secret {
        headers.insert("secret", HeaderValue::from_str(s).unwrap());
    }
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    Request {
        method: http::Method::POST,
        headers,
        body: body.into(),
        client_ip: Ipv4Addr::LOCALHOST.into(),
        peer_trusted: false,
        target_rewritten: false,
    }
}

pub(crate) fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

pub(crate) fn json(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or_else(|_| panic!("not JSON ({}): {:?}", reply.status, text(reply)))
}

pub(crate) fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
}

/// An OAuth error answer: this status and `error`, with a description.
fn assert_error(reply: &Reply, status: u16, error: &str) -> Value {
    let body = json(reply);
    assert_eq!((reply.status, body["error"].as_str()), (status, Some(error)), "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    body
}

#[tokio::test]
async fn a_password_login_answers_a_mobile_client_in_camel_case() {
    let h = Harness::start().await;
    let reply = h.password_login("mobile-secret", &[]).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    let body = json(&reply);
    for key in ["accessToken", "refreshToken", "idToken", "expireAt"] {
        assert!(body[key].is_string(), "{key} in {body}");
    }
    assert!(body.get("access_token").is_none(), "{body}");
    let claims = unverified_claims(body["accessToken"].as_str().unwrap()).expect("a JWT");
    assert_eq!(claims["sub"], h.dev.subject_of(DEMO_EMAIL));
    assert_eq!(claims["azp"], "mobile-app");
}

#[tokio::test]
async fn a_password_login_answers_an_oauth2_client_in_the_standard_shape() {
    let h = Harness::start().await;
    let reply = h.password_login("service-secret", &[]).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    let body = json(&reply);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string(), "{body}");
    assert!(body["expires_in"].as_u64().is_some_and(|s| s > 0), "{body}");
    assert_eq!(body["scope"], "openid email offline_access", "no scope asked: the one granted is named");
    assert!(body.get("accessToken").is_none(), "{body}");

    let same = json(&h.password_login("service-secret", &[("scope", "email openid")]).await);
    assert!(same.get("scope").is_none(), "the scope asked was granted: not repeated ({same})");
}

#[tokio::test]
async fn a_website_login_answers_an_empty_200_with_the_session_cookie() {
    let h = Harness::start().await;
    let reply = h.password_login("website-secret", &[]).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert!(reply.body.is_empty(), "web clients never see their tokens: {}", text(&reply));
    let cookie = header(&reply, "set-cookie").expect("a session cookie");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let token = cookie.strip_prefix("sid=").and_then(|c| c.split(';').next()).expect("sid=<token>");
    assert_eq!(unverified_claims(token).expect("the access token")["azp"], "website-app");
}

#[tokio::test]
async fn a_wrong_password_is_invalid_grant() {
    let h = Harness::start().await;
    let form = [("grant_type", "password"), ("username", DEMO_EMAIL), ("password", "not-the-password")];
    let reply = h.call(Endpoint::Token, &request(Some("mobile-secret"), &form)).await;
    assert_error(&reply, 403, "invalid_grant");
}

#[tokio::test]
async fn an_unknown_or_missing_secret_is_invalid_client() {
    let h = Harness::start().await;
    let form = [("grant_type", "password"), ("username", DEMO_EMAIL), ("password", DEMO_PASSWORD)];
    let outcome = h.app.login.handle(Endpoint::Token, &request(Some("no-such-secret"), &form)).await;
    assert_error(&outcome.reply, 401, "invalid_client");
    assert_eq!(outcome.client, None);
    let reply = h.call(Endpoint::Token, &request(None, &form)).await;
    assert_error(&reply, 401, "invalid_client");
}

#[tokio::test]
async fn a_missing_grant_type_is_invalid_request() {
    let h = Harness::start().await;
    let form = [("username", DEMO_EMAIL), ("password", DEMO_PASSWORD)];
    let reply = h.call(Endpoint::Token, &request(Some("mobile-secret"), &form)).await;
    let body = assert_error(&reply, 400, "invalid_request");
    assert!(body["error_description"].as_str().unwrap().contains("grant_type"), "{body}");
}

#[tokio::test]
async fn oauth_ro_password_login_answers_in_the_legacy_shape() {
    let h = Harness::start().await;
    let form = [
        ("grant_type", "password"),
        ("username", DEMO_EMAIL),
        ("password", DEMO_PASSWORD),
        ("connection", "Username-Password-Authentication"),
        ("scope", "openid"),
    ];
    let reply = h.call(Endpoint::Ro, &request(Some("mobile-secret"), &form)).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    let body = json(&reply);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].is_string() && body["id_token"].is_string(), "{body}");
    assert!(body.get("accessToken").is_none() && body.get("refresh_token").is_none(), "{body}");
}

#[tokio::test]
async fn the_refresh_token_grant_answers_new_tokens_in_the_client_shape() {
    let h = Harness::start().await;
    let login = json(&h.password_login("mobile-secret", &[]).await);
    let refresh_token = login["refreshToken"].as_str().expect("offline_access gives a refresh token");
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    let reply = h.call(Endpoint::Token, &request(Some("mobile-secret"), &form)).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    let body = json(&reply);
    assert!(body["accessToken"].is_string(), "{body}");
    assert_ne!(body["accessToken"], login["accessToken"]);
    assert_eq!(body["refreshToken"], refresh_token, "not rotated: the one sent is handed back");
}

#[tokio::test]
async fn a_refresh_token_is_good_only_for_its_own_client() {
    let h = Harness::start().await;
    let login = json(&h.password_login("mobile-secret", &[]).await);
    let form = [("grant_type", "refresh_token"), ("refresh_token", login["refreshToken"].as_str().unwrap())];
    let reply = h.call(Endpoint::Token, &request(Some("service-secret"), &form)).await;
    assert_error(&reply, 403, "invalid_grant");
}

#[tokio::test]
async fn oauth_refreshtoken_takes_the_bearer_and_the_refresh_token() {
    let h = Harness::start().await;
    let login = json(&h.password_login("mobile-secret", &[]).await);
    let mut req = request(Some("mobile-secret"), &[("refresh_token", login["refreshToken"].as_str().unwrap())]);
    let bearer = format!("Bearer {}", login["accessToken"].as_str().unwrap());
    req.headers.insert(http::header::AUTHORIZATION, HeaderValue::from_str(&bearer).unwrap());
    let reply = h.call(Endpoint::RefreshToken, &req).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert!(json(&reply)["accessToken"].is_string());

    let mut without_bearer = req.clone();
    without_bearer.headers.remove(http::header::AUTHORIZATION);
    assert_error(&h.call(Endpoint::RefreshToken, &without_bearer).await, 401, "invalid_token");
}

#[tokio::test]
async fn only_a_web_clients_session_is_refreshed_in_passing() {
    use crate::guard::SilentRefresh;
    let h = Harness::start().await;
    let ip = std::net::IpAddr::from(Ipv4Addr::LOCALHOST);
    // A mobile app's access token shown as the session cookie: its session is not refreshed.
    let mobile = h.access_token().await;
    let refused = h.app.login.refresh_cookie(&mobile, ip).await.err().expect("refused");
    assert_eq!((refused.status, refused.error.as_ref()), (401, "invalid_token"));
    // The website's cookie is.
    let website = h.password_login("website-secret", &[]).await;
    let cookie = website.headers.iter().find(|(n, _)| *n == "set-cookie").unwrap().1.clone();
    let token = cookie.split(';').next().unwrap().trim_start_matches("sid=").to_string();
    let renewed = h.app.login.refresh_cookie(&token, ip).await.unwrap_or_else(|e| panic!("{e:?}"));
    assert_ne!(renewed.access_token, token);
    assert!(renewed.set_cookie.starts_with(&format!("sid={}", renewed.access_token)));
}
