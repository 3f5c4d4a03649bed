//! Slow bodies and many connections from one address: the body deadline on the gateway's own
//! endpoints and on bodies streamed to the backend, and the per-address connection cap
//! (trusted proxies exempt).

use crate::common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Send `head` (a header section that declares a 1,000-byte body), then one body byte every
/// 200 ms: what the gateway answered once it closed the connection, or `None` when it had not
/// within 20 s. The answer is read while the bytes are sent, so a reset loses none of it.
async fn drip_body(base_url: &str, head: &str) -> Option<String> {
    let stream = tokio::net::TcpStream::connect(base_url.trim_start_matches("http://")).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let read = tokio::spawn(async move {
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&answer).into_owned()
    });
    writer.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..100 {
        if read.is_finished() || writer.write_all(b"a").await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::timeout(Duration::from_secs(1), read).await.ok().map(|r| r.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_is_cut_off_on_own_endpoints_and_on_the_proxied_path() {
    // A backend that reads the whole body before it answers (the echo backend does not).
    let reads_bodies = axum::Router::new().fallback(|body: axum::body::Bytes| async move { body.len().to_string() });
    let b = Backends::start(
        |y| edit(&y, "threads: 1\n", "threads: 1\nconnections: { body_timeout_ms: 1000 }\n"),
        reads_bodies,
    )
    .await;
    let gateway = Gateway::start(&b.yaml).await;
    for (path, what) in [("/oauth/token", "a login"), ("/public/x", "a body for the backend")] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nsecret: website-secret\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        );
        // 1,000 bytes at 5 a second would take 200 s; the gateway answers after about one.
        let answer = drip_body(&gateway.url, &head).await.unwrap_or_else(|| panic!("{what}: never cut off"));
        assert!(answer.starts_with("HTTP/1.1 408"), "{what}: {answer}");
        assert!(answer.contains("\"error\":\"request_timeout\""), "{what}: {answer}");
    }
    // The gateway keeps serving, and a body sent at once is not affected.
    assert_eq!(raw_get(&gateway.url, "GET", "/public/x", &[]).await.status, Some(200));
    let resp = gateway.post("/public/x").body("0123456789").send().await.unwrap();
    assert_eq!((resp.status().as_u16(), resp.text().await.unwrap()), (200, "10".to_string()));
    let metrics = http().get(format!("{}/metrics", gateway.admin_url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("authgate_connections_refused_total{reason=\"body_timeout\"} 1"), "{metrics}");
}

/// A keep-alive connection that has been answered once (so the gateway has counted it).
async fn answered_connection(base_url: &str) -> tokio::net::TcpStream {
    let mut c = tokio::net::TcpStream::connect(base_url.trim_start_matches("http://")).await.unwrap();
    c.write_all(b"GET /public/x HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "closed before answering: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer);
        let Some(end) = text.find("\r\n\r\n") else { continue };
        let length = text[..end]
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
            .unwrap_or(0usize);
        if answer.len() >= end + 4 + length {
            assert!(text.starts_with("HTTP/1.1 200"), "{text}");
            return c;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_at_most_its_share_of_connections_unless_it_is_a_trusted_proxy() {
    let caps = "threads: 1\nconnections: { max: 50, max_per_ip: 2 }\n";
    let s = Stack::start_edited("threads: 1\n", caps).await;
    let held = [answered_connection(&s.gateway.url).await, answered_connection(&s.gateway.url).await];
    let r = raw_get(&s.gateway.url, "GET", "/public/x", &[]).await;
    assert_eq!(r.status, Some(429), "{r:?}");
    assert_eq!(r.json()["error"], "too_many_requests");
    drop(held);
    let served = eventually(Duration::from_secs(10), async || {
        raw_get(&s.gateway.url, "GET", "/public/x", &[]).await.status == Some(200)
    });
    assert!(served.await, "never served again");

    // Behind a trusted proxy every client shares its address: it is not capped.
    let trusted = format!("{caps}limits:\n  trusted_proxies: [127.0.0.1/32]\n");
    let s = Stack::start_edited("threads: 1\n", &trusted).await;
    let _held = [answered_connection(&s.gateway.url).await, answered_connection(&s.gateway.url).await];
    assert_eq!(raw_get(&s.gateway.url, "GET", "/public/x", &[]).await.status, Some(200));
}
