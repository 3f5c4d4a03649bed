//! Running it in production: metrics, request ids in the access line, draining on SIGTERM,
//! hot reload (file change, SIGHUP, an invalid file), TLS, JSON logs.

use crate::common::*;
use std::time::{Duration, Instant};

async fn metrics_text(g: &Gateway) -> String {
    http().get(format!("{}/metrics", g.admin_url)).send().await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_tenant_calls_keys_and_refusals() {
    let s = Stack::start().await;
    let (status, _) = s.login("mobile-secret").await;
    assert_eq!(status, 200);
    post_form(
        &format!("{}/oauth/token", s.gateway.url),
        Some("mobile-secret"),
        &password_form("demo@example.com", "bad"),
    )
    .await;
    s.gateway.get("/public/x").send().await.unwrap();
    // A management call is counted under the client whose secret made it.
    let active = s.gateway.get("/users/active").header("secret", "admin-secret").send().await.unwrap();
    assert_eq!(active.status(), 200);
    let backend_counted = r#"authgate_requests_total{client="-",decision="allowed",route="backend",status="200"} 1"#;
    assert!(
        eventually(Duration::from_secs(5), async || metrics_text(&s.gateway).await.contains(backend_counted)).await
    );
    let m = metrics_text(&s.gateway).await;
    for needle in [
        r#"authgate_requests_total{client="mobile",decision="none",route="token",status="200"} 1"#,
        r#"authgate_requests_total{client="mobile",decision="none",route="token",status="403"} 1"#,
        r#"authgate_requests_total{client="-",decision="allowed",route="backend",status="200"} 1"#,
        r#"authgate_requests_total{client="admin",decision="none",route="management",status="200"} 1"#,
        r#"authgate_tenant_request_duration_seconds_count{operation="token"} 2"#,
        r#"authgate_tenant_errors_total{kind="rejected"} 1"#,
        r#"authgate_jwks_fetches_total{result="ok"}"#,
        r#"authgate_request_duration_seconds_bucket{route="token",le="+Inf"} 2"#,
        "authgate_requests_in_flight 0",
    ] {
        assert!(m.contains(needle), "{needle} missing in:\n{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_reach_the_tenant_the_backend_and_the_access_line() {
    let s = Stack::start().await;
    let resp = s
        .gateway
        .post("/oauth/token")
        .header("secret", "mobile-secret")
        .header("x-request-id", "req-from-client-1")
        .form(&password_form("demo@example.com", DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "req-from-client-1");
    assert_eq!(header(&s.calls().pop().unwrap(), "x-request-id"), Some("req-from-client-1"));
    let resp = s.gateway.get("/public/x").send().await.unwrap();
    let generated = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(generated.len(), 36, "a UUID when the client sent none");
    let (_, echo) = json(resp).await;
    assert_eq!(echo["headers"]["x-request-id"], generated.as_str());
    assert!(eventually(Duration::from_secs(5), async || s.gateway.logs().contains("req-from-client-1")).await);
    let logs = s.gateway.logs();
    let line = logs.lines().find(|l| l.contains("req-from-client-1")).expect("an access line with the id");
    for field in ["route=\"token\"", "client=\"mobile\"", "status=200", "latency_ms=", "tenant_ms="] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_refuses_new_ones_and_exits_0() {
    // A backend that takes its time.
    let slow = axum::Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        "slow answer"
    });
    let b = Backends::start(|y| edit(&y, "threads: 1\n", "threads: 1\ngrace_period_seconds: 30\n"), slow).await;
    let mut g = Gateway::start(&b.yaml).await;
    let ready = format!("{}/readyz", g.admin_url);
    assert!(
        eventually(Duration::from_secs(10), async || http().get(&ready).send().await.is_ok_and(|r| r.status() == 200))
            .await
    );

    let in_flight = tokio::spawn({
        let url = format!("{}/public/slow", g.url);
        async move { http().get(url).send().await.map(|r| r.status().as_u16()) }
    });
    // In flight when the signal comes (the gauge says so).
    let one_in_flight = async || metrics_text(&g).await.lines().any(|l| l == "authgate_requests_in_flight 1");
    assert!(eventually(Duration::from_secs(5), one_in_flight).await);
    g.signal("TERM");
    let started = Instant::now();
    assert!(
        eventually(Duration::from_secs(5), async || http().get(&ready).send().await.is_ok_and(|r| r.status() == 503))
            .await,
        "readiness turns 503 while draining"
    );
    let proxy = g.url.clone();
    assert!(
        eventually(Duration::from_secs(5), async || http().get(format!("{proxy}/public/x")).send().await.is_err())
            .await,
        "new connections are refused"
    );
    assert_eq!(in_flight.await.unwrap().unwrap(), 200, "the in-flight request completed");
    assert_eq!(g.wait_exit(Duration::from_secs(25)), Some(0), "exit 0");
    assert!(started.elapsed() < Duration::from_secs(25), "ended before the 30 s grace period");
    assert!(g.logs().contains("drained; exiting"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_at_once_even_with_a_long_grace_period() {
    let b = Backends::start(
        |y| edit(&y, "threads: 1\n", "threads: 1\ngrace_period_seconds: 30\n"),
        authgate::dev::echo::router(),
    )
    .await;
    let mut g = Gateway::start(&b.yaml).await;
    assert_eq!(g.get("/public/x").send().await.unwrap().status(), 200);
    g.signal("INT");
    assert_eq!(g.wait_exit(Duration::from_secs(10)), Some(0), "exit 0, without the 30 s grace period");
    assert!(!g.logs().contains("drained"), "no drain on SIGINT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_changes_are_reloaded_and_invalid_ones_refused() {
    let s = Stack::start().await;
    let g = &s.gateway;
    let url = format!("{}/oauth/token", g.url);
    let login = async |secret: &'static str| {
        post_form(&url, Some(secret), &password_form("demo@example.com", DEMO_PASSWORD)).await
    };
    assert_eq!(login("mobile-secret-3rd").await.status(), 401);

    // The file changes (as a ConfigMap update would): picked up without a signal.
    let rotated = g.config_text.replace("[mobile-secret, mobile-secret-next]", "[mobile-secret, mobile-secret-3rd]");
    std::fs::write(&g.config_path, &rotated).unwrap();
    assert!(eventually(Duration::from_secs(10), async || login("mobile-secret-3rd").await.status() == 200).await);
    assert_eq!(login("mobile-secret-next").await.status(), 401, "the removed secret is gone");

    // An invalid file is refused; the old configuration keeps serving.
    std::fs::write(
        &g.config_path,
        rotated.replace("default_connection: Username-Password-Authentication", "default_connection: nope"),
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(10), async || metrics_text(g)
            .await
            .contains(r#"authgate_config_reloads_total{result="error"} 1"#))
        .await,
        "the refusal is counted"
    );
    assert!(g.logs().contains("configuration reload refused"));
    assert_eq!(login("mobile-secret-3rd").await.status(), 200, "still serving the last good configuration");

    // SIGHUP reloads too (here: back to a valid file, same content as before).
    std::fs::write(
        &g.config_path,
        rotated.replace("[mobile-secret, mobile-secret-3rd]", "[mobile-secret, mobile-secret-4th]"),
    )
    .unwrap();
    g.signal("HUP");
    assert!(eventually(Duration::from_secs(10), async || login("mobile-secret-4th").await.status() == 200).await);
    assert!(metrics_text(g).await.contains(r#"authgate_config_reloads_total{result="ok"}"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_on_the_proxy_listener() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let tls = format!(
        "threads: 1\ntls: {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
        cert_path.display(),
        key_path.display()
    );
    let s = Stack::start_with(|y| edit(&y, "threads: 1\n", &tls)).await;
    let port = s.gateway.url.rsplit(':').next().unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let resp = client
        .post(format!("https://localhost:{port}/oauth/token"))
        .header("secret", "mobile-secret")
        .form(&password_form("demo@example.com", DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        http().get(format!("http://127.0.0.1:{port}/public/x")).send().await.map(|r| r.status() != 200).unwrap_or(true),
        "no plain HTTP"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_on_request() {
    let b = Backends::start(|y| y, authgate::dev::echo::router()).await;
    let g = Gateway::start_with_env(&b.yaml, &[("AUTHGATE_LOG_FORMAT", "json")]).await;
    g.get("/public/x").header("x-request-id", "json-1").send().await.unwrap();
    assert!(eventually(Duration::from_secs(5), async || g.logs().contains("json-1")).await);
    let logs = g.logs();
    let line = logs.lines().find(|l| l.contains("json-1")).expect("the access line");
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["fields"]["request_id"], "json-1");
    assert_eq!(v["fields"]["status"], 200);
}
