//! No secret, password, token or cookie value in any log line, at debug level, for every flow.

use crate::common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_contain_credentials() {
    let s = Stack::start().await;
    let token_url = format!("{}/oauth/token", s.gateway.url);
    let mut leaks: Vec<String> = vec![
        "mobile-secret",
        "website-secret",
        "service-secret",
        "mobile-client-secret",
        "website-client-secret",
        "service-client-secret",
        "demo-password",
        "wrong-password-xyz",
        "unknown-refresh-xyz",
    ]
    .into_iter()
    .map(String::from)
    .collect();

    let (_, mobile) = s.login("mobile-secret").await;
    let (_, service) = s.login("service-secret").await;
    let cookie = s.website_cookie().await;
    post_form(&token_url, Some("mobile-secret"), &password_form("demo@example.com", "wrong-password-xyz")).await;
    post_form(&token_url, Some("not-a-client-secret-xyz"), &password_form("demo@example.com", DEMO_PASSWORD)).await;
    leaks.push("not-a-client-secret-xyz".into());
    let ro = s.gateway.post("/oauth/ro")
        .header("secret", "mobile-secret")
        .json(&json!({"grant_type": "password", "username": "demo@example.com", "password": "demo-password", "client_id": "mobile-app"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ro.status(), 200);
    let ro: serde_json::Value = ro.json().await.unwrap();
    let passwords_api = s
        .gateway
        .post("/v1/auth/password/authenticate")
        .header("secret", "mobile-secret")
        .json(&json!({"username": "demo@example.com", "password": "demo-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(passwords_api.status(), 200);
    let passwords_api: serde_json::Value = passwords_api.json().await.unwrap();
    let at = mobile["accessToken"].as_str().unwrap();
    let refreshed = s
        .gateway
        .post("/oauth/refreshtoken")
        .header("secret", "mobile-secret")
        .bearer_auth(at)
        .json(&json!({"refresh_token": mobile["refreshToken"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    let refreshed: serde_json::Value = refreshed.json().await.unwrap();
    s.gateway
        .post("/oauth/refreshtoken")
        .header("secret", "mobile-secret")
        .bearer_auth("forged.token.value")
        .json(&json!({"refresh_token": "unknown-refresh-xyz"}))
        .send()
        .await
        .unwrap();
    s.gateway
        .get("/api/data?x=1")
        .header("secret", "service-secret")
        .header("cookie", &cookie)
        .bearer_auth(at)
        .send()
        .await
        .unwrap();

    for body in [&mobile, &service, &refreshed, &ro, &passwords_api] {
        for v in body.as_object().unwrap().values() {
            if let Some(t) = v.as_str().filter(|t| t.len() > 30) {
                // Any long run of a token is a leak; the signature part is the most specific.
                leaks.push(t.rsplit('.').next().unwrap().to_string());
            }
        }
    }
    leaks.push(cookie.trim_start_matches("sid=").rsplit('.').next().unwrap().to_string());
    leaks.push("forged.token.value".into());

    let flushed = async || s.gateway.logs().contains("/api/data");
    assert!(eventually(std::time::Duration::from_secs(5), flushed).await, "the access lines are written");
    let logs = s.gateway.logs();
    assert!(logs.contains("route=\"token\"") || logs.contains("route=token"), "access lines are logged:\n{logs}");
    assert!(logs.contains("route=\"refreshtoken\"") || logs.contains("route=refreshtoken"));
    assert!(logs.contains("/api/data"), "backend requests are logged");
    for leak in &leaks {
        assert!(!logs.contains(leak.as_str()), "{leak} appears in the logs:\n{logs}");
    }
}

/// Every log line of a request carries its id (the `request` span), so a guard or tenant line
/// can be joined with the access line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requests_log_lines_carry_its_id() {
    let s = Stack::start().await;
    let resp =
        s.gateway.get("/api/x").header("x-request-id", "joined-1").bearer_auth("not.a.token").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let joined = async || s.gateway.logs().lines().any(|l| l.contains("token refused") && l.contains("joined-1"));
    assert!(eventually(std::time::Duration::from_secs(5), joined).await, "{}", s.gateway.logs());
}
