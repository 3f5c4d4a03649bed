//! The echo backend: answers any request with JSON holding its method, path, query and headers.

use axum::extract::Request;
use axum::response::IntoResponse;
use axum::Json;
use std::collections::BTreeMap;

pub fn router() -> axum::Router {
    axum::Router::new().fallback(echo)
}

async fn echo(req: Request) -> impl IntoResponse {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in req.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    Json(serde_json::json!({
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "query": req.uri().query(),
        "headers": headers,
    }))
}

/// Serve the echo backend on a bound listener until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router()).await
}
