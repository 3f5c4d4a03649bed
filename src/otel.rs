//! OpenTelemetry traces. With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) set, a
//! server span per request, with child spans for tenant calls (`tenant.token`, `tenant.jwks`,
//! `tenant.management`, …) and token verifications (`guard.verify`, on a cache miss), go to an
//! OTLP collector over HTTP/protobuf, or gRPC (`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`, exported from
//! a one-thread runtime of its own), batched behind a bounded queue: the gateway never waits on
//! the collector. Off otherwise. A caller's W3C `traceparent` is taken
//! as the parent and nothing else; the backend and the tenant get the gateway's. The standard
//! variables configure the rest: `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*`. Attributes never hold
//! a token, secret, password, cookie or email.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::OnceLock;
use tracing_opentelemetry::OpenTelemetrySpanExt;

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The gRPC exporter's runtime (tonic needs Tokio's reactor; the gateway's runtimes come later
/// and belong to pingora).
static GRPC_RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// Whether traces are exported (decided once, at start).
pub(crate) fn enabled() -> bool {
    PROVIDER.get().is_some()
}

fn set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// The layer exporting spans, when the environment asks for traces; `Err`: asked, but not
/// possible (said on stderr by the caller; the gateway runs without traces).
pub(crate) fn layer<S>() -> Result<Option<impl tracing_subscriber::Layer<S>>, String>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::Layer;
    if !set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return Ok(None);
    }
    let protocol = std::env::var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|_| "http/protobuf".into());
    let mut resource = opentelemetry_sdk::Resource::builder();
    if !set("OTEL_SERVICE_NAME") {
        resource = resource.with_service_name("authgate");
    }
    let builder = SdkTracerProvider::builder().with_resource(resource.build());
    let failed = |e: opentelemetry_otlp::ExporterBuildError| format!("the OTLP exporter: {e}; traces are off");
    let provider = match protocol.as_str() {
        "http/protobuf" => builder.with_batch_exporter(Counted(
            opentelemetry_otlp::SpanExporter::builder().with_http().build().map_err(failed)?,
        )),
        "grpc" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("authgate-otel")
                .enable_all()
                .build()
                .map_err(|e| format!("the OTLP gRPC exporter's runtime: {e}; traces are off"))?;
            let rt = GRPC_RUNTIME.get_or_init(|| rt);
            let _inside = rt.enter();
            let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().build().map_err(failed)?;
            use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
            builder.with_span_processor(
                BatchSpanProcessor::builder(Counted(exporter), opentelemetry_sdk::runtime::Tokio).build(),
            )
        }
        other => {
            return Err(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={other}: http/protobuf and grpc are built in; traces are off"
            ))
        }
    }
    .build();
    let tracer = provider.tracer("authgate");
    let _ = PROVIDER.set(provider);
    // Only the gateway's own spans: not pingora's, hyper's or reqwest's. The store's are at
    // TRACE, below what the logs take by default: with traces off they are never made (one per
    // Redis operation, on the guarded path with shared limits).
    let ours = tracing_subscriber::filter::Targets::new()
        .with_target("authgate", tracing::Level::INFO)
        .with_target("authgate::store", tracing::Level::TRACE);
    Ok(Some(tracing_opentelemetry::layer().with_tracer(tracer).with_filter(ours)))
}

/// Export what is queued (at exit).
pub(crate) fn shutdown() {
    if let Some(p) = PROVIDER.get() {
        let _ = p.shutdown();
    }
}

/// A request's place in its trace, read once when its span starts (traces on).
#[derive(Debug, Clone)]
pub(crate) struct TraceIds {
    pub(crate) trace_id: String,
    pub(crate) span_id: String,
    /// The span will be exported: attributes of the others are work for nothing.
    sampled: bool,
}

impl TraceIds {
    pub(crate) fn sampled(&self) -> bool {
        self.sampled
    }
}

/// The server span of a request: `{method}`, the caller's `traceparent` as its parent; and,
/// with traces on, its ids.
pub(crate) fn request_span(
    request_id: &str,
    method: &str,
    headers: &http::HeaderMap,
) -> (tracing::Span, Option<TraceIds>) {
    let span = tracing::info_span!(
        target: "authgate::request",
        "request",
        request_id = %request_id,
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
    );
    if !enabled() {
        return (span, None);
    }
    span.record("otel.name", method);
    span.record("otel.kind", "server");
    let parent = TraceContextPropagator::new().extract(&HeaderReader(headers));
    let _ = span.set_parent(parent);
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    let ids = sc.is_valid().then(|| TraceIds {
        trace_id: sc.trace_id().to_string(),
        span_id: sc.span_id().to_string(),
        sampled: sc.is_sampled(),
    });
    if let Some(ids) = &ids {
        // On every log line of the request (the span's fields are), not only the access line.
        span.record("trace_id", ids.trace_id.as_str());
        span.record("span_id", ids.span_id.as_str());
        if ids.sampled {
            span.set_attribute("http.request.method", method.to_string());
            span.set_attribute("authgate.request_id", request_id.to_string());
        }
    }
    (span, ids)
}

/// What the gateway decided and answered, on the request's span (HTTP semantic conventions and
/// `authgate.*`). Nothing here comes from a header value or a body.
pub(crate) struct Finished<'a> {
    pub(crate) status: u16,
    pub(crate) path: &'a str,
    pub(crate) client_address: Option<std::net::IpAddr>,
    pub(crate) client: Option<&'a str>,
    pub(crate) rule: Option<String>,
    pub(crate) decision: &'a str,
    pub(crate) scheme: &'static str,
}

/// Sets the attributes of a sampled request's span (the caller checks `TraceIds::sampled`).
pub(crate) fn finish(span: &tracing::Span, f: Finished<'_>) {
    span.set_attribute("http.response.status_code", i64::from(f.status));
    span.set_attribute("url.path", f.path.to_string());
    span.set_attribute("url.scheme", f.scheme);
    if let Some(ip) = f.client_address {
        span.set_attribute("client.address", ip.to_string());
    }
    if let Some(c) = f.client {
        span.set_attribute("authgate.client", c.to_string());
    }
    if let Some(rule) = f.rule {
        span.set_attribute("authgate.route_rule", rule);
    }
    span.set_attribute("authgate.decision", f.decision.to_string());
    if f.status >= 500 {
        span.set_status(opentelemetry::trace::Status::error(format!("{}", f.status)));
    }
}

/// A child span for a tenant call of `operation`.
pub(crate) fn tenant_span(operation: &'static str) -> tracing::Span {
    let span = tracing::info_span!(target: "authgate::tenant", "tenant", otel.name = tracing::field::Empty, otel.kind = tracing::field::Empty);
    if enabled() {
        span.record("otel.name", format!("tenant.{operation}"));
        span.record("otel.kind", "client");
    }
    span
}

/// A child span for a token verification that is not in the cache.
pub(crate) fn verify_span() -> tracing::Span {
    tracing::info_span!(target: "authgate::guard", "guard.verify")
}

/// The `traceparent` (and `tracestate`) of `span`, to send on: `(name, value)` pairs; none when
/// traces are off (the caller's own headers then pass as they came).
pub(crate) fn context_headers(span: &tracing::Span) -> Vec<(&'static str, String)> {
    if !enabled() {
        return Vec::new();
    }
    let mut out = HeaderWriter(Vec::new());
    TraceContextPropagator::new().inject_context(&span.context(), &mut out);
    out.0
}

struct HeaderReader<'a>(&'a http::HeaderMap);

impl Extractor for HeaderReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        // The caller's traceparent only: its tracestate is not passed on.
        if key != "traceparent" {
            return None;
        }
        // One value only: a repeated traceparent is no parent.
        let mut all = self.0.get_all(key).iter();
        let first = all.next()?;
        if all.next().is_some() {
            return None;
        }
        first.to_str().ok()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct HeaderWriter(Vec<(&'static str, String)>);

impl Injector for HeaderWriter {
    fn set(&mut self, key: &str, value: String) {
        if value.is_empty() {
            return;
        }
        let name = match key {
            "traceparent" => "traceparent",
            "tracestate" => "tracestate",
            _ => return,
        };
        self.0.push((name, value));
    }
}

/// An exporter that counts the spans of the batches the collector did not take (down, slow,
/// refusing): `authgate_trace_spans_dropped_total`. They are not sent again.
#[derive(Debug)]
struct Counted<E>(E);

impl<E: opentelemetry_sdk::trace::SpanExporter> opentelemetry_sdk::trace::SpanExporter for Counted<E> {
    async fn export(&self, batch: Vec<opentelemetry_sdk::trace::SpanData>) -> opentelemetry_sdk::error::OTelSdkResult {
        let spans = batch.len() as u64;
        let result = self.0.export(batch).await;
        if result.is_err() {
            crate::metrics::metrics().trace_spans_dropped.inc_by(spans);
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.0.set_resource(resource);
    }
}
