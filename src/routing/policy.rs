//! Route policies: the first rule whose path prefix matches on a segment boundary (and whose
//! methods, when listed, include the request's) decides; otherwise the default.

use crate::config::{Policy, RouteRule, Routes};

/// What the matching rule says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    pub policy: Policy,
    /// The route may upgrade the connection (WebSocket), once the guard let it through.
    pub(crate) websocket: bool,
    /// A browser without a session is sent to `/authorize` rather than refused.
    pub(crate) login_redirect: bool,
    /// The rule that decided (its index in `routes.rules`), `None`: the default.
    pub(crate) rule: Option<usize>,
}

impl Matched {
    /// Who may pass: the deciding rule's `allow` (empty: whoever the policy lets through).
    pub(crate) fn allow<'r>(&self, routes: &'r Routes) -> &'r [crate::config::Alternative] {
        self.rule.and_then(|i| routes.rules.get(i)).map_or(&[], |r| r.allow.as_slice())
    }

    /// The deciding rule for the access line: `rules[2]:/admin`, or `default` (written as the
    /// line is, with no string of its own).
    pub(crate) fn name<'r>(&self, routes: &'r Routes) -> RuleName<'r> {
        RuleName(self.rule.and_then(|i| Some((i, routes.rules.get(i)?.prefix.as_str()))))
    }

    /// Whether `refusal` sends a browser to the login: only a missing or invalid session on a
    /// route with `login_redirect` (a `secret` route would loop: a login gives no secret).
    pub(crate) fn sends_to_login(&self, refusal: &crate::http::error::ApiError) -> bool {
        refusal.error == "invalid_token" && self.login_redirect && self.policy == Policy::Authenticated
    }
}

/// A rule's name for the access line.
pub(crate) struct RuleName<'r>(Option<(usize, &'r str)>);

impl std::fmt::Display for RuleName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some((i, prefix)) => write!(f, "rules[{i}]:{}", display_prefix(prefix)),
            None => f.write_str("default"),
        }
    }
}

/// `prefix` (stored without a trailing slash; the root is `""`) covers `path` when `path` is
/// the prefix itself or lies below it: `/health` covers `/health` and `/health/x`, never
/// `/healthadmin`.
pub(crate) fn prefix_covers(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Whether a rule's `methods` take `method`: a rule that lists `GET` takes `HEAD` too (servers
/// answer HEAD with their GET handler, so it must not fall to another rule).
fn lists(rule: &RouteRule, method: &str) -> bool {
    rule.methods.is_empty() || rule.methods.iter().any(|m| m == method || (method == "HEAD" && m == "GET"))
}

fn applies(rule: &RouteRule, method: &str, path: &str) -> bool {
    prefix_covers(&rule.prefix, path) && lists(rule, method)
}

pub(crate) fn rule_for(routes: &Routes, method: &str, path: &str) -> Matched {
    first_rule(routes, |r| applies(r, method, path))
}

/// The rule a server that compares paths ignoring ASCII case would apply.
pub(crate) fn rule_for_any_case(routes: &Routes, method: &str, path: &str) -> Matched {
    first_rule(routes, |r| {
        let n = r.prefix.len();
        let covers = path.len() >= n
            && path.as_bytes()[..n].eq_ignore_ascii_case(r.prefix.as_bytes())
            && (path.len() == n || path.as_bytes()[n] == b'/');
        covers && lists(r, method)
    })
}

fn first_rule(routes: &Routes, applies: impl Fn(&RouteRule) -> bool) -> Matched {
    let default =
        Matched { policy: routes.default, websocket: false, login_redirect: routes.default_login_redirect, rule: None };
    routes.rules.iter().position(applies).map_or(default, |i| {
        let r = &routes.rules[i];
        Matched { policy: r.policy, websocket: r.websocket, login_redirect: r.login_redirect, rule: Some(i) }
    })
}

#[cfg(test)]
pub(crate) fn policy_for(routes: &Routes, method: &str, path: &str) -> Policy {
    rule_for(routes, method, path).policy
}

/// Rules that can never decide because an earlier rule covers every request they would match.
pub(crate) fn shadowed_rules(routes: &Routes) -> Vec<String> {
    let mut warnings = Vec::new();
    for (j, later) in routes.rules.iter().enumerate() {
        let earlier = routes.rules[..j].iter().position(|r| {
            prefix_covers(&r.prefix, &later.prefix)
                && (r.methods.is_empty()
                    || (!later.methods.is_empty() && later.methods.iter().all(|m| r.methods.contains(m))))
        });
        if let Some(i) = earlier {
            warnings.push(format!(
                "routes.rules[{j}] (prefix {:?}) is never used: routes.rules[{i}] (prefix {:?}) matches first",
                display_prefix(&later.prefix),
                display_prefix(&routes.rules[i].prefix)
            ));
        }
    }
    warnings
}

fn display_prefix(p: &str) -> &str {
    if p.is_empty() {
        "/"
    } else {
        p
    }
}
