//! Legacy `/oauth/ro` (translated and forwarded, passwordless, jwt-bearer), the Passwords API,
//! and every way the gateway authenticates to the tenant, end to end.

use crate::common::*;
use serde_json::{json, Value};

async fn ro(s: &Stack, secret: &str, body: Value) -> reqwest::Response {
    s.gateway.post("/oauth/ro").header("secret", secret).json(&body).send().await.unwrap()
}

/// A mobile client's `/oauth/ro` call refused with `status` and `error`: the error body.
async fn ro_refused(s: &Stack, body: Value, status: u16, error: &str) -> Value {
    assert_oauth_error(ro(s, "mobile-secret", body).await, status, error).await
}

fn db_login(extra: Value) -> Value {
    let mut b = json!({
        "client_id": "mobile-app", "connection": "Username-Password-Authentication", "grant_type": "password",
        "username": "demo@example.com", "password": DEMO_PASSWORD, "scope": "openid",
    });
    b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    b
}

/// An RSA private key in PKCS#8 PEM, for private_key_jwt clients.
fn private_key_pem() -> String {
    use aws_lc_rs::encoding::AsDer;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    pem::encode(&pem::Pem::new("PRIVATE KEY", pair.as_der().unwrap().as_ref().to_vec()))
}

/// The test stack plus a client of each authentication method and a forwarding /oauth/ro one.
async fn stack_with_clients() -> Stack {
    let key = private_key_pem().lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n");
    Stack::start_with(move |y| {
        format!(
            "{y}  basic:
    secret: basic-secret
    client_id: basic-app
    client_secret: basic-client-secret
    token_auth_method: client_secret_basic
    scopes: [openid, offline_access]
    connections: [Username-Password-Authentication]
  jwt:
    secret: jwt-client-secret-header
    client_id: jwt-app
    token_auth_method: private_key_jwt
    private_key: |
{key}
    scopes: [openid, offline_access]
    connections: [Username-Password-Authentication]
  legacy:
    secret: legacy-secret
    client_id: legacy-app
    client_secret: legacy-client-secret
    legacy_ro: forward
    scopes: [openid, offline_access]
    connections: [Username-Password-Authentication]
"
        )
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ro_database_logins_become_the_password_realm_grant() {
    let s = Stack::start().await;
    let (status, body) = json(ro(&s, "mobile-secret", db_login(json!({}))).await).await;
    assert_eq!(status, 200, "{body}");
    let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["access_token", "id_token", "token_type"]);
    let call = s.calls().pop().unwrap();
    assert_eq!(call.path, "/oauth/token");
    assert_eq!(param(&call, "grant_type"), Some("http://auth0.com/oauth/grant-type/password-realm"));
    assert_eq!(param(&call, "realm"), Some("Username-Password-Authentication"));
    // Form bodies work too.
    let resp = post_form(
        &format!("{}/oauth/ro", s.gateway.url),
        Some("mobile-secret"),
        &[("grant_type", "password"), ("username", "demo@example.com"), ("password", DEMO_PASSWORD)],
    )
    .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ro_errors_speak_ro() {
    let s = Stack::start().await;
    let body = ro_refused(&s, db_login(json!({"password": "wrong"})), 401, "invalid_user_password").await;
    assert_eq!(body["error_description"], "Wrong email or password.");
    let blocked = db_login(json!({"username": "blocked@example.com", "password": "blocked-password"}));
    ro_refused(&s, blocked, 401, "unauthorized").await;
    let mut no_user = db_login(json!({}));
    no_user.as_object_mut().unwrap().remove("username");
    let body = ro_refused(&s, no_user, 400, "invalid_request").await;
    assert_eq!(body["error_description"], "missing username parameter");
    let body = ro_refused(&s, db_login(json!({"scope": "openid offline_access"})), 400, "invalid_request").await;
    assert_eq!(body["error_description"], "missing device parameter");
    ro_refused(&s, db_login(json!({"client_id": "website-app"})), 401, "invalid_client").await;
    assert_oauth_error(ro(&s, "nope-secret", db_login(json!({}))).await, 401, "invalid_client").await;
    // offline_access with a device gives a refresh token.
    let (status, body) =
        json(ro(&s, "mobile-secret", db_login(json!({"scope": "openid offline_access", "device": "phone-1"}))).await)
            .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ro_sms_logins_become_the_passwordless_otp_grant() {
    let s = Stack::start().await;
    let sms = json!({"client_id": "mobile-app", "connection": "sms", "grant_type": "password",
                     "username": "+15555550100", "password": "123456", "scope": "openid"});
    let (status, body) = json(ro(&s, "mobile-secret", sms.clone()).await).await;
    assert_eq!(status, 200, "{body}");
    let call = s.calls().pop().unwrap();
    assert_eq!(param(&call, "grant_type"), Some("http://auth0.com/oauth/grant-type/passwordless/otp"));
    assert_eq!((param(&call, "realm"), param(&call, "otp")), (Some("sms"), Some("123456")));
    let mut wrong = sms.clone();
    wrong["password"] = json!("000000");
    ro_refused(&s, wrong, 401, "invalid_user_password").await;
    // A client without the sms connection cannot use it.
    let mut web = sms;
    web["client_id"] = json!("website-app");
    assert_oauth_error(ro(&s, "website-secret", web).await, 400, "invalid_request").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ro_forward_mode_sends_the_call_to_the_tenants_ro() {
    let s = stack_with_clients().await;
    let body = db_login(json!({"client_id": "legacy-app", "scope": "openid offline_access", "device": "d1"}));
    let (status, answer) = json(ro(&s, "legacy-secret", body).await).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["refresh_token"].is_string() && answer["id_token"].is_string());
    let call = s.calls().pop().unwrap();
    assert_eq!(call.path, "/oauth/ro");
    assert_eq!(param(&call, "connection"), Some("Username-Password-Authentication"));
    assert_eq!(param(&call, "device"), Some("d1"));
    assert!(param(&call, "client_secret").is_none(), "/oauth/ro has no client secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ro_jwt_bearer_needs_a_valid_id_token_and_a_device() {
    let s = Stack::start().await;
    let (_, tokens) = s.login("mobile-secret").await;
    let id_token = tokens["idToken"].as_str().unwrap();
    let bearer = |id: &str, device: Option<&str>| {
        let mut b = json!({"client_id": "mobile-app", "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "id_token": id, "scope": "openid"});
        if let Some(d) = device {
            b["device"] = json!(d);
        }
        b
    };
    let (status, body) = json(ro(&s, "mobile-secret", bearer(id_token, Some("tablet"))).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(s.calls().pop().unwrap().path, "/oauth/ro");
    let body = ro_refused(&s, bearer(id_token, None), 400, "invalid_request").await;
    assert_eq!(body["error_description"], "missing device parameter");
    let mut no_id = bearer(id_token, Some("tablet"));
    no_id.as_object_mut().unwrap().remove("id_token");
    let body = ro_refused(&s, no_id, 400, "invalid_request").await;
    assert_eq!(body["error_description"], "missing id_token parameter");
    // Legacy HS256 id_tokens, signed with the client secret, are accepted.
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({"iss": s.tenant.issuer(), "sub": claims(id_token)["sub"], "aud": "mobile-app", "iat": now, "exp": now + 600});
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"mobile-client-secret"),
    )
    .unwrap();
    assert_eq!(ro(&s, "mobile-secret", bearer(&hs, Some("tablet"))).await.status(), 200);
    // Signed with anything else, or for another client: refused before the tenant.
    let (_, web) = json(s.password_login("service-secret").await).await;
    let other = web["id_token"].as_str().unwrap();
    let calls = s.calls().len();
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    ro_refused(&s, bearer(&forged, Some("tablet")), 401, "invalid_token").await;
    ro_refused(&s, bearer(other, Some("tablet")), 401, "invalid_token").await;
    assert_eq!(s.calls().len(), calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_api_answers_in_its_shape() {
    let s = Stack::start().await;
    let url = format!("{}/v1/auth/password/authenticate", s.gateway.url);
    let call = |body: Value| http().post(&url).header("secret", "mobile-secret").json(&body).send();
    let (status, body) = json(
        call(json!({"username": "demo@example.com", "password": DEMO_PASSWORD, "username_type": "email"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for k in ["access_token", "id_token", "refresh_token", "token_type", "expires_in", "session_id"] {
        assert!(!body[k].is_null(), "{k} in {body}");
    }
    assert_eq!(body["session_id"].as_str().unwrap().len(), 36, "a generated UUID");

    let (status, body) = json(
        call(json!({
            "username": "demo@example.com", "password": DEMO_PASSWORD, "session_id": "sess-42",
            "resource": "https://reports.test", "org_id": "org_7", "claims": {"id_token": {"email": null}},
        }))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((status, body["session_id"].as_str()), (200, Some("sess-42")), "{body}");
    let upstream = s.calls().pop().unwrap();
    assert_eq!(param(&upstream, "audience"), Some("https://reports.test"));
    assert_eq!(param(&upstream, "organization"), Some("org_7"));
    assert_eq!(param(&upstream, "claims"), Some(r#"{"id_token":{"email":null}}"#));

    // A phone number logs in on the passwordless connection with its one-time code.
    let (status, body) = json(
        call(json!({"username": "+15555550100", "password": "123456", "username_type": "phone_number"})).await.unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let upstream = s.calls().pop().unwrap();
    assert_eq!(param(&upstream, "grant_type"), Some("http://auth0.com/oauth/grant-type/passwordless/otp"));
    assert_eq!((param(&upstream, "realm"), param(&upstream, "otp")), (Some("sms"), Some("123456")));

    let calls = s.calls().len();
    let bad_type = call(json!({"username": "u", "password": "p", "username_type": "nickname"})).await.unwrap();
    assert_oauth_error(bad_type, 400, "invalid_request").await;
    let bad_resource = call(json!({"username": "u", "password": "p", "resource": "https://admin.test"})).await.unwrap();
    assert_oauth_error(bad_resource, 400, "invalid_request").await;
    assert_eq!(s.calls().len(), calls, "refused before the tenant");
    let wrong = call(json!({"username": "demo@example.com", "password": "wrong"})).await.unwrap();
    assert_oauth_error(wrong, 401, "invalid_grant").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_authentication_method_is_verified_by_the_tenant() {
    let s = stack_with_clients().await;
    let url = format!("{}/oauth/token", s.gateway.url);
    // client_secret_basic: credentials in the Authorization header, none in the form.
    let (status, body) =
        json(post_form(&url, Some("basic-secret"), &password_form("demo@example.com", DEMO_PASSWORD)).await).await;
    assert_eq!(status, 200, "{body}");
    let call = s.calls().pop().unwrap();
    assert!(header(&call, "authorization").is_some_and(|h| h.starts_with("Basic ")));
    assert!(param(&call, "client_secret").is_none());

    // private_key_jwt: a fresh assertion each time.
    let mut jtis = Vec::new();
    for _ in 0..2 {
        let (status, body) = json(
            post_form(&url, Some("jwt-client-secret-header"), &password_form("demo@example.com", DEMO_PASSWORD)).await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let call = s.calls().pop().unwrap();
        assert_eq!(
            param(&call, "client_assertion_type"),
            Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        );
        let assertion = claims(param(&call, "client_assertion").unwrap());
        assert_eq!((assertion["iss"].as_str(), assertion["sub"].as_str()), (Some("jwt-app"), Some("jwt-app")));
        assert_eq!(assertion["aud"], format!("{}oauth/token", s.tenant.issuer()));
        let lifetime = assertion["exp"].as_u64().unwrap() - assertion["iat"].as_u64().unwrap();
        assert!(lifetime <= 60, "{lifetime}");
        jtis.push(assertion["jti"].as_str().unwrap().to_string());
        // The dev tenant refuses the same assertion a second time.
        let replay: Vec<(String, String)> = call.params.clone();
        let resp = http().post(format!("{}oauth/token", s.tenant.issuer())).form(&replay).send().await.unwrap();
        assert_oauth_error(resp, 401, "invalid_client").await;
    }
    assert_ne!(jtis[0], jtis[1]);

    // A client must use its own method: the post client's secret as Basic is refused.
    let resp = http()
        .post(format!("{}oauth/token", s.tenant.issuer()))
        .basic_auth("mobile-app", Some("mobile-client-secret"))
        .form(&[("grant_type", "password"), ("username", "demo@example.com"), ("password", DEMO_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 401, "invalid_client").await;
}
