//! The `routes` block: the policy of each path prefix, and the path strictness.

use super::defaults::DEFAULT_ROUTE_POLICY;
use super::Problems;
use crate::config::file::{FileAllow, FileRoutes};
use crate::config::model::{Policy, RouteRule, Routes};

fn policy(p: &mut Problems, key: &str, value: &str) -> Policy {
    match value {
        "public" => Policy::Public,
        "authenticated" => Policy::Authenticated,
        "secret" => Policy::Secret,
        other => {
            p.push(key, format!("{other:?} is not public, authenticated or secret"));
            Policy::Authenticated
        }
    }
}

/// The routes, and each rule's `allow` as written (resolved once the clients and the guard's
/// claims are known: `authz::resolve`).
pub(super) fn routes(p: &mut Problems, r: FileRoutes) -> (Routes, Vec<Option<Vec<FileAllow>>>) {
    let default = policy(p, "routes.default", r.default.as_deref().unwrap_or(DEFAULT_ROUTE_POLICY));
    let strictness = crate::routing::path::Strictness {
        reject_escaped_percent: r.reject_escaped_percent,
        reject_path_parameters: r.reject_path_parameters,
    };
    let mut rules = Vec::new();
    let mut allows = Vec::new();
    for (i, rule) in r.rules.into_iter().enumerate() {
        let key = format!("routes.rules[{i}]");
        let normal = crate::routing::path::normalize(&rule.prefix, strictness);
        if normal.as_deref() != Ok(rule.prefix.as_str()) || rule.prefix.contains(';') {
            p.push(
                &format!("{key}.prefix"),
                format!(
                    "{:?} must be a normalised path starting with / (no //, . or .. segments, escapes or ;)",
                    rule.prefix
                ),
            );
        }
        let mut methods = Vec::new();
        for m in rule.methods.unwrap_or_default() {
            let upper = m.to_ascii_uppercase();
            if http::Method::from_bytes(upper.as_bytes()).is_err() || upper.is_empty() {
                p.push(&format!("{key}.methods"), format!("{m:?} is not an HTTP method"));
            }
            methods.push(upper);
        }
        let policy = policy(p, &format!("{key}.policy"), &rule.policy);
        let prefix = rule.prefix.trim_end_matches('/').to_string();
        let login_redirect = rule.login_redirect.unwrap_or(r.login_redirect);
        rules.push(RouteRule { prefix, methods, policy, websocket: rule.websocket, login_redirect, allow: vec![] });
        allows.push(rule.allow);
    }
    let routes = Routes {
        default,
        strictness,
        rules,
        user_management: false,
        login_client: r.login_client,
        forward_auth: false,
        callbacks: Vec::new(),
        backchannel_logout: None,
        default_login_redirect: r.login_redirect,
    };
    (routes, allows)
}
