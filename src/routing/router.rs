//! The one router: (method, raw path) → the normalised path and what the gateway does with
//! the request: answer it itself, or guard it with the route's policy and proxy it. A path is
//! refused when a common server-side reading of it (path parameters stripped, case folded)
//! would be decided differently: the gateway's decision and the backend's view must be about
//! the same request.

use super::endpoints::{
    route, user_route, ForwardAuth, OwnEndpoint, Route, AUTHORIZE_PATH, AUTH_REQUEST_PATH, EXT_AUTHZ_PREFIX,
    FORWARD_AUTH_PATH,
};
use super::path::{normalize, without_parameters, Strictness};
use super::policy::{rule_for, rule_for_any_case, Matched};
use crate::config::Routes;
use crate::http::error::ApiError;
use std::borrow::Cow;

/// The route of a normalised path under this configuration.
fn route_in(routes: &Routes, method: &str, path: &str) -> Route {
    match route(method, path) {
        Route::Backend => {
            let browser = || (!routes.callbacks.is_empty()).then(|| browser_route(routes, method, path)).flatten();
            let users = || routes.user_management.then(|| user_route(method, path)).flatten();
            let forward_auth = || routes.forward_auth.then(|| forward_auth_route(method, path)).flatten();
            let backchannel = || routes.backchannel_logout.as_deref().and_then(|p| backchannel_route(p, method, path));
            browser().or_else(users).or_else(forward_auth).or_else(backchannel).unwrap_or(Route::Backend)
        }
        decided => decided,
    }
}

/// `GET /authorize` and the callback paths, when some client logs in through a browser; other
/// spellings of them are `Reserved`.
fn browser_route(routes: &Routes, method: &str, path: &str) -> Option<Route> {
    let own = std::iter::once((AUTHORIZE_PATH, OwnEndpoint::Authorize))
        .chain(routes.callbacks.iter().map(|(p, _)| (p.as_str(), OwnEndpoint::Callback)));
    let folded = path.strip_suffix('/').unwrap_or(path);
    let mut reserved = false;
    for (p, target) in own {
        if p == path {
            return Some(if method == "GET" { Route::Own(target) } else { Route::WrongMethod("GET") });
        }
        reserved |= p.eq_ignore_ascii_case(folded);
    }
    reserved.then_some(Route::Reserved)
}

/// The forward-auth endpoints, when enabled: `GET` on the nginx and Traefik/Caddy ones, any
/// method below the Envoy prefix (its requests keep the original method). Other spellings of
/// `/authz/…` are `Reserved`: nothing below it reaches the backend.
fn forward_auth_route(method: &str, path: &str) -> Option<Route> {
    let below = |prefix: &str| {
        path.len() >= prefix.len()
            && path.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
            && path.as_bytes().get(prefix.len()).is_none_or(|b| *b == b'/')
    };
    if !below("/authz") {
        return None;
    }
    let get_only = |flavor| {
        Some(if method == "GET" { Route::Own(OwnEndpoint::ForwardAuth(flavor)) } else { Route::WrongMethod("GET") })
    };
    match path {
        AUTH_REQUEST_PATH => get_only(ForwardAuth::Nginx),
        FORWARD_AUTH_PATH => get_only(ForwardAuth::Traefik),
        p if p.starts_with(EXT_AUTHZ_PREFIX) && below(EXT_AUTHZ_PREFIX) => {
            Some(Route::Own(OwnEndpoint::ForwardAuth(ForwardAuth::Envoy)))
        }
        _ => Some(Route::Reserved),
    }
}

/// `POST` on the back-channel logout path (`session.backchannel_logout_path`); its other
/// spellings are `Reserved`.
fn backchannel_route(own: &str, method: &str, path: &str) -> Option<Route> {
    if path == own {
        return Some(match method {
            "POST" => Route::Own(OwnEndpoint::BackchannelLogout),
            _ => Route::WrongMethod("POST"),
        });
    }
    let folded = path.strip_suffix('/').unwrap_or(path);
    own.eq_ignore_ascii_case(folded).then_some(Route::Reserved)
}

fn refusal(e: super::path::PathError) -> ApiError {
    ApiError::invalid_request(e.to_string())
}

/// Decide on a raw request target (origin or absolute form): the decision, the query, and
/// whether the backend must get the target rewritten (normalised, or made origin-form).
pub(crate) fn decide_target<'a>(
    routes: &Routes,
    method: &str,
    raw_target: &'a [u8],
) -> Result<(Decision<'a>, Option<&'a str>, bool), ApiError> {
    let target = super::path::split_target(raw_target).map_err(refusal)?;
    let decision = decide(routes, routes.strictness, method, target.path)?;
    let rewrite = target.absolute || matches!(decision.path, Cow::Owned(_));
    Ok((decision, target.query, rewrite))
}

/// The `Host` header must be a host name or address with an optional port (the backend may
/// pick a virtual host by it), and HTTP/1.1 must send one.
pub(crate) fn check_host(host: Option<&[u8]>, http11: bool) -> Result<(), ApiError> {
    match host {
        None if http11 => Err(ApiError::invalid_request("HTTP/1.1 requests need a Host header")),
        None => Ok(()),
        Some(h) if !h.is_empty() && h.iter().all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(b)) => Ok(()),
        Some(_) => Err(ApiError::invalid_request("the Host header is not a host name")),
    }
}

/// What the router decided for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'a> {
    /// The normalised path: what was decided on, and what the backend receives.
    pub(crate) path: Cow<'a, str>,
    pub(crate) route: Route,
    /// The backend route's rule (meaningless for the gateway's own routes).
    pub rule: Matched,
}

pub fn decide<'a>(
    routes: &Routes,
    strict: Strictness,
    method: &str,
    raw_path: &'a str,
) -> Result<Decision<'a>, ApiError> {
    let path = normalize(raw_path, strict).map_err(refusal)?;
    let target = route_in(routes, method, &path);
    let rule = rule_for(routes, method, &path);
    if path.contains(';') {
        let plain = without_parameters(&path);
        if route_in(routes, method, &plain) != target || rule_for(routes, method, &plain) != rule {
            return Err(ApiError::invalid_request("a path parameter (;) would change how this path is routed"));
        }
    }
    if rule_for_any_case(routes, method, &path) != rule {
        return Err(ApiError::invalid_request("this path is routed differently in another letter case"));
    }
    Ok(Decision { path, route: target, rule })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Policy;
    use crate::routing::endpoints::{Endpoint, UserOp, OWN_PATHS, OWN_PREFIXES, USER_PATHS};

    fn routes() -> Routes {
        Routes::for_tests(&[("/public", Policy::Public), ("/health", Policy::Public), ("/internal", Policy::Secret)])
    }

    fn decided(method: &str, raw: &str) -> Result<(String, Route, Policy), u16> {
        decide(&routes(), Strictness::default(), method, raw)
            .map(|d| (d.path.into_owned(), d.route, d.rule.policy))
            .map_err(|e| e.status)
    }

    #[test]
    fn own_paths_need_their_methods_and_the_rest_goes_to_the_backend() {
        assert_eq!(route("POST", "/oauth/token"), Route::Login(Endpoint::Token));
        assert_eq!(route("POST", "/oauth/refreshtoken"), Route::Login(Endpoint::RefreshToken));
        assert_eq!(route("GET", "/oauth/token"), Route::WrongMethod("POST"));
        assert_eq!(route("GET", "/userinfo"), Route::Own(OwnEndpoint::Userinfo));
        assert_eq!(route("POST", "/logout"), Route::Own(OwnEndpoint::Logout));
        assert_eq!(route("DELETE", "/logout"), Route::WrongMethod("GET, POST"));
        assert_eq!(route("GET", "/.well-known/jwks.json"), Route::Own(OwnEndpoint::Jwks));
        assert_eq!(route("GET", "/api/things"), Route::Backend);
        assert_eq!(route("GET", "/users/active"), Route::Own(OwnEndpoint::ActiveUsers));
        assert_eq!(route("DELETE", "/sessions/auth0%7Cabc"), Route::Own(OwnEndpoint::UserSessions));
        assert_eq!(route("GET", "/sessions/auth0%7Cabc"), Route::Backend, "only DELETE is the gateway's");
        assert_eq!(route("DELETE", "/sessions/a/b"), Route::Backend);
        assert_eq!(route("DELETE", "/sessions/"), Route::Backend);
    }

    #[test]
    fn user_management_paths_are_the_gateways_only_when_configured() {
        let users = |m: &str, p: &str| decided(m, p).map(|d| d.1);
        assert_eq!(users("GET", "/users"), Ok(Route::Own(OwnEndpoint::Users(UserOp::List))));
        assert_eq!(users("POST", "/users"), Ok(Route::Own(OwnEndpoint::Users(UserOp::Create))));
        assert_eq!(users("GET", "/users/me"), Ok(Route::Own(OwnEndpoint::Users(UserOp::Me))));
        assert_eq!(users("GET", "/users/active"), Ok(Route::Own(OwnEndpoint::ActiveUsers)));
        assert_eq!(users("PATCH", "/users/auth0%7Cabc"), Ok(Route::Own(OwnEndpoint::Users(UserOp::Update))));
        assert_eq!(users("DELETE", "/users/auth0%7Cabc"), Ok(Route::Own(OwnEndpoint::Users(UserOp::Delete))));
        assert_eq!(users("POST", "/users/import"), Ok(Route::Own(OwnEndpoint::Users(UserOp::Import))));
        assert_eq!(
            users("GET", "/users/import/status/job_1"),
            Ok(Route::Own(OwnEndpoint::Users(UserOp::ImportStatus)))
        );
        let errors = users("GET", "/users/import/status/job_1/errors");
        assert_eq!(errors, Ok(Route::Own(OwnEndpoint::Users(UserOp::ImportErrors))));
        assert_eq!(users("PUT", "/users/x"), Ok(Route::WrongMethod("GET, PATCH, DELETE")));
        assert_eq!(users("GET", "/users/import"), Ok(Route::WrongMethod("POST")));
        for other in ["/USERS", "/users/", "/Users/x", "/users/x/", "/users/IMPORT/status/j", "/users/ME/"] {
            assert_eq!(users("GET", other), Ok(Route::Reserved), "{other}");
        }
        assert_eq!(users("GET", "/users/x/orders"), Ok(Route::Backend), "deeper paths stay the backend's");
        for half in ["/users/import/status", "/users/import/status/", "/users/import/x/y/z", "/users/Import/status"] {
            assert_eq!(users("GET", half), Ok(Route::Reserved), "{half}");
        }
        assert_eq!(users("GET", "/users/importer/orders"), Ok(Route::Backend));
        assert_eq!(users("GET", "/users;x=1"), Err(400));
        let off = Routes { user_management: false, ..routes() };
        let route_off = |m: &str, p: &str| decide(&off, Strictness::default(), m, p).map(|d| d.route).ok();
        assert_eq!(route_off("GET", "/users"), Some(Route::Backend));
        assert_eq!(route_off("PATCH", "/users/x"), Some(Route::Backend));
        assert_eq!(route_off("GET", "/users/active"), Some(Route::Own(OwnEndpoint::ActiveUsers)));
    }

    #[test]
    fn other_spellings_of_own_paths_are_reserved() {
        for p in ["/oauth/token/", "/OAUTH/TOKEN", "/OAuth/Token/", "/Userinfo", "/LOGOUT/"] {
            assert_eq!(route("POST", p), Route::Reserved, "{p}");
        }
        assert_eq!(route("DELETE", "/SESSIONS/x"), Route::Reserved);
        assert_eq!(route("DELETE", "/Sessions/x/y"), Route::Reserved);
        assert_eq!(decided("POST", "//oauth/token").unwrap().1, Route::Login(Endpoint::Token));
        assert_eq!(decided("POST", "/oauth/./token").unwrap().1, Route::Login(Endpoint::Token));
        assert_eq!(decided("POST", "/x/../oauth/token").unwrap().1, Route::Login(Endpoint::Token));
        assert_eq!(decided("POST", "/oauth/token;x=1"), Err(400));
    }

    /// docs/openapi.yaml documents exactly the paths and methods the router answers itself
    /// (the admin listener's aside), so the published contract cannot drift from the code.
    #[test]
    fn the_openapi_document_lists_exactly_the_gateways_own_routes() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml")).unwrap();
        let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let tags = op.get("tags").and_then(|t| t.as_array());
                if ["get", "post", "delete", "put", "patch"].contains(&method.as_str())
                    && !tags.is_some_and(|t| t.iter().any(|x| x == "admin"))
                {
                    documented.push(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
        let mut routed: Vec<String> = OWN_PATHS
            .iter()
            .chain(OWN_PREFIXES)
            .flat_map(|(p, _, allow)| {
                let path = if p.ends_with('/') { format!("{p}{{userId}}") } else { p.to_string() };
                allow.split(", ").map(move |m| format!("{m} {path}")).collect::<Vec<_>>()
            })
            .chain(
                USER_PATHS
                    .iter()
                    .flat_map(|(p, allow, _)| allow.split(", ").map(move |m| format!("{m} {p}")).collect::<Vec<_>>()),
            )
            .chain([
                format!("GET {AUTHORIZE_PATH}"),
                "GET /callback".to_string(),
                "POST /backchannel-logout".to_string(),
            ])
            .chain([format!("GET {AUTH_REQUEST_PATH}"), format!("GET {FORWARD_AUTH_PATH}")])
            .chain(["GET", "POST", "PUT", "PATCH", "DELETE"].map(|m| format!("{m} {EXT_AUTHZ_PREFIX}/{{path}}")))
            .collect();
        documented.sort();
        routed.sort();
        assert_eq!(documented, routed);
        for line in &routed {
            let (method, path) = line.split_once(' ').unwrap();
            let concrete =
                path.replace("{userId}", "auth0%7Cabc").replace("{jobId}", "job_1").replace("{path}", "api/x");
            let routed = route_in(&routes(), method, &concrete);
            assert!(!matches!(routed, Route::Backend | Route::WrongMethod(_) | Route::Reserved), "{line}");
        }
    }

    #[test]
    fn the_back_channel_logout_path_is_the_gateways_in_every_spelling() {
        let own = Route::Own(OwnEndpoint::BackchannelLogout);
        assert_eq!(decided("POST", "/backchannel-logout").unwrap().1, own);
        assert_eq!(decided("POST", "//backchannel-logout").unwrap().1, own);
        assert_eq!(decided("GET", "/backchannel-logout").unwrap().1, Route::WrongMethod("POST"));
        for other in ["/Backchannel-Logout", "/backchannel-logout/", "/BACKCHANNEL-LOGOUT/"] {
            assert_eq!(decided("POST", other).unwrap().1, Route::Reserved, "{other}");
        }
        assert_eq!(decided("POST", "/backchannel-logout;x=1"), Err(400));
        assert_eq!(decided("POST", "/backchannel-logouts").unwrap().1, Route::Backend);
        let off = Routes { backchannel_logout: None, ..routes() };
        assert_eq!(decide(&off, Strictness::default(), "POST", "/backchannel-logout").unwrap().route, Route::Backend);
    }

    #[test]
    fn host_headers_are_host_names() {
        let ok = |h: Option<&str>, v11| check_host(h.map(str::as_bytes), v11).is_ok();
        assert!(ok(Some("api.example.com"), true) && ok(Some("127.0.0.1:8080"), true) && ok(Some("[::1]:80"), true));
        assert!(ok(None, false), "HTTP/1.0 may omit it");
        assert!(!ok(None, true));
        for bad in ["a/../x", "a b", "", "evil.com@good.com", "x\\y"] {
            assert!(!ok(Some(bad), true), "{bad}");
        }
    }

    #[test]
    fn prefixes_match_whole_segments() {
        assert_eq!(decided("GET", "/health").unwrap().2, Policy::Public);
        assert_eq!(decided("GET", "/health/live").unwrap().2, Policy::Public);
        assert_eq!(decided("GET", "/healthadmin").unwrap().2, Policy::Authenticated);
        assert_eq!(
            decided("GET", "/public/../api/me").unwrap(),
            ("/api/me".into(), Route::Backend, Policy::Authenticated)
        );
    }

    #[test]
    fn readings_that_would_route_differently_are_refused() {
        assert_eq!(decided("GET", "/public/..;/api/me"), Err(400));
        assert_eq!(decided("GET", "/api;x/../public/x").map(|d| d.2), Ok(Policy::Public), "a dot segment removes it");
        assert_eq!(decided("GET", "/internal;v=1/jobs"), Err(400), "secret vs the default");
        assert_eq!(decided("GET", "/public;v=1/x"), Err(400));
        assert_eq!(decided("GET", "/api/x;v=1").unwrap().2, Policy::Authenticated, "same decision either way");
        assert_eq!(decided("GET", "/PUBLIC/x"), Err(400), "public in lower case, authenticated as sent");
        assert_eq!(decided("GET", "/api/ME").unwrap().2, Policy::Authenticated);
    }
}
