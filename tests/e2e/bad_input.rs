//! Hostile and malformed input: each gets its status and an OAuth error body, nothing reaches
//! the tenant, and the gateway keeps serving.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_status_and_the_gateway_keeps_serving() {
    let s = Stack::start().await;
    let url = format!("{}/oauth/token", s.gateway.url);
    let c = http();
    let send = |ct: Option<&'static str>, body: Vec<u8>| {
        let mut r = c.post(&url).header("secret", "mobile-secret").body(body);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
    const JSON: Option<&str> = Some("application/json");
    /// (content type, body, status, error, description)
    type Case = (Option<&'static str>, Vec<u8>, u16, &'static str, Option<&'static str>);
    let cases: Vec<Case> = vec![
        (JSON, b"{\"grant_type\":".to_vec(), 400, "invalid_request", None),
        (JSON, b"[]".to_vec(), 400, "invalid_request", None),
        (FORM, b"grant_type=password&password=x".to_vec(), 400, "invalid_request", Some("missing username parameter")),
        (FORM, b"grant_type=password&username=x".to_vec(), 400, "invalid_request", Some("missing password parameter")),
        (FORM, b"username=x&password=y".to_vec(), 400, "invalid_request", Some("missing grant_type parameter")),
        (FORM, b"grant_type=client_credentials".to_vec(), 400, "unsupported_grant_type", None),
        (FORM, b"grant_type=refresh_token".to_vec(), 400, "invalid_request", Some("missing refresh_token parameter")),
        (
            FORM,
            b"grant_type=password&username=a&password=b&audience=https://evil".to_vec(),
            400,
            "invalid_request",
            None,
        ),
        (Some("text/plain"), b"grant_type=password".to_vec(), 415, "unsupported_media_type", None),
        (None, b"grant_type=password".to_vec(), 415, "unsupported_media_type", None),
        (FORM, vec![b'a'; 64 * 1024 + 1], 413, "payload_too_large", None),
    ];
    for (ct, body, status, error, description) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        let resp = send(ct, body).await.unwrap();
        let got = assert_oauth_error(resp, status, error).await;
        if let Some(d) = description {
            assert_eq!(got["error_description"], d, "{shown}");
        }
    }
    // Chunked (no content-length) and over the limit, over a raw socket.
    let status = chunked_upload(&s.gateway.url, 20, 8 * 1024).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE] {
        for path in ["/oauth/token", "/oauth/refreshtoken"] {
            let resp = c.request(method.clone(), format!("{}{path}", s.gateway.url)).send().await.unwrap();
            assert_eq!(resp.headers()["allow"], "POST");
            assert_oauth_error(resp, 405, "method_not_allowed").await;
        }
    }
    assert!(s.calls().is_empty(), "nothing reached the tenant");

    // Still serving.
    let resp = post_form(&url, Some("mobile-secret"), &password_form("demo@example.com", DEMO_PASSWORD)).await;
    assert_eq!(resp.status(), 200);
}

/// POST `chunks` chunks of `size` bytes with chunked encoding; the response's status line.
async fn chunked_upload(base: &str, chunks: usize, size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /oauth/token HTTP/1.1\r\nhost: {addr}\r\nsecret: mobile-secret\r\n\
         content-type: application/x-www-form-urlencoded\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{size:x}\r\n{}\r\n", "a".repeat(size));
    for _ in 0..chunks {
        if sock.write_all(chunk.as_bytes()).await.is_err() {
            break; // the gateway answered and closed early: fine
        }
    }
    let _ = sock.write_all(b"0\r\n\r\n").await;
    let mut buf = vec![0u8; 4096];
    let n = sock.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_string()
}
