//! Everything that is not a login call goes to the backend unchanged, minus the `secret` header.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_reach_the_backend_unchanged_without_the_secret() {
    let s = Stack::start().await;
    let c = http();
    for method in ["GET", "POST", "DELETE", "PATCH"] {
        let resp = c
            .request(method.parse().unwrap(), format!("{}/public/items/42?expand=owner&x=%20y", s.gateway.url))
            .header("secret", "mobile-secret")
            .header("x-custom", "kept")
            .header("authorization", "Bearer abc")
            .body("payload")
            .send()
            .await
            .unwrap();
        let (status, echo) = json(resp).await;
        assert_eq!(status, 200, "{echo}");
        assert_eq!(echo["method"], method);
        assert_eq!(echo["path"], "/public/items/42");
        assert_eq!(echo["query"], "expand=owner&x=%20y");
        assert_eq!(echo["headers"]["x-custom"], "kept");
        assert_eq!(echo["headers"]["authorization"], "Bearer abc");
        assert!(echo["headers"].get("secret").is_none(), "{echo}");
    }
    // Login paths with other suffixes are ordinary (guarded) backend paths.
    let resp = c.get(format!("{}/oauth/token/info", s.gateway.url)).send().await.unwrap();
    assert_oauth_error(resp, 401, "invalid_token").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_down_is_a_json_502() {
    let g = Gateway::start(&config_yaml(NOTHING_LISTENS, NOTHING_LISTENS)).await;
    let resp = g.get("/public/x").send().await.unwrap();
    assert_oauth_error(resp, 502, "bad_gateway").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_listener_answers_health_and_readiness() {
    let s = Stack::start().await;
    let c = http();
    let (status, body) = json(c.get(format!("{}/healthz", s.gateway.admin_url)).send().await.unwrap()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, _) = json(c.get(format!("{}/readyz", s.gateway.admin_url)).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let (status, _) = json(c.get(format!("{}/nope", s.gateway.admin_url)).send().await.unwrap()).await;
    assert_eq!(status, 404);
}
