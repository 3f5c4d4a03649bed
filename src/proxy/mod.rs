//! The one `impl ProxyHttp`: login paths are answered here, the rest is proxied to the
//! backend. The only module (with `server.rs`) that touches pingora types.

mod router;

pub use router::{route, Own, Route};

use crate::app::App;
use crate::error::ApiError;
use crate::guard::Pass;
use crate::limits::RateInfo;
use crate::reply::{Reply, Request};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::HeaderName;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

pub struct Gateway {
    app: Arc<App>,
}

/// Per-request state.
pub struct Ctx {
    started: Instant,
    route: Route,
    client: Option<String>,
    /// Identity headers the guard set for the backend.
    upstream_headers: Vec<(HeaderName, String)>,
    /// The tightest rate limit that applied, for the response's `X-RateLimit-*` headers.
    rate: Option<RateInfo>,
}

impl Gateway {
    pub fn new(app: Arc<App>) -> Self {
        Gateway { app }
    }

    /// Limits per IP, then the guard, then limits per user. A refusal carries the rate headers
    /// of the limits that applied.
    async fn guard_backend(&self, session: &Session) -> std::result::Result<(Pass, Option<RateInfo>), ApiError> {
        let app = &self.app;
        let req = session.req_header();
        let ip = app.limits.client_ip(peer_ip(session), &req.headers);
        let by_ip = app.limits.check_backend_ip(ip)?;
        let pass = app.guard.check(req.method.as_str(), req.uri.path(), &req.headers).await.map_err(|mut e| {
            e.headers.extend(by_ip.iter().flat_map(RateInfo::headers));
            e
        })?;
        let by_user = match &pass.subject {
            Some(sub) => app.limits.check_backend_user(sub)?,
            None => None,
        };
        Ok((pass, RateInfo::tightest(by_ip, by_user)))
    }

    /// Answer a request the gateway handles itself.
    async fn answer(&self, route: Route, session: &mut Session, ctx: &mut Ctx) -> Reply {
        let app = &self.app;
        let request = match read_request(session, app.config.max_body_bytes).await {
            Ok(mut r) => {
                r.client_ip = app.limits.client_ip(r.client_ip, &r.headers);
                r
            }
            Err(reply) => {
                session.set_keepalive(None);
                return reply;
            }
        };
        match route {
            Route::Login(endpoint) => {
                let outcome = app.login.handle(endpoint, &request).await;
                ctx.client = outcome.client;
                outcome.reply
            }
            Route::Own(Own::Userinfo) => app.session.userinfo(&request).await,
            Route::Own(Own::Logout) => {
                let query = session.req_header().uri.query().map(str::to_string);
                app.session.logout(query.as_deref(), &request).await
            }
            Route::Own(Own::Jwks) => app.discovery.jwks().await,
            Route::Own(Own::OpenidConfiguration) => app.discovery.openid_configuration().await,
            Route::WrongMethod(allow) => ApiError::method_not_allowed(allow).into_reply(),
            Route::Backend => unreachable!("backend requests are proxied"),
        }
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx { started: Instant::now(), route: Route::Backend, client: None, upstream_headers: Vec::new(), rate: None }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        let req = session.req_header();
        ctx.route = route(req.method.as_str(), req.uri.path());
        if ctx.route != Route::Backend {
            let reply = self.answer(ctx.route, session, ctx).await;
            write_reply(session, reply).await?;
            return Ok(true);
        }
        match self.guard_backend(session).await {
            Ok((pass, rate)) => {
                ctx.client = pass.client;
                ctx.upstream_headers = pass.headers;
                ctx.rate = rate;
                Ok(false)
            }
            Err(refusal) => {
                write_reply(session, refusal.into_reply()).await?;
                Ok(true)
            }
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
        Ok(())
    }

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        let b = &self.app.config.backend;
        Ok(Box::new(HttpPeer::new(b.address.as_str(), b.tls, b.sni.clone())))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream_request: &mut pingora::http::RequestHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        for name in &self.app.stripped_headers {
            upstream_request.remove_header(name);
        }
        for (name, value) in ctx.upstream_headers.drain(..) {
            upstream_request.insert_header(name, value)?;
        }
        Ok(())
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &pingora::Error, _ctx: &mut Ctx) -> FailToProxy {
        use pingora::{ErrorSource, ErrorType};
        let code = match (e.etype(), e.esource()) {
            (ErrorType::HTTPStatus(code), _) => *code,
            (_, ErrorSource::Upstream) => 502,
            (ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed, ErrorSource::Downstream) => 0,
            (_, ErrorSource::Downstream) => 400,
            _ => 500,
        };
        if code > 0 && session.response_written().is_none() {
            let _ = write_reply(session, ApiError::proxy_failure(code).into_reply()).await;
        }
        FailToProxy { error_code: code, can_reuse_downstream: false }
    }

    async fn logging(&self, session: &mut Session, error: Option<&pingora::Error>, ctx: &mut Ctx) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let req = session.req_header();
        tracing::info!(
            target: "access",
            method = req.method.as_str(),
            path = req.uri.path(),
            route = ctx.route.class(),
            client = ctx.client.as_deref().unwrap_or("-"),
            status,
            latency_ms = ctx.started.elapsed().as_secs_f64() * 1000.0,
            error = error.map(|e| e.etype().as_str()),
        );
    }
}

/// Read a login request: headers, the peer's IP and the whole body, up to `limit` bytes.
async fn read_request(session: &mut Session, limit: usize) -> std::result::Result<Request, Reply> {
    let too_large = || ApiError::payload_too_large(limit).into_reply();
    let headers = session.req_header().headers.clone();
    let declared =
        headers.get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(_) => return Err(ApiError::invalid_request("the request body could not be read").into_reply()),
        }
    }
    Ok(Request { headers, body: Bytes::from(body), client_ip: peer_ip(session) })
}

/// The socket peer's IP.
fn peer_ip(session: &Session) -> IpAddr {
    session.client_addr().and_then(|a| a.as_inet()).map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip())
}

async fn write_reply(session: &mut Session, reply: Reply) -> Result<()> {
    let mut header = ResponseHeader::build(reply.status, Some(reply.headers.len() + 1))?;
    for (name, value) in reply.headers {
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
