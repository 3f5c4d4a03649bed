//! A backend request's way past the gateway: the per-IP limit, the guard and the route's
//! rules, then the per-user limit. Plain values from the request's head; no body.

use crate::app::App;
use crate::guard::Pass;
use crate::http::error::ApiError;
use crate::limits::RateInfo;
use crate::routing::policy::Matched;
use pingora::proxy::Session;
use std::net::IpAddr;

/// Limits per IP, then the guard, then limits per user. A refusal carries the rate headers of
/// the limits that applied. `path`: the normalised one, what was decided on.
pub(super) async fn guard_backend(
    app: &App,
    session: &Session,
    rule: &Matched,
    path: &str,
    ip: IpAddr,
    decision: &mut &'static str,
) -> std::result::Result<(Pass, Option<RateInfo>), ApiError> {
    let req = session.req_header();
    let by_ip = app.limits.precheck_backend_ip(ip).await?;
    let with_ip_rate = |mut e: ApiError| {
        if let Some(rate) = by_ip {
            rate.stamp(&mut e.headers);
        }
        e
    };
    let pass = app.guard.check_route(rule, req.method.as_str(), &req.headers, Some(ip)).await.map_err(|e| {
        *decision = match e.status {
            401 => "unauthenticated",
            403 => "forbidden",
            _ => "none",
        };
        audit_refusal(app, rule, req, path, &e, ip);
        with_ip_rate(e)
    })?;
    *decision = "allowed";
    let after = app.limits.check_backend(ip, pass.subject()).await.map_err(|e| pass.keeping_cookie(with_ip_rate(e)))?;
    Ok((pass, RateInfo::tightest(by_ip, after)))
}

/// The audit trail's view of a refusal: a rule's (`403 access_denied`), or an unknown `secret`
/// on a `secret` route.
fn audit_refusal(app: &App, rule: &Matched, req: &pingora::http::RequestHeader, path: &str, e: &ApiError, ip: IpAddr) {
    if e.status == 403 && e.error == "access_denied" {
        // A `sub` only where the guard verified the token (a `secret` route's Bearer is not).
        let token = crate::guard::credential(&req.headers, &app.config.session).ok().flatten().map_or("", |c| c.token);
        let verified = rule.policy == crate::config::Policy::Authenticated;
        let user = verified.then(|| crate::jwt::unverified_claims(token)).flatten();
        let user = user.as_ref().and_then(|c| c.get("sub")).and_then(|s| s.as_str());
        let client = app.config.caller(&req.headers).map(|c| c.name.as_str());
        let rule = rule.name(&app.config.routes).to_string();
        crate::audit::access_denied(&rule, req.method.as_str(), path, user, client, ip);
    } else if e.error == "invalid_client" && req.headers.contains_key("secret") {
        crate::audit::secret_refused("backend", ip);
    }
}
