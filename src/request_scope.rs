//! What a request carries while the gateway works on it: its id (sent to the tenant and the
//! backend as `x-request-id`, and on every log line of the request through the `request`
//! span) and the time spent waiting on the tenant (for the access line).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub(crate) struct RequestScope {
    pub(crate) id: String,
    tenant_micros: AtomicU64,
}

tokio::task_local! {
    static SCOPE: RequestScope;
}

/// Run `work` as the request `id`, inside its `request` span (carrying the id, so a guard, tenant
/// or JWKS log line can be joined with the access line; and the trace's server span, see
/// `otel::request_span`); returns its output and the time it spent on tenant calls.
pub(crate) async fn run<F: std::future::Future>(span: tracing::Span, id: String, work: F) -> (F::Output, Duration) {
    use tracing::Instrument;
    let work = work.instrument(span);
    let scope = RequestScope { id, tenant_micros: AtomicU64::new(0) };
    SCOPE
        .scope(scope, async {
            let out = work.await;
            (out, Duration::from_micros(SCOPE.with(|s| s.tenant_micros.load(Ordering::Relaxed))))
        })
        .await
}

/// The current request's id, when inside `run`.
pub(crate) fn request_id() -> Option<String> {
    SCOPE.try_with(|s| s.id.clone()).ok()
}

/// Count `elapsed` as time spent on the tenant by the current request.
pub(crate) fn add_tenant_time(elapsed: Duration) {
    let _ = SCOPE.try_with(|s| s.tenant_micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed));
}

/// The id of an incoming request: its `x-request-id` when sane, else a new UUID.
pub(crate) fn id_for(incoming: Option<&str>) -> String {
    match incoming {
        Some(id) if !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()) => id.to_string(),
        // A UUID v4 from the thread's userspace RNG: no getrandom syscall per request.
        _ => uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string(),
    }
}
