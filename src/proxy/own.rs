//! The gateway's own endpoints, answered here: the request's body read whole (bounded in size
//! and time), then handed to the endpoint's service as a plain `Request`.

use crate::app::App;
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use crate::routing::endpoints::{OwnEndpoint, Route};
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use std::net::IpAddr;
use std::time::Duration;

/// The normalised path and the query the router decided on, for the gateway's own endpoints.
#[derive(Default)]
pub(super) struct OwnTarget {
    pub(super) path: String,
    pub(super) query: Option<String>,
}

/// Answer a request the gateway handles itself; also returns the client it named, if any.
pub(super) async fn answer(
    app: &App,
    route: Route,
    target: OwnTarget,
    ip: IpAddr,
    session: &mut Session,
) -> (Reply, Option<String>) {
    if route == Route::Reserved {
        let e = ApiError::new(404, "not_found", "No such endpoint: the gateway's own paths are spelled exactly.");
        return (e.into_reply(), None);
    }
    // Only a management client may send an import's larger body: anyone else is held to the
    // usual limit before the body is read.
    let management_caller = || {
        let secret = session.req_header().headers.get("secret").map(|s| s.as_bytes());
        secret.and_then(|s| app.config.client_by_secret(s)).is_some_and(|c| c.management)
    };
    let limit = match route {
        Route::Own(OwnEndpoint::Users(crate::users::UserOp::Import)) if management_caller() => {
            crate::users::MAX_IMPORT_BYTES
        }
        _ => app.config.max_body_bytes,
    };
    let request = match read_request(session, limit, app.config.connections.body_timeout, ip).await {
        Ok(r) => r,
        Err(reply) => {
            session.set_keepalive(None);
            return (reply, None);
        }
    };
    match route {
        Route::Login(endpoint) => {
            let outcome = app.login.handle(endpoint, &request).await;
            (outcome.reply, outcome.client)
        }
        Route::Own(OwnEndpoint::Userinfo) => (app.session.userinfo(&request).await, None),
        Route::Own(OwnEndpoint::Logout) => (app.session.logout(target.query.as_deref(), &request).await, None),
        Route::Own(OwnEndpoint::Jwks) => (app.discovery.jwks().await, None),
        Route::Own(OwnEndpoint::ActiveUsers) => (app.session.active_users(&request).await, None),
        Route::Own(OwnEndpoint::UserSessions) => {
            // The user id: the last segment, percent-decoded (`auth0%7Cabc`).
            let segment = target.path.rsplit('/').next().unwrap_or_default();
            let user = String::from_utf8(crate::routing::path::percent_decode(segment.as_bytes())).unwrap_or_default();
            (app.session.end_user_sessions(&user, &request).await, None)
        }
        Route::Own(OwnEndpoint::OpenidConfiguration) => (app.discovery.openid_configuration().await, None),
        Route::Own(OwnEndpoint::Authorize) => (app.login.authorize(target.query.as_deref(), &request).await, None),
        Route::Own(OwnEndpoint::Callback) => {
            (app.login.callback(&target.path, target.query.as_deref(), &request).await, None)
        }
        Route::Own(OwnEndpoint::Users(crate::users::UserOp::Me)) => (app.users.me(&app.guard, &request).await, None),
        Route::Own(OwnEndpoint::Users(op)) => {
            (app.users.handle(op, &target.path, target.query.as_deref(), &request).await, None)
        }
        Route::WrongMethod(allow) => (ApiError::method_not_allowed(allow).into_reply(), None),
        Route::Reserved | Route::Backend => unreachable!("answered above, or proxied"),
    }
}

/// A request to one of the gateway's own endpoints, its body read whole: at most `limit`
/// bytes, within `deadline` (a body trickled a byte at a time would hold the connection).
async fn read_request(
    session: &mut Session,
    limit: usize,
    deadline: Duration,
    client_ip: IpAddr,
) -> std::result::Result<Request, Reply> {
    let too_large = || ApiError::payload_too_large(limit).into_reply();
    let headers = session.req_header().headers.clone();
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
        Ok(Ok(())) => Ok(Request { headers, body: Bytes::from(body), client_ip }),
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
