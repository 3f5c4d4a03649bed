//! The identity the backend receives: configured claims as headers. Every header of that set,
//! `secret`, the forwarding headers, and any spelling of them with `_` for `-` (WSGI, CGI,
//! Rack and PHP read `X_User_Id` as `X-User-Id`) are removed from every incoming request, so
//! nobody can forge an identity.

use crate::config::Guard;
use http::HeaderName;
use serde_json::{Map, Value};

/// Headers that name the client or rewrite the request on common backends (Symfony's
/// `X-Original-URL`, Express' method override, Node's `request-ip`…): the gateway decided on
/// the request as sent, so none of these may reach the backend from a client.
const REWRITING: [&str; 14] = [
    "x-original-url",
    "x-rewrite-url",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "client-ip",
    "x-cluster-client-ip",
    "x-originating-ip",
    "x-forwarded",
    "x-forwarded-uri",
    "x-forwarded-prefix",
];

/// Forwarding headers a trusted proxy may set, and only it: removed when the peer is not one.
pub(crate) const FORWARDED_BY_PROXIES: [&str; 3] = ["x-forwarded-host", "x-forwarded-proto", "x-forwarded-port"];

/// Headers the gateway alone may set on the way to the backend.
pub(crate) fn protected_headers(guard: &Guard) -> Vec<HeaderName> {
    let mut names: Vec<HeaderName> = ["secret", "x-forwarded-for", "x-real-ip", "forwarded", "x-request-id"]
        .into_iter()
        .chain(REWRITING)
        .map(HeaderName::from_static)
        .collect();
    names.push(guard.client_header.clone());
    names.extend(guard.identity_headers.iter().map(|(h, _)| h.clone()));
    names
}

/// Whether an incoming header named `name` is another spelling of a protected one: the same
/// name once `_` is read as `-`.
pub(crate) fn is_protected_spelling(name: &str, protected: &[HeaderName]) -> bool {
    name.contains('_') && {
        let dashed = name.replace('_', "-");
        protected.iter().any(|p| p.as_str().eq_ignore_ascii_case(&dashed))
    }
}

/// The identity header values for verified `claims`, one per configured header: strings as
/// they are, lists comma-joined, numbers and booleans as text; absent claims give no header.
/// Control characters are dropped so a claim cannot smuggle a header line. An `email` claim is
/// sent only when `email_verified` is `true`, unless the configuration says otherwise.
pub(crate) fn identity_values(guard: &Guard, claims: &Map<String, Value>) -> Box<[Option<Box<str>>]> {
    let email_trusted = !guard.require_email_verified || claims.get("email_verified") == Some(&Value::Bool(true));
    guard
        .identity_headers
        .iter()
        .map(|(_, claim)| {
            if claim == "email" && !email_trusted {
                return None;
            }
            let text = match claims.get(claim)? {
                Value::String(s) => s.clone(),
                Value::Array(items) => items.iter().filter_map(scalar).collect::<Vec<_>>().join(","),
                other => scalar(other)?,
            };
            Some(text.chars().filter(|c| !c.is_control()).collect::<String>().into_boxed_str())
        })
        .collect()
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
