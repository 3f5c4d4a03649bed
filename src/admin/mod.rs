//! The admin listener: `/healthz` (alive), `/readyz` (not draining, keys loaded) and
//! `/metrics` (Prometheus). It runs apart from pingora's listeners, so it keeps answering
//! `503` on `/readyz` while the proxy drains.

use crate::metrics::metrics;
use crate::process::ProcessState;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;

pub(crate) fn router(shared: Arc<ProcessState>) -> axum::Router {
    let json = |status: StatusCode, body: &'static str| (status, [(header::CONTENT_TYPE, "application/json")], body);
    axum::Router::new()
        .route("/healthz", get(move || async move { json(StatusCode::OK, r#"{"status":"ok"}"#) }))
        .route(
            "/readyz",
            get(move || async move {
                if shared.is_ready() && crate::store::degraded() {
                    // The store is unreachable: limits follow on_error, sessions fall back to
                    // this replica; the gateway keeps serving.
                    json(StatusCode::OK, r#"{"status":"ready","store":"degraded"}"#)
                } else if shared.is_ready() {
                    json(StatusCode::OK, r#"{"status":"ready"}"#)
                } else {
                    json(StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"not ready"}"#)
                }
            }),
        )
        .route(
            "/metrics",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics().render()).into_response()
            }),
        )
        .fallback(move || async move {
            json(
                StatusCode::NOT_FOUND,
                r#"{"error":"not_found","error_description":"Try /healthz, /readyz or /metrics."}"#,
            )
        })
}
