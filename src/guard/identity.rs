//! The identity the backend receives: configured claims as headers. Every header of that set
//! (and `secret`) is removed from every incoming request, so nobody can forge an identity.

use crate::config::Guard;
use http::HeaderName;
use serde_json::Value;

/// Headers removed from every request before it reaches the backend.
pub fn stripped_headers(guard: &Guard) -> Vec<HeaderName> {
    let mut names = vec![HeaderName::from_static("secret"), guard.client_header.clone()];
    names.extend(guard.identity_headers.iter().map(|(h, _)| h.clone()));
    names
}

/// The identity headers for verified `claims`: strings as they are, lists comma-joined,
/// numbers and booleans as text; absent claims give no header. Control characters are dropped
/// so a claim cannot smuggle a header line.
pub fn headers_from_claims(guard: &Guard, claims: &serde_json::Map<String, Value>) -> Vec<(HeaderName, String)> {
    guard
        .identity_headers
        .iter()
        .filter_map(|(header, claim)| {
            let text = match claims.get(claim)? {
                Value::String(s) => s.clone(),
                Value::Array(items) => items.iter().filter_map(scalar).collect::<Vec<_>>().join(","),
                other => scalar(other)?,
            };
            let clean: String = text.chars().filter(|c| !c.is_control()).collect();
            Some((header.clone(), clean))
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
