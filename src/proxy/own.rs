//! The gateway's own endpoints, answered here: the request's body read whole (bounded in size
//! and time), then handed to the endpoint's service as a plain `Request`.

use crate::app::App;
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use crate::routing::endpoints::Route;
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use std::net::IpAddr;
use std::time::Duration;

/// The normalised path and the query the router decided on, for the gateway's own endpoints.
#[derive(Default)]
pub(super) struct OwnTarget {
    pub(super) path: String,
    pub(super) query: Option<String>,
    /// The request target was not in its normal form.
    pub(super) rewritten: bool,
}

/// Read a request the gateway answers itself, then answer it (`App::answer`); also returns
/// the client it named, if any.
pub(super) async fn answer(
    app: &App,
    route: Route,
    target: OwnTarget,
    (ip, peer_trusted): (IpAddr, bool),
    session: &mut Session,
) -> (Reply, Option<String>) {
    if route == Route::Reserved {
        return (App::reserved().into_reply(), None);
    }
    let limit = app.body_limit(route, &session.req_header().headers);
    match read_request(session, limit, app.config.connections.body_timeout, (ip, peer_trusted)).await {
        Ok(request) if target.rewritten => {
            let request = Request { target_rewritten: true, ..request };
            app.answer(route, &target.path, target.query.as_deref(), &request).await
        }
        Ok(request) => app.answer(route, &target.path, target.query.as_deref(), &request).await,
        Err(reply) => {
            session.set_keepalive(None);
            (reply, None)
        }
    }
}

/// A request to one of the gateway's own endpoints, its body read whole: at most `limit`
/// bytes, within `deadline` (a body trickled a byte at a time would hold the connection).
async fn read_request(
    session: &mut Session,
    limit: usize,
    deadline: Duration,
    (client_ip, peer_trusted): (IpAddr, bool),
) -> std::result::Result<Request, Reply> {
    let too_large = || ApiError::payload_too_large(limit).into_reply();
    let headers = session.req_header().headers.clone();
    let method = session.req_header().method.clone();
    let declared =
        headers.get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    let read = async {
        loop {
            match session.read_request_body().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(()),
                Err(_) => return Err(ApiError::invalid_request("the request body could not be read").into_reply()),
            }
        }
    };
    match tokio::time::timeout(deadline, read).await {
        Ok(Ok(())) => {
            Ok(Request { method, headers, body: Bytes::from(body), client_ip, peer_trusted, target_rewritten: false })
        }
        Ok(Err(reply)) => Err(reply),
        Err(_) => {
            crate::metrics::metrics().connections_refused.with_label_values(&["body_timeout"]).inc();
            Err(body_timeout().into_reply())
        }
    }
}

fn body_timeout() -> ApiError {
    ApiError::proxy_failure(408)
}
