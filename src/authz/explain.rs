//! `authgate explain`: which rule decides a request and why, for people writing rules. The
//! same router, rules and decision as the gateway's; a token's claims are read without
//! checking its signature (say so), and nothing is sent anywhere.

use super::{claim_values, decide, Shown};
use crate::config::{Config, Need, Policy};
use crate::routing::endpoints::Route;
use crate::routing::router::decide_target;
use serde_json::{Map, Value};
use std::fmt::Write;

/// What the request carries: the token's claims (when there is a token), and the client
/// whose `secret` it sends.
pub(crate) struct Asked<'a> {
    pub(crate) method: &'a str,
    pub(crate) target: &'a str,
    pub(crate) claims: Option<Map<String, Value>>,
    pub(crate) secret_client: Option<&'a str>,
}

/// The explanation, and whether the request would pass (as far as the rules go: a token's
/// signature, expiry and audience are the guard's, not checked here).
pub(crate) fn explain(config: &Config, asked: &Asked) -> (String, bool) {
    let mut out = String::new();
    let routes = &config.routes;
    let (decision, _, _) = match decide_target(routes, asked.method, asked.target.as_bytes()) {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(
                out,
                "{} {}: refused by the router ({} {}): {}",
                asked.method, asked.target, e.status, e.error, e.description
            );
            return (out, false);
        }
    };
    let _ = writeln!(out, "{} {}", asked.method, asked.target);
    let _ = writeln!(out, "  normalised path: {}", decision.path);
    if decision.route != Route::Backend {
        let _ = writeln!(out, "  the gateway answers it itself ({}): route rules do not apply", decision.route.class());
        return (out, true);
    }
    let rule = decision.rule;
    let policy = match rule.policy {
        Policy::Public => "public",
        Policy::Authenticated => "authenticated",
        Policy::Secret => "secret",
    };
    let _ = writeln!(out, "  decided by: {} (policy {policy})", rule.name(routes));
    let credential_ok = match rule.policy {
        Policy::Public => true,
        Policy::Authenticated => asked.claims.is_some(),
        Policy::Secret => asked.secret_client.is_some(),
    };
    if !credential_ok {
        let need = if rule.policy == Policy::Secret { "a known client's secret header" } else { "an access token" };
        let _ = writeln!(out, "  decision: unauthenticated (401): the route needs {need}");
        return (out, false);
    }
    let allow = rule.allow(routes);
    if allow.is_empty() {
        let _ = writeln!(out, "  allow: none (whoever the policy lets through)\n  decision: allowed");
        return (out, true);
    }
    let empty = Map::new();
    let claims = asked.claims.as_ref().unwrap_or(&empty);
    let values: Vec<Box<[Box<str>]>> =
        config.guard.authz_claims.iter().map(|name| claim_values(name, claims.get(name))).collect();
    let shown = Shown { claims: &values, caller: asked.secret_client };
    for (i, alternative) in allow.iter().enumerate() {
        let _ = writeln!(out, "  allow[{i}]:");
        for c in &alternative.conditions {
            let held = super::holds(c, &shown);
            let what = match c.need {
                Need::Groups => "groups",
                Need::Roles => "roles",
                Need::Permissions => "permissions",
                Need::Scopes => "scopes",
                Need::Clients => "clients",
                Need::Claim => "claim",
            };
            let mode = if c.needs_all() { "all of" } else { "any of" };
            let _ = writeln!(
                out,
                "    {} {what} ({}) {mode} [{}]",
                if held { "holds  " } else { "missing" },
                c.claim,
                c.values.join(", ")
            );
        }
    }
    match decide(allow, &shown) {
        Ok(()) => {
            let _ = writeln!(out, "  decision: allowed");
            (out, true)
        }
        Err(e) => {
            let _ = writeln!(out, "  decision: forbidden (403 access_denied): {}", e.description);
            (out, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let text = "backend: {url: 'http://127.0.0.1:1'}\ntenant: {url: 'http://127.0.0.1:2'}\nguard: {audiences: [a]}\n\
            clients: {web: {secret: web-secret-1, client_id: web-id, client_secret: s, connections: [db]}}\n\
            routes:\n  rules:\n    - {prefix: /public, policy: public}\n    \
            - {prefix: /admin, policy: authenticated, allow: [{groups: [admins], scopes: ['write:x']}, {roles: [owner]}]}\n";
        crate::config::parse(text, "test", &|_| None).unwrap()
    }

    fn asked<'a>(method: &'a str, target: &'a str, claims: Option<Value>) -> Asked<'a> {
        Asked { method, target, claims: claims.map(|c| c.as_object().unwrap().clone()), secret_client: None }
    }

    #[test]
    fn it_names_the_rule_each_condition_and_the_decision() {
        let c = config();
        let groups = json_claims(&["admins"]);
        let (text, ok) = explain(&c, &asked("GET", "/public/../admin/x", Some(groups)));
        assert!(!ok);
        assert!(text.contains("normalised path: /admin/x"), "{text}");
        assert!(text.contains("decided by: rules[1]:/admin (policy authenticated)"), "{text}");
        assert!(text.contains("holds   groups (https://authgate.local/groups) any of [admins]"), "{text}");
        assert!(text.contains("missing scopes (scope) all of [write:x]"), "{text}");
        assert!(text.contains("decision: forbidden (403 access_denied)"), "{text}");
        let mut owner = serde_json::json!({"https://authgate.local/roles": ["owner"]});
        let (text, ok) = explain(&c, &asked("GET", "/admin/x", Some(owner.take())));
        assert!(ok && text.ends_with("decision: allowed\n"), "{text}");
        let (text, ok) = explain(&c, &asked("GET", "/admin/x", None));
        assert!(!ok && text.contains("unauthenticated (401)"), "{text}");
        let (text, ok) = explain(&c, &asked("GET", "/public/x", None));
        assert!(ok && text.contains("allow: none"), "{text}");
        let (text, ok) = explain(&c, &asked("GET", "/Admin/x", None));
        assert!(!ok && text.contains("refused by the router (400"), "{text}");
        let (text, ok) = explain(&c, &asked("POST", "/oauth/token", None));
        assert!(ok && text.contains("answers it itself (token)"), "{text}");
    }

    fn json_claims(groups: &[&str]) -> Value {
        serde_json::json!({"https://authgate.local/groups": groups})
    }
}
