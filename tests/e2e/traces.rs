//! OpenTelemetry traces against real OTLP receivers that decode what they get with the
//! protocol's own definitions (opentelemetry-proto): over HTTP, a login and a guarded call made
//! with a caller's `traceparent` arrive as spans of that trace, the tenant call a child of the
//! login's span, the backend given the gateway's span as its parent; no secret in any span;
//! over gRPC (a tonic server), the same spans arrive; with the receiver down, requests are
//! unaffected.

use crate::common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Received = Arc<Mutex<Vec<Span>>>;

/// An OTLP/HTTP receiver on a free port: its URL and what it received.
async fn receiver() -> (String, Received) {
    let received = Received::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
                for resource in request.resource_spans {
                    for scope in resource.scope_spans {
                        store.lock().unwrap().extend(scope.spans);
                    }
                }
                ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
            }
        }),
    );
    let (l, addr) = listener().await;
    tokio::spawn(async move { axum::serve(l, app).await });
    (format!("http://{addr}"), received)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let value = span.attributes.iter().find(|a| a.key == key)?.value.as_ref()?.value.as_ref()?;
    Some(match value {
        Value::StringValue(s) => s.clone(),
        Value::IntValue(i) => i.to_string(),
        other => format!("{other:?}"),
    })
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_trace_goes_on_through_the_gateway_to_the_tenant_and_the_backend() {
    let (url, received) = receiver().await;
    let b = Backends::start(|y| y, authgate::dev::echo::router()).await;
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", url.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "100")];
    let g = Gateway::start_with_env(&b.yaml, &env).await;

    let login = g
        .post("/oauth/token")
        .header("secret", "mobile-secret")
        .header("traceparent", format!("00-{TRACE}-00f067aa0ba902b7-01"))
        .form(&password_form("demo@example.com", DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    let (status, tokens) = json(login).await;
    assert_eq!(status, 200);
    let access = tokens["accessToken"].as_str().unwrap().to_string();
    let call = g
        .get("/api/me")
        .bearer_auth(&access)
        .header("traceparent", format!("00-{TRACE}-1111111111111111-01"))
        .send()
        .await
        .unwrap();
    let (status, echo) = json(call).await;
    assert_eq!(status, 200);

    let spans = || received.lock().unwrap().clone();
    let arrived = eventually(Duration::from_secs(10), async || {
        spans().iter().filter(|s| s.kind == 2 && hex(&s.trace_id) == TRACE).count() >= 2
    });
    assert!(arrived.await, "the server spans never arrived: {:?}", spans());
    let all = spans();
    let ours: Vec<&Span> = all.iter().filter(|s| hex(&s.trace_id) == TRACE).collect();
    let server = |parent: &str| {
        *ours.iter().find(|s| s.kind == 2 && hex(&s.parent_span_id) == parent).unwrap_or_else(|| panic!("{ours:?}"))
    };
    // The login: a server span under the caller's, the tenant call a client span under it.
    let login = server("00f067aa0ba902b7");
    assert_eq!(login.name, "POST");
    assert_eq!(attribute(login, "url.path").as_deref(), Some("/oauth/token"));
    assert_eq!(attribute(login, "http.response.status_code").as_deref(), Some("200"));
    assert_eq!(attribute(login, "authgate.client").as_deref(), Some("mobile"));
    let tenant = ours.iter().find(|s| s.name == "tenant.token").expect("the tenant call's span");
    assert_eq!(
        (tenant.kind, hex(&tenant.parent_span_id)),
        (3, hex(&login.span_id)),
        "a client span, the login's child"
    );
    // The guarded call: the backend's parent is the gateway's span, in the same trace.
    let guarded = server("1111111111111111");
    assert_eq!(attribute(guarded, "authgate.decision").as_deref(), Some("allowed"));
    assert_eq!(attribute(guarded, "authgate.route_rule").as_deref(), Some("default"));
    let sent = echo["headers"]["traceparent"].as_str().expect("a traceparent for the backend");
    assert_eq!(sent, format!("00-{TRACE}-{}-01", hex(&guarded.span_id)));
    // The access line names the trace, and so does every other line of the request (its span's
    // fields): the guard's refusal of a bad token, say.
    let refused = g
        .get("/api/me")
        .bearer_auth("not.a.token")
        .header("traceparent", format!("00-{TRACE}-2222222222222222-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let logs = g.logs();
    assert!(logs.contains(&format!("trace_id=\"{TRACE}\"")) || logs.contains(&format!("trace_id={TRACE}")));
    let named = |l: &&str| l.contains(&format!("trace_id={TRACE}")) || l.contains(&format!("trace_id=\"{TRACE}\""));
    let in_span = logs.lines().filter(|l| !l.contains("access:")).filter(named).count();
    assert!(in_span > 0, "no log line inside the request names its trace:\n{logs}");

    // No secret, token, password or email in any span.
    let text = format!("{all:?}");
    for secret in [DEMO_PASSWORD, "mobile-secret", "demo@example.com", access.as_str(), "mobile-client-secret"] {
        assert!(!text.contains(secret), "a span holds {secret:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_collector_down_requests_are_unaffected() {
    let b = Backends::start(|y| y, authgate::dev::echo::router()).await;
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", NOTHING_LISTENS), ("OTEL_BSP_SCHEDULE_DELAY", "50")];
    let g = Gateway::start_with_env(&b.yaml, &env).await;
    for _ in 0..20 {
        let (status, tokens) = Stack::login_at(&g.url, "mobile-secret").await;
        assert_eq!(status, 200);
        let access = tokens["accessToken"].as_str().unwrap();
        assert_eq!(g.get("/api/me").bearer_auth(access).send().await.unwrap().status(), 200);
    }
    // The spans the collector never took are counted.
    let dropped = eventually(Duration::from_secs(10), async || {
        let metrics = http().get(format!("{}/metrics", g.admin_url)).send().await.unwrap().text().await.unwrap();
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("authgate_trace_spans_dropped_total "))
            .is_some_and(|n| n.trim().parse::<u64>().is_ok_and(|n| n > 0))
    });
    assert!(dropped.await, "no dropped span counted");
}

/// An OTLP/gRPC receiver (tonic, the generated TraceService) on a free port.
async fn grpc_receiver() -> (String, Received) {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    struct Receiver(Received);
    #[tonic::async_trait]
    impl TraceService for Receiver {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            for resource in request.into_inner().resource_spans {
                for scope in resource.scope_spans {
                    self.0.lock().unwrap().extend(scope.spans);
                }
            }
            Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
        }
    }
    let received = Received::default();
    let (l, addr) = listener().await;
    let service = TraceServiceServer::new(Receiver(received.clone()));
    let incoming = tokio_stream_of(l);
    tokio::spawn(tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming));
    (format!("http://{addr}"), received)
}

/// A listener as the stream of connections tonic serves.
fn tokio_stream_of(
    l: tokio::net::TcpListener,
) -> impl futures_util::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures_util::stream::unfold(l, |l| async move { Some((l.accept().await.map(|(s, _)| s), l)) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_grpc_the_same_spans_arrive() {
    let (url, received) = grpc_receiver().await;
    let b = Backends::start(|y| y, authgate::dev::echo::router()).await;
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", url.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let g = Gateway::start_with_env(&b.yaml, &env).await;
    let arrived = traced_login(&g, "mobile-secret", &received, "tenant.token").await;
    let spans = || received.lock().unwrap().clone();
    assert!(arrived, "the login's spans never arrived over gRPC: {:?}\n{}", spans(), g.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_stores_calls_are_spans_of_the_request() {
    let redis = crate::common::redis::RedisServer::start();
    let (url, received) = receiver().await;
    let b = Backends::with_redis(&redis).await;
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", url.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "100")];
    let g = Gateway::start_with_env(&b.yaml, &env).await;
    let arrived = traced_login(&g, "website-secret", &received, "store.put_session").await;
    let spans = || received.lock().unwrap().clone();
    assert!(
        arrived,
        "no store.put_session span under the login's: {:?}",
        spans().iter().map(|s| &s.name).collect::<Vec<_>>()
    );
}

/// A password login as `secret`'s client under the caller's trace `TRACE`; whether a span named
/// `child` arrived under its server span within 10 s.
async fn traced_login(g: &Gateway, secret: &str, received: &Received, child: &str) -> bool {
    let login = g
        .post("/oauth/token")
        .header("secret", secret)
        .header("traceparent", format!("00-{TRACE}-00f067aa0ba902b7-01"))
        .form(&password_form("demo@example.com", DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    eventually(Duration::from_secs(10), async || {
        let all = received.lock().unwrap().clone();
        let server = all.iter().find(|s| s.kind == 2 && hex(&s.trace_id) == TRACE).map(|s| s.span_id.clone());
        server.is_some_and(|id| all.iter().any(|s| s.name == child && s.parent_span_id == id))
    })
    .await
}
