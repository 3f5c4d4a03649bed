//! The admin listener: `/healthz` (alive) and `/readyz` (ready to serve).

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether the gateway should receive traffic.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct AdminApp {
    pub readiness: Readiness,
}

/// (status, JSON body) for an admin path.
pub fn answer(path: &str, readiness: &Readiness) -> (u16, &'static str) {
    match path {
        "/healthz" => (200, r#"{"status":"ok"}"#),
        "/readyz" if readiness.is_ready() => (200, r#"{"status":"ready"}"#),
        "/readyz" => (503, r#"{"status":"not ready"}"#),
        _ => (
            404,
            r#"{"error":"not_found","error_description":"Try /healthz or /readyz."}"#,
        ),
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let (status, body) = answer(session.req_header().uri.path(), &self.readiness);
        http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(body.as_bytes().to_vec())
            .expect("valid response")
    }
}
