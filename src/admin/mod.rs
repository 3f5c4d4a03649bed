//! The admin listener: `/healthz` (alive) and `/readyz` (ready to serve).

use crate::tenant::Jwks;
use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether the gateway should receive traffic: started, not shutting down, and holding the
/// tenant's signing keys.
#[derive(Clone, Default)]
pub struct Readiness {
    started: Arc<AtomicBool>,
    jwks: Option<Arc<Jwks>>,
}

impl Readiness {
    pub fn new(jwks: Option<Arc<Jwks>>) -> Self {
        Readiness { started: Arc::default(), jwks }
    }

    pub fn set(&self, ready: bool) {
        self.started.store(ready, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.started.load(Ordering::SeqCst) && self.jwks.as_ref().is_none_or(|j| j.has_keys())
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
        _ => (404, r#"{"error":"not_found","error_description":"Try /healthz or /readyz."}"#),
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
