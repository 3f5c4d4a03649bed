//! The one `impl ProxyHttp`: the paths the gateway answers itself are answered here, the rest
//! is guarded and proxied to the backend. The only module (with `server.rs`) that touches
//! pingora types.

mod guarded;
mod listener;
mod own;
mod upstream;

pub(crate) use crate::routing::endpoints::Route;
use crate::routing::policy::Matched;
pub use crate::routing::router::decide;
use crate::routing::router::{check_host, decide_target};
use guarded::guard_backend;
pub(crate) use listener::Edge;
use own::{answer, OwnTarget};

use crate::app::App;
use crate::guard::Pass;
use crate::http::error::ApiError;
use crate::http::exchange::Reply;
use crate::limits::client_ip::Resolved;
use crate::limits::RateInfo;
use crate::metrics::metrics;
use crate::process::{InFlight, ProcessState};
use crate::request_scope;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) struct Gateway {
    shared: Arc<ProcessState>,
}

/// Per-request state.
pub(crate) struct Ctx {
    /// The configuration this request is served with, fixed for its whole life.
    app: Arc<App>,
    _in_flight: InFlight,
    started: Instant,
    route: Route,
    /// The path the backend gets, when it differs from the request's (normalised, or an
    /// absolute-form target made origin-form).
    rewritten_uri: Option<String>,
    /// The end user's IP and the `X-Forwarded-For` chain for the backend.
    forwarding: Option<Resolved>,
    request_id: String,
    /// The request's span: its log lines' `request_id`, and the trace's server span.
    span: tracing::Span,
    /// Its ids in the trace (traces on).
    trace: Option<crate::otel::TraceIds>,
    client: Option<String>,
    tenant_time: Duration,
    /// What the guard let through, for the backend's headers.
    pass: Pass,
    /// The tightest rate limit that applied, for the response's `X-RateLimit-*` headers.
    rate: Option<RateInfo>,
    /// When a body streamed to the backend must have arrived whole (`connections.body_timeout_ms`).
    body_deadline: Option<Instant>,
    /// The route rule that decided a backend request (for the access line).
    rule: Option<Matched>,
    /// What the guard decided: `allowed`, `unauthenticated` (401), `forbidden` (403), or `none`
    /// (not a backend request, or refused before the guard decided).
    decision: &'static str,
}

impl Gateway {
    pub(crate) fn new(shared: Arc<ProcessState>) -> Self {
        Gateway { shared }
    }
}

impl Gateway {
    /// Answer with a refusal; the request goes no further.
    async fn refuse(&self, session: &mut Session, ctx: &Ctx, refusal: ApiError) -> Result<bool> {
        write_reply(session, refusal.into_reply().with_header("x-request-id", ctx.request_id.clone())).await?;
        Ok(true)
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx {
            app: self.shared.app.load_full(),
            _in_flight: self.shared.enter(),
            started: Instant::now(),
            route: Route::Backend,
            rewritten_uri: None,
            forwarding: None,
            request_id: String::new(),
            span: tracing::Span::none(),
            trace: None,
            client: None,
            tenant_time: Duration::ZERO,
            pass: Pass::default(),
            rate: None,
            body_deadline: None,
            rule: None,
            decision: "none",
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        let app = ctx.app.clone();
        let req = session.req_header();
        ctx.request_id = request_scope::id_for(req.headers.get("x-request-id").and_then(|v| v.to_str().ok()));
        (ctx.span, ctx.trace) = crate::otel::request_span(&ctx.request_id, req.method.as_str(), &req.headers);
        let forwarding = app.limits.forwarding(peer_ip(session), &req.headers);
        let (ip, peer_trusted) = (forwarding.client, forwarding.peer_trusted);
        ctx.forwarding = Some(forwarding);
        if req.headers.get_all("secret").iter().nth(1).is_some() {
            session.set_keepalive(None);
            return self.refuse(session, ctx, ApiError::invalid_request("more than one secret header")).await;
        }
        let req = session.req_header();
        let http11 = req.version == http::Version::HTTP_11;
        if let Err(refusal) = check_host(req.headers.get(http::header::HOST).map(|h| h.as_bytes()), http11) {
            session.set_keepalive(None);
            return self.refuse(session, ctx, refusal).await;
        }
        let req = session.req_header();
        let routes = &app.config.routes;
        let (rule, own_target) = match decide_target(routes, req.method.as_str(), req.raw_path()) {
            Ok((d, query, rewrite)) => {
                ctx.route = d.route;
                // The gateway's own endpoints get what was decided on (not on the proxied path:
                // nothing to copy there).
                let own = (d.route != Route::Backend).then(|| OwnTarget {
                    path: d.path.to_string(),
                    query: query.map(str::to_string),
                    rewritten: rewrite,
                });
                if rewrite {
                    ctx.rewritten_uri = Some(match query {
                        Some(q) => format!("{}?{q}", d.path),
                        None => d.path.into_owned(),
                    });
                }
                (d.rule, own)
            }
            Err(refusal) => {
                session.set_keepalive(None);
                return self.refuse(session, ctx, refusal).await;
            }
        };
        if ctx.route != Route::Backend {
            let ((reply, client), tenant_time) = request_scope::run(
                ctx.span.clone(),
                ctx.request_id.clone(),
                answer(&app, ctx.route, own_target.unwrap_or_default(), (ip, peer_trusted), session),
            )
            .await;
            ctx.client = client;
            ctx.tenant_time = tenant_time;
            write_reply(session, reply.with_header("x-request-id", ctx.request_id.clone())).await?;
            return Ok(true);
        }
        if !rule.websocket && session.req_header().headers.contains_key(http::header::UPGRADE) {
            let refusal = ApiError::invalid_request("connection upgrades are not allowed on this route");
            return self.refuse(session, ctx, refusal).await;
        }
        ctx.rule = Some(rule);
        // What was decided on: the normalised path (the query aside).
        let raw = session.req_header().uri.path();
        let decided = ctx.rewritten_uri.as_deref().map_or(raw, |u| u.split('?').next().unwrap_or(u));
        let checked = guard_backend(&app, session, &rule, decided, ip, &mut ctx.decision);
        let (decision, tenant_time) = request_scope::run(ctx.span.clone(), ctx.request_id.clone(), checked).await;
        ctx.tenant_time = tenant_time;
        match decision {
            Ok((pass, rate)) => {
                ctx.client = pass.client.clone();
                ctx.pass = pass;
                ctx.rate = rate;
                // The body streamed to the backend has a deadline too (not an upgraded
                // connection's frames: those are no request body).
                if !session.is_upgrade_req() {
                    let limit = app.config.connections.body_timeout;
                    ctx.body_deadline = Some(Instant::now() + limit);
                    session.set_read_timeout(Some(limit));
                }
                Ok(false)
            }
            Err(refusal) if rule.sends_to_login(&refusal) => {
                let req = session.req_header();
                let original = req.uri.path_and_query().map_or("/", |p| p.as_str());
                let original = ctx.rewritten_uri.as_deref().unwrap_or(original);
                let accept = req.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok());
                let to_login = crate::login::login_redirect(&app.config.routes, req.method.as_str(), accept, original);
                match to_login {
                    Some(reply) => {
                        write_reply(session, reply.with_header("x-request-id", ctx.request_id.clone())).await?;
                        Ok(true)
                    }
                    None => self.refuse(session, ctx, refusal).await,
                }
            }
            // A page load a rule refused: a page saying so, never the login (it would loop).
            Err(refusal) => {
                let req = session.req_header();
                let accept = req.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok());
                match crate::authz::page_for(&refusal, req.method.as_str(), accept) {
                    Some(page) => {
                        write_reply(session, page.with_header("x-request-id", ctx.request_id.clone())).await?;
                        Ok(true)
                    }
                    None => self.refuse(session, ctx, refusal).await,
                }
            }
        }
    }

    /// Each chunk of a body streamed to the backend: past the deadline the request ends
    /// (`408`); before it, the next read may wait only until the deadline.
    async fn request_body_filter(
        &self,
        session: &mut Session,
        _body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let Some(deadline) = ctx.body_deadline.filter(|_| !end_of_stream) else {
            return Ok(());
        };
        match deadline.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => {
                session.set_read_timeout(Some(left));
                Ok(())
            }
            _ => Err(pingora::Error::explain(pingora::ErrorType::HTTPStatus(408), "the request body took too long")),
        }
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        if let Some(info) = ctx.rate {
            for (name, value) in info.headers() {
                upstream_response.insert_header(name, value)?;
            }
        }
        if let Some(cookie) = ctx.pass.set_cookie.take() {
            // Beside the backend's own cookies.
            upstream_response.append_header(http::header::SET_COOKIE, cookie)?;
        }
        upstream_response.insert_header("x-request-id", ctx.request_id.as_str())?;
        Ok(())
    }

    async fn upstream_peer(&self, _session: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        let b = &ctx.app.config.backend;
        Ok(Box::new(HttpPeer::new(b.address.as_str(), b.tls, b.sni.clone())))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream_request: &mut pingora::http::RequestHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        upstream::prepare(upstream_request, ctx)
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &pingora::Error, ctx: &mut Ctx) -> FailToProxy {
        use pingora::{ErrorSource, ErrorType};
        let code = match (e.etype(), e.esource()) {
            (ErrorType::HTTPStatus(code), _) => *code,
            (ErrorType::ReadTimedout, ErrorSource::Downstream) => 408,
            (_, ErrorSource::Upstream) => 502,
            (ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed, ErrorSource::Downstream) => 0,
            (_, ErrorSource::Downstream) => 400,
            _ => 500,
        };
        if code > 0 && session.response_written().is_none() {
            let refusal = ctx.pass.keeping_cookie(ApiError::proxy_failure(code));
            let _ = write_reply(session, refusal.into_reply()).await;
        }
        FailToProxy { error_code: code, can_reuse_downstream: false }
    }

    /// One access line per request, and the request metrics. Never the query, a header value
    /// or a body: they may hold secrets.
    async fn logging(&self, session: &mut Session, error: Option<&pingora::Error>, ctx: &mut Ctx) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let req = session.req_header();
        let latency = ctx.started.elapsed();
        let client = ctx.client.as_deref().unwrap_or("-");
        let m = metrics();
        m.requests.with_label_values(&[ctx.route.class(), client, &status.to_string(), ctx.decision]).inc();
        m.request_seconds.with_label_values(&[ctx.route.class()]).observe(latency.as_secs_f64());
        // Only a span that will be exported gets its attributes (no work on other requests).
        if ctx.trace.as_ref().is_some_and(|t| t.sampled()) {
            let decided =
                ctx.rewritten_uri.as_deref().map_or(req.uri.path(), |u| u.split('?').next().unwrap_or_default());
            let finished = crate::otel::Finished {
                status,
                path: decided,
                client_address: ctx.forwarding.as_ref().map(|f| f.client),
                client: ctx.client.as_deref(),
                rule: ctx.rule.map(|r| r.name(&ctx.app.config.routes).to_string()),
                decision: ctx.decision,
                scheme: if ctx.app.config.tls.is_some() { "https" } else { "http" },
            };
            crate::otel::finish(&ctx.span, finished);
        }
        tracing::info!(
            target: "access",
            request_id = ctx.request_id.as_str(),
            trace_id = ctx.trace.as_ref().map(|t| t.trace_id.as_str()),
            span_id = ctx.trace.as_ref().map(|t| t.span_id.as_str()),
            method = req.method.as_str(),
            path = req.uri.path(),
            routed = ctx.rewritten_uri.as_deref().map(|u| u.split('?').next().unwrap_or_default()),
            route = ctx.route.class(),
            rule = ctx.rule.map(|r| tracing::field::display(r.name(&ctx.app.config.routes))),
            decision = ctx.decision,
            client,
            status,
            latency_ms = latency.as_secs_f64() * 1000.0,
            tenant_ms = ctx.tenant_time.as_secs_f64() * 1000.0,
            error = error.map(|e| e.etype().as_str()),
        );
    }
}

/// The socket peer's IP.
fn peer_ip(session: &Session) -> IpAddr {
    session.client_addr().and_then(|a| a.as_inet()).map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip())
}

async fn write_reply(session: &mut Session, reply: Reply) -> Result<()> {
    let mut header = ResponseHeader::build(reply.status, Some(reply.headers.len() + reply.named_headers.len() + 1))?;
    for (name, value) in reply.headers {
        header.append_header(name, value)?;
    }
    for (name, value) in reply.named_headers {
        header.append_header(name, value)?;
    }
    header.insert_header("content-length", reply.body.len().to_string())?;
    let empty = reply.body.is_empty();
    session.write_response_header(Box::new(header), empty).await?;
    if !empty {
        session.write_response_body(Some(reply.body), true).await?;
    }
    Ok(())
}
