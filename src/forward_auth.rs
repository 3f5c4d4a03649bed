//! The gateway's decision as a service, for a proxy in front that asks before it forwards
//! (nginx `auth_request`, Traefik `forwardAuth`, Caddy `forward_auth`, Envoy `ext_authz`): the
//! original request goes through the same normaliser, route rules and guard as a proxied one,
//! and the answer carries the identity headers for the proxy to copy upstream.
//!
//! The proxy forwards the original request as the client sent it, so what the gateway would
//! have changed on its way is refused instead: a target not in its normal form (the decision
//! would be about another path than the one the backend gets), identity headers the client
//! wrote. The original method and URI are believed only from `limits.trusted_proxies`.

use crate::config::Config;
use crate::guard::{is_protected_spelling, Guard};
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use crate::routing::endpoints::{ForwardAuth, EXT_AUTHZ_PREFIX};
use crate::routing::router::decide_target;

/// The one value of header `name`: absent, or refused when repeated (which one would the
/// proxy have meant?).
fn single<'r>(req: &'r Request, name: &str) -> Result<Option<&'r str>, ApiError> {
    let mut values = req.headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::invalid_request(format!("{name} is repeated")));
    }
    first.map(|v| v.to_str().map_err(|_| ApiError::invalid_request(format!("{name} is not text")))).transpose()
}

/// The original method and request target a forward-auth request asks about.
fn original<'r>(
    flavor: ForwardAuth,
    path: &'r str,
    query: Option<&'r str>,
    req: &'r Request,
) -> Result<(&'r str, String), ApiError> {
    let (method, uri) = match flavor {
        ForwardAuth::Nginx => ("x-original-method", "x-original-uri"),
        ForwardAuth::Traefik => ("x-forwarded-method", "x-forwarded-uri"),
        ForwardAuth::Envoy => {
            let rest = &path[EXT_AUTHZ_PREFIX.len()..];
            let rest = if rest.is_empty() { "/" } else { rest };
            let target = query.map_or_else(|| rest.to_string(), |q| format!("{rest}?{q}"));
            return Ok((req.method.as_str(), target));
        }
    };
    // Both are required: a method defaulted to GET would skip a cookie's cross-site check and
    // the rules that list methods.
    let need = |name: &str, value: Option<&'r str>| {
        value.ok_or_else(|| ApiError::invalid_request(format!("{name} is required: the original request's")))
    };
    let method = need(method, single(req, method)?)?;
    let uri = need(uri, single(req, uri)?)?;
    Ok((method, uri.to_string()))
}

/// Answer a forward-auth request: `200` with the identity headers, or the refusal the proxy
/// shows the client (`401`, `403`; for Traefik and Caddy a page load that `login_redirect`
/// applies to is sent to `/authorize` with `302`).
pub(crate) async fn answer(
    config: &Config,
    guard: &Guard,
    flavor: ForwardAuth,
    (path, query): (&str, Option<&str>),
    req: &Request,
) -> Reply {
    match decide(config, guard, flavor, (path, query), req).await {
        Ok(reply) => reply,
        Err(refusal) => refusal.into_reply(),
    }
}

async fn decide(
    config: &Config,
    guard: &Guard,
    flavor: ForwardAuth,
    (path, query): (&str, Option<&str>),
    req: &Request,
) -> Result<Reply, ApiError> {
    if !req.peer_trusted {
        // A spoofed original URI from anyone else would be decided as if it were the request.
        return Err(ApiError::new(
            403,
            "access_denied",
            "Forward-auth requests are taken from limits.trusted_proxies only.",
        ));
    }
    if req.target_rewritten {
        // This request's own target, normalised, names another endpoint or another path.
        return Err(ApiError::invalid_request("the forward-auth request's own path is not in its normal form"));
    }
    let (method, target) = original(flavor, path, query, req)?;
    let routes = &config.routes;
    let (decision, _, rewritten) = decide_target(routes, method, target.as_bytes())
        .map_err(|e| ApiError::new(403, "access_denied", e.description))?;
    if rewritten {
        // The proxy forwards the path as sent; the decision would be about its normal form.
        return Err(ApiError::new(
            403,
            "access_denied",
            "The original URI is not in its normal form (dot segments, //, escapes): the backend would get another path than the one decided on.",
        ));
    }
    // Identity headers the client wrote: the gateway strips them from a request it proxies;
    // here it cannot, so the request is refused.
    let g = &config.guard;
    let identity: Vec<http::HeaderName> =
        g.identity_headers.iter().map(|(h, _)| h.clone()).chain([g.client_header.clone()]).collect();
    let forged = req.headers.keys().find(|n| identity.contains(n) || is_protected_spelling(n.as_str(), &identity));
    if let Some(name) = forged {
        return Err(ApiError::invalid_request(format!("the request carries {name}, which only the gateway sets")));
    }
    match guard.check_route(&decision.rule, method, &req.headers, None).await {
        Ok(pass) => {
            let mut reply = Reply::empty(200);
            // Every identity header, empty when the token has no such claim: the proxy then
            // overwrites (nginx: removes) whatever the client sent under that name.
            for (i, (name, _)) in config.guard.identity_headers.iter().enumerate() {
                let value = pass.verified.as_ref().and_then(|v| v.identity(i)).unwrap_or_default();
                reply.named_headers.push((name.clone(), value.to_string()));
            }
            // The access token behind an opaque cookie stays with the gateway: a page able to
            // reach this endpoint through the proxy must not read it.
            reply.named_headers.extend(pass.headers.into_iter().filter(|(n, _)| *n != http::header::AUTHORIZATION));
            Ok(reply)
        }
        Err(refusal) => {
            let redirect = flavor == ForwardAuth::Traefik && decision.rule.sends_to_login(&refusal);
            let accept = req.header("accept");
            match redirect.then(|| crate::login::login_redirect(routes, method, accept, &target)).flatten() {
                Some(to_login) => Ok(to_login),
                None => Err(refusal),
            }
        }
    }
}
