//! Route policies: the first rule whose path prefix (and methods, when listed) match decides;
//! otherwise the default.

use crate::config::{Policy, Routes};

pub fn policy_for(routes: &Routes, method: &str, path: &str) -> Policy {
    routes
        .rules
        .iter()
        .find(|r| path.starts_with(&r.prefix) && (r.methods.is_empty() || r.methods.iter().any(|m| m == method)))
        .map_or(routes.default, |r| r.policy)
}
