//! Who may pass a route: a rule's `allow` alternatives, evaluated on every request over the
//! claims kept with the verified token (the cache keeps verification, never a decision), or,
//! on a `secret` route, over the calling application. Plain values in and out.

use crate::config::{Alternative, Condition, Need};
use crate::http::error::ApiError;
use crate::http::exchange::Reply;

/// What a request shows the rules: the values of each of `guard.authz_claims` (same order;
/// a string claim is one value, `scope` its words, an array its strings), and the name of
/// the application whose `secret` came along.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Shown<'a> {
    pub(crate) claims: &'a [Box<[Box<str>]>],
    pub(crate) caller: Option<&'a str>,
}

impl Shown<'_> {
    fn has(&self, c: &Condition, value: &str) -> bool {
        match c.need {
            Need::Clients if c.reads.is_empty() => self.caller == Some(value),
            _ => c.reads.iter().any(|&i| self.claims.get(i).is_some_and(|held| held.iter().any(|h| &**h == value))),
        }
    }
}

fn holds(c: &Condition, shown: &Shown) -> bool {
    if c.needs_all() {
        c.values.iter().all(|v| shown.has(c, v))
    } else {
        c.values.iter().any(|v| shown.has(c, v))
    }
}

/// Let the request through when any alternative holds (no alternatives: no rule to meet).
pub(crate) fn decide(allow: &[Alternative], shown: &Shown) -> Result<(), ApiError> {
    if allow.is_empty() || allow.iter().any(|a| a.conditions.iter().all(|c| holds(c, shown))) {
        return Ok(());
    }
    Err(refusal(allow, shown))
}

/// `403 access_denied`, naming what each alternative lacks (from the configuration: nothing of
/// the token's is echoed); with `WWW-Authenticate: Bearer error="insufficient_scope"` and the
/// scopes or permissions wanted when those are what is missing (RFC 6750 §3.1).
fn refusal(allow: &[Alternative], shown: &Shown) -> ApiError {
    let lacking: Vec<Vec<&Condition>> =
        allow.iter().map(|a| a.conditions.iter().filter(|c| !holds(c, shown)).collect()).collect();
    let say = |missing: &Vec<&Condition>| missing.iter().map(|c| describe(c)).collect::<Vec<_>>().join(" and ");
    let description = match lacking.as_slice() {
        [one] => format!("This route requires {}.", say(one)),
        many => format!(
            "This route requires one of: {}.",
            many.iter().map(|m| format!("({})", say(m))).collect::<Vec<_>>().join(" or ")
        ),
    };
    let mut e = ApiError::new(403, "access_denied", description);
    let wanted = lacking.iter().flatten().find(|c| matches!(c.need, Need::Scopes | Need::Permissions));
    if let Some(c) = wanted {
        let scope: Vec<&str> =
            c.values.iter().map(String::as_str).filter(|v| !v.contains(['"', '\\']) && !v.is_empty()).collect();
        e = e.with_header(
            "www-authenticate",
            format!(r#"Bearer error="insufficient_scope", scope="{}""#, scope.join(" ")),
        );
    }
    e
}

fn describe(c: &Condition) -> String {
    let values = c.values.join(", ");
    let listed = |one: &str, many: &str| {
        if c.values.len() == 1 {
            format!("{one} {values}")
        } else {
            format!("{many} {values}")
        }
    };
    match c.need {
        Need::Groups => listed("group", "one of the groups"),
        Need::Roles => listed("role", "one of the roles"),
        Need::Permissions => listed("permission", "the permissions"),
        Need::Scopes => listed("scope", "the scopes"),
        Need::Clients if c.reads.is_empty() => listed("the secret of client", "the secret of one of the clients"),
        Need::Clients => listed("a token issued to client", "a token issued to one of the clients"),
        Need::Claim => format!("claim {} = {}", c.claim, c.values.join(" | ")),
    }
}

/// The values a claim shows the rules: a string is one value (`scope`: its words), an array
/// its strings, a number or boolean its text.
pub(crate) fn claim_values(name: &str, value: Option<&serde_json::Value>) -> Box<[Box<str>]> {
    use serde_json::Value;
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.as_str().into()),
        Value::Number(n) => Some(n.to_string().into()),
        Value::Bool(b) => Some(b.to_string().into()),
        _ => None,
    };
    match value {
        Some(Value::String(s)) if name == "scope" => s.split_whitespace().map(Into::into).collect(),
        Some(Value::Array(items)) => items.iter().filter_map(text).collect(),
        Some(v) => text(v).into_iter().collect(),
        None => Box::new([]),
    }
}

/// A page load (`GET`, `Accept: text/html`) refused by a rule: a small page, not a redirect to
/// the login (the user is signed in: it would loop).
pub(crate) fn page_for(refusal: &ApiError, method: &str, accept: Option<&str>) -> Option<Reply> {
    let page_load = crate::http::exchange::is_page_load(method, accept);
    (page_load && refusal.status == 403 && refusal.error == "access_denied").then(|| {
        let html = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not allowed</title></head>\n\
             <body><h1>Not allowed</h1>\n<p>You are signed in, but this page is not open to you.</p>\n\
             <p>{}</p></body></html>\n",
            crate::http::exchange::html_escape(&refusal.description)
        );
        let mut reply = Reply::html(403, html);
        reply.headers.extend(refusal.headers.iter().cloned());
        reply
    })
}

pub(crate) mod explain;

#[cfg(test)]
mod tests;
