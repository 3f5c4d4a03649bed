//! What the backend receives: the request as the guard let it through, with every header that
//! could be read as identity removed in any spelling, the identity the gateway decided on, the
//! session cookie as it stands after the guard, the forwarding and trace headers, and the path
//! that was decided on.

use super::Ctx;
use crate::guard::is_protected_spelling;
use http::HeaderName;
use pingora::prelude::*;

pub(super) fn prepare(upstream_request: &mut pingora::http::RequestHeader, ctx: &mut Ctx) -> Result<()> {
    let app = &ctx.app;
    for name in &app.protected_headers {
        upstream_request.remove_header(name);
    }
    let spellings: Vec<HeaderName> = upstream_request
        .headers
        .keys()
        .filter(|n| {
            is_protected_spelling(n.as_str(), &app.protected_headers)
                || (n.as_str().contains('_')
                    && crate::guard::FORWARDED_BY_PROXIES.iter().any(|p| n.as_str().replace('_', "-") == *p))
        })
        .cloned()
        .collect();
    for name in spellings {
        upstream_request.remove_header(&name);
    }
    // The session cookie goes (not the verified credential), or is the token refreshed in
    // passing (the backend sees the token that was decided on).
    let renewed = ctx.pass.session_cookie_value.take().filter(|_| !ctx.pass.drop_session_cookie);
    if ctx.pass.drop_session_cookie || renewed.is_some() {
        let name = &app.config.session.cookie_name;
        let cookies: Vec<String> = upstream_request
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        upstream_request.remove_header(&http::header::COOKIE);
        let rest = crate::http::cookies::without_cookie(&cookies.join("; "), name);
        let header = match (rest, renewed) {
            (Some(rest), Some(value)) => Some(format!("{rest}; {name}={value}")),
            (None, Some(value)) => Some(format!("{name}={value}")),
            (rest, None) => rest,
        };
        if let Some(header) = header {
            upstream_request.insert_header(http::header::COOKIE, header)?;
        }
    }
    if ctx.pass.drop_authorization {
        upstream_request.remove_header(&http::header::AUTHORIZATION);
    }
    if let Some(verified) = &ctx.pass.verified {
        for (i, (name, _)) in app.config.guard.identity_headers.iter().enumerate() {
            if let Some(value) = verified.identity(i) {
                upstream_request.insert_header(name.clone(), value)?;
            }
        }
    }
    for (name, value) in ctx.pass.headers.drain(..) {
        upstream_request.insert_header(name, value)?;
    }
    if let Some(f) = &ctx.forwarding {
        upstream_request.insert_header("x-forwarded-for", f.forwarded_for.as_str())?;
        upstream_request.insert_header("x-real-ip", f.client.to_string())?;
        if !f.peer_trusted {
            for name in crate::guard::FORWARDED_BY_PROXIES {
                upstream_request.remove_header(name);
            }
            let proto = if app.config.tls.is_some() { "https" } else { "http" };
            upstream_request.insert_header("x-forwarded-proto", proto)?;
        }
    }
    upstream_request.insert_header("x-request-id", ctx.request_id.as_str())?;
    // With traces on, the backend's parent is this request's span (not the caller's).
    let trace = crate::otel::context_headers(&ctx.span);
    if !trace.is_empty() {
        upstream_request.remove_header("traceparent");
        upstream_request.remove_header("tracestate");
        for (name, value) in trace {
            upstream_request.insert_header(name, value)?;
        }
    }
    if let Some(uri) = &ctx.rewritten_uri {
        let uri = uri.parse::<http::Uri>().map_err(|_| Error::new(ErrorType::InvalidHTTPHeader))?;
        upstream_request.set_uri(uri);
    }
    Ok(())
}
