//! `routes.rules[].allow`: each alternative's conditions checked and turned into the claims
//! they read (`guard.authz_claims`), once the clients and the guard's claim names are known.

use super::Problems;
use crate::config::file::FileAllow;
use crate::config::{Alternative, Client, Condition, Guard, Need, Policy, Routes};

/// Set each rule's `allow` from its file form, and the claims they read on the guard.
pub(super) fn resolve(
    p: &mut Problems,
    routes: &mut Routes,
    allows: Vec<Option<Vec<FileAllow>>>,
    clients: &[Client],
    guard: &mut Guard,
) {
    let mut claims = Claims(&mut guard.authz_claims);
    for (i, (rule, allow)) in routes.rules.iter_mut().zip(allows).enumerate() {
        let Some(allow) = allow else { continue };
        let key = format!("routes.rules[{i}].allow");
        if rule.policy == Policy::Public {
            p.push(&key, "a public route lets everyone through: allow needs policy authenticated or secret");
            continue;
        }
        if allow.is_empty() {
            p.push(&key, "is empty: list at least one alternative, or leave allow out");
        }
        for (j, a) in allow.into_iter().enumerate() {
            let key = format!("{key}[{j}]");
            let alternative =
                alternative(p, &key, a, rule.policy, clients, &guard.groups_claim, &guard.roles_claim, &mut claims);
            if alternative.conditions.is_empty() {
                p.push(&key, "has no condition: name groups, roles, permissions, scopes, clients or claims");
            }
            rule.allow.push(alternative);
        }
    }
}

/// The claim names rules read, each once, in order of first use.
struct Claims<'a>(&'a mut Vec<String>);

impl Claims<'_> {
    fn index(&mut self, name: &str) -> usize {
        match self.0.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.0.push(name.to_string());
                self.0.len() - 1
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn alternative(
    p: &mut Problems,
    key: &str,
    a: FileAllow,
    policy: Policy,
    clients: &[Client],
    groups_claim: &str,
    roles_claim: &str,
    claims: &mut Claims,
) -> Alternative {
    let mut conditions = Vec::new();
    if policy == Policy::Secret {
        let token_only = !a.groups.is_empty()
            || !a.roles.is_empty()
            || !a.permissions.is_empty()
            || !a.scopes.is_empty()
            || !a.claims.is_empty();
        if token_only {
            p.push(key, "a secret route has no token: only clients may be named");
        }
        if !a.clients.is_empty() {
            let names = a.clients.iter().map(|c| client_name(p, key, c, clients)).collect();
            conditions.push(Condition { need: Need::Clients, claim: "secret".into(), reads: vec![], values: names });
        }
        return Alternative { conditions };
    }
    // Lists of values read from one claim each (an empty list is no condition).
    let lists = [
        (Need::Groups, groups_claim, a.groups),
        (Need::Roles, roles_claim, a.roles),
        (Need::Permissions, "permissions", a.permissions),
        (Need::Scopes, "scope", a.scopes),
    ];
    for (need, claim, values) in lists.into_iter().filter(|(_, _, values)| !values.is_empty()) {
        // Scopes and permissions are named in WWW-Authenticate: RFC 6750's scope-token characters.
        let token = |v: &String| {
            !v.is_empty() && v.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        };
        if matches!(need, Need::Permissions | Need::Scopes) && !values.iter().all(token) {
            p.push(key, format!("{claim}: each value is one scope token (printable, no space, \" or \\)"));
        }
        conditions.push(Condition { need, claim: claim.to_string(), reads: vec![claims.index(claim)], values });
    }
    if !a.clients.is_empty() {
        // A configured client by name or id is its client_id; anything else is taken as the
        // client_id of an application configured only at the tenant.
        let values = a.clients.iter().map(|c| client_id(c, clients)).collect();
        let reads = vec![claims.index("azp"), claims.index("client_id")];
        conditions.push(Condition { need: Need::Clients, claim: "azp".into(), reads, values });
    }
    for (name, values) in a.claims {
        let values = values.into_vec();
        if name.is_empty() || values.is_empty() || values.iter().any(String::is_empty) {
            p.push(&format!("{key}.claims"), format!("{name:?}: a claim name and at least one non-empty value"));
            continue;
        }
        let reads = vec![claims.index(&name)];
        conditions.push(Condition { need: Need::Claim, claim: name, reads, values });
    }
    Alternative { conditions }
}

fn client_id(named: &str, clients: &[Client]) -> String {
    clients
        .iter()
        .find(|c| c.name == named || c.client_id == named)
        .map_or_else(|| named.to_string(), |c| c.client_id.clone())
}

fn client_name(p: &mut Problems, key: &str, named: &str, clients: &[Client]) -> String {
    match clients.iter().find(|c| c.name == named || c.client_id == named) {
        Some(c) => c.name.clone(),
        None => {
            p.push(key, format!("clients: {named:?} is not a configured client (a secret route knows only those)"));
            named.to_string()
        }
    }
}
