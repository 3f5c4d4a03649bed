//! The gateway's decision as a service, for a proxy in front that asks before it forwards
//! (nginx `auth_request`, Traefik `forwardAuth`, Caddy `forward_auth`, Envoy `ext_authz`): the
//! original request goes through the same normaliser, route rules and guard as a proxied one,
//! and the answer carries the identity headers for the proxy to copy upstream. The original
//! method and URI are believed only from `limits.trusted_proxies`.

use crate::config::Config;
use crate::guard::Guard;
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use crate::routing::endpoints::{ForwardAuth, Route, EXT_AUTHZ_PREFIX};
use crate::routing::router::decide_target;

/// The original method and request target a forward-auth request asks about.
fn original<'r>(
    flavor: ForwardAuth,
    path: &'r str,
    query: Option<&'r str>,
    req: &'r Request,
) -> Result<(&'r str, String), ApiError> {
    let (method, uri, named) = match flavor {
        ForwardAuth::Nginx => (req.header("x-original-method"), req.header("x-original-uri"), "X-Original-URI"),
        ForwardAuth::Traefik => (req.header("x-forwarded-method"), req.header("x-forwarded-uri"), "X-Forwarded-Uri"),
        ForwardAuth::Envoy => {
            let rest = &path[EXT_AUTHZ_PREFIX.len()..];
            let target = match query {
                Some(q) => format!("{}?{q}", if rest.is_empty() { "/" } else { rest }),
                None => if rest.is_empty() { "/" } else { rest }.to_string(),
            };
            return Ok((req.method.as_str(), target));
        }
    };
    let uri =
        uri.ok_or_else(|| ApiError::invalid_request(format!("{named} is required: the original request's URI")))?;
    Ok((method.unwrap_or("GET"), uri.to_string()))
}

/// Answer a forward-auth request: `200` with the identity headers, or the refusal the proxy
/// shows the client (`401`, `403`; for Traefik and Caddy a page load that `login_redirect`
/// applies to is sent to `/authorize` with `302`).
pub(crate) async fn answer(
    config: &Config,
    guard: &Guard,
    flavor: ForwardAuth,
    path: &str,
    query: Option<&str>,
    req: &Request,
) -> Reply {
    if !req.peer_trusted {
        // A spoofed original URI from anyone else would be decided as if it were the request.
        return ApiError::new(
            403,
            "access_denied",
            "Forward-auth requests are taken from limits.trusted_proxies only.",
        )
        .into_reply();
    }
    let (method, target) = match original(flavor, path, query, req) {
        Ok(o) => o,
        Err(e) => return e.into_reply(),
    };
    let routes = &config.routes;
    let decision = match decide_target(routes, method, target.as_bytes()) {
        Ok((decision, _, _)) => decision,
        // What the gateway would refuse as a request is not let through for the proxy either.
        Err(e) => return ApiError::new(403, "access_denied", e.description).into_reply(),
    };
    if decision.route != Route::Backend {
        // One of the gateway's own paths: they decide for themselves.
        return Reply::empty(200);
    }
    match guard.check_route(&decision.rule, method, &req.headers).await {
        Ok(pass) => {
            let mut reply = Reply::empty(200);
            if let Some(verified) = &pass.verified {
                for (i, (name, _)) in config.guard.identity_headers.iter().enumerate() {
                    if let Some(value) = verified.identity(i) {
                        reply.named_headers.push((name.clone(), value.to_string()));
                    }
                }
            }
            reply.named_headers.extend(pass.headers);
            reply
        }
        Err(refusal) => {
            let redirect = flavor == ForwardAuth::Traefik
                && refusal.error == "invalid_token"
                && decision.rule.login_redirect
                && decision.rule.policy == crate::config::Policy::Authenticated;
            let accept = req.header("accept");
            match redirect.then(|| crate::login::login_redirect(routes, method, accept, &target)).flatten() {
                Some(to_login) => to_login,
                None => refusal.into_reply(),
            }
        }
    }
}
