//! A tenant that is down, slow, or answers HTML: the caller gets 502/504 with an OAuth error
//! body (never the tenant's raw body), and the gateway keeps serving.

use crate::common::*;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use std::time::Duration;

const HTML: &str = "<html><body>Internal tenant stack trace: db=prod-7</body></html>";

/// A fake tenant whose `/oauth/token` is `handler`.
fn token_endpoint<H: axum::handler::Handler<T, ()>, T: 'static>(handler: H) -> axum::Router {
    axum::Router::new().route("/oauth/token", post(handler))
}

/// A gateway in front of a fake tenant serving `router` (or nothing at all).
async fn gateway_for(router: Option<axum::Router>) -> Gateway {
    let tenant_url = match router {
        Some(r) => {
            let (l, addr) = listener().await;
            tokio::spawn(async move { axum::serve(l, r).await });
            format!("http://{addr}")
        }
        None => NOTHING_LISTENS.to_string(),
    };
    let (bl, baddr) = listener().await;
    tokio::spawn(authgate::dev::echo::serve(bl));
    Gateway::start(&config_yaml(&tenant_url, &format!("http://{baddr}"))).await
}

async fn login(g: &Gateway) -> reqwest::Response {
    password_login_at(&g.url, "mobile-secret").await
}

async fn assert_still_serves(g: &Gateway) {
    let resp = g.get("/public/anything").send().await.unwrap();
    assert_eq!(resp.status(), 200, "the backend route still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_down_is_502() {
    let g = gateway_for(None).await;
    let body = assert_oauth_error(login(&g).await, 502, "bad_gateway").await;
    assert_eq!(body["error_description"], "The identity provider could not be reached.");
    assert_still_serves(&g).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_too_slow_is_504() {
    let slow = token_endpoint(|| async {
        tokio::time::sleep(Duration::from_secs(8)).await;
        "late"
    });
    let g = gateway_for(Some(slow)).await;
    assert_oauth_error(login(&g).await, 504, "gateway_timeout").await;
    assert_still_serves(&g).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_html_answers_are_502_and_never_passed_on() {
    for status in
        [StatusCode::OK, StatusCode::BAD_REQUEST, StatusCode::INTERNAL_SERVER_ERROR, StatusCode::SERVICE_UNAVAILABLE]
    {
        let html =
            token_endpoint(move || async move { (status, [("content-type", "text/html")], HTML).into_response() });
        let g = gateway_for(Some(html)).await;
        let resp = login(&g).await;
        assert_eq!(resp.headers()["content-type"], "application/json");
        let text = resp.text().await.unwrap();
        assert!(!text.contains("stack trace"), "{text}");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"], "bad_gateway", "tenant status {status}");
        assert_still_serves(&g).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_5xx_json_is_502_not_passed_through() {
    let failing = token_endpoint(|| async {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"error":"temporarily_unavailable","error_description":"internal detail"})),
        )
    });
    let g = gateway_for(Some(failing)).await;
    let body = assert_oauth_error(login(&g).await, 502, "bad_gateway").await;
    assert!(!body.to_string().contains("internal detail"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_rate_limit_passes_through() {
    let limited = token_endpoint(|| async {
        (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(
                serde_json::json!({"error":"too_many_attempts","error_description":"Your account has been blocked after multiple consecutive login attempts."}),
            ),
        )
    });
    let g = gateway_for(Some(limited)).await;
    assert_oauth_error(login(&g).await, 429, "too_many_attempts").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_tenant_cannot_crash_flood_or_redirect_the_gateway() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    // An absurd lifetime: clamped, no panic, the login answers.
    let forever = token_endpoint(|| async {
        axum::Json(serde_json::json!({"access_token": "a.b.c", "expires_in": 400_000_000_000u64}))
    });
    let g = gateway_for(Some(forever)).await;
    let (status, body) = json(login(&g).await).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["expireAt"].as_str().is_some_and(|t| t.starts_with("20")), "{body}");
    assert_still_serves(&g).await;

    // A 30 MB error body is not read whole: 502.
    let huge = token_endpoint(|| async { (StatusCode::BAD_REQUEST, "x".repeat(30 * 1024 * 1024)).into_response() });
    let g = gateway_for(Some(huge)).await;
    assert_oauth_error(login(&g).await, 502, "bad_gateway").await;
    assert_still_serves(&g).await;

    // A 407 (or any status outside the OAuth set) is the tenant's fault, not the caller's.
    let proxy_auth = token_endpoint(|| async {
        (
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            axum::Json(serde_json::json!({"error": "x", "error_description": "y"})),
        )
    });
    let g = gateway_for(Some(proxy_auth)).await;
    assert_oauth_error(login(&g).await, 502, "bad_gateway").await;

    // A redirect is never followed: the password and client secret go nowhere else.
    let followed = Arc::new(AtomicUsize::new(0));
    let seen = followed.clone();
    let redirecting = axum::Router::new()
        .route(
            "/oauth/token",
            post(|| async { (StatusCode::TEMPORARY_REDIRECT, [("location", "/elsewhere")]).into_response() }),
        )
        .route(
            "/elsewhere",
            post(move || {
                seen.fetch_add(1, Ordering::SeqCst);
                async { axum::Json(serde_json::json!({"access_token": "stolen"})) }
            }),
        );
    let g = gateway_for(Some(redirecting)).await;
    assert_oauth_error(login(&g).await, 502, "bad_gateway").await;
    assert_eq!(followed.load(Ordering::SeqCst), 0, "the redirect was followed");
}
