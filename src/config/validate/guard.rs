//! The `guard` block: how tokens are checked and what reaches the backend as identity headers.

use super::defaults::{
    DEFAULT_ALGORITHM, DEFAULT_CLIENT_HEADER, DEFAULT_GROUPS_CLAIM, DEFAULT_JWKS_MIN_REFETCH_SECONDS,
    DEFAULT_JWKS_TTL_SECONDS, DEFAULT_LEEWAY_SECONDS, DEFAULT_REQUIRE_EMAIL_VERIFIED, DEFAULT_ROLES_CLAIM,
    DEFAULT_TOKEN_CACHE_BYTES, DEFAULT_USER_EMAIL_HEADER, DEFAULT_USER_GROUPS_HEADER, DEFAULT_USER_ID_HEADER,
};
use super::scalars::header_name;
use super::Problems;
use crate::config::file::FileGuard;
use crate::config::model::{Client, Guard, Policy, Routes};
use std::collections::BTreeMap;
use std::time::Duration;

const ASYMMETRIC: [jsonwebtoken::Algorithm; 8] = {
    use jsonwebtoken::Algorithm::*;
    [RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384]
};

pub(super) fn guard(p: &mut Problems, g: FileGuard, clients: &[Client], routes: &Routes) -> Guard {
    let audiences = g.audiences.unwrap_or_else(|| {
        let mut auds: Vec<String> = Vec::new();
        for a in clients.iter().filter_map(|c| c.audience.clone()) {
            if !auds.contains(&a) {
                auds.push(a);
            }
        }
        auds
    });
    let needs_tokens =
        routes.default == Policy::Authenticated || routes.rules.iter().any(|r| r.policy == Policy::Authenticated);
    if audiences.is_empty() && needs_tokens {
        p.push("guard.audiences", "no audience to check tokens against: set guard.audiences or clients.*.audience");
    }
    let mut algorithms = Vec::new();
    for name in g.algorithms.unwrap_or_else(|| vec![DEFAULT_ALGORITHM.to_string()]) {
        match name.parse::<jsonwebtoken::Algorithm>() {
            Ok(a) if ASYMMETRIC.contains(&a) => algorithms.push(a),
            _ => p.push(
                "guard.algorithms",
                format!("{name:?} is not allowed: use RS256, RS384, RS512, PS256, PS384, PS512, ES256 or ES384"),
            ),
        }
    }
    let groups_claim = g.groups_claim.unwrap_or_else(|| DEFAULT_GROUPS_CLAIM.to_string());
    let roles_claim = g.roles_claim.unwrap_or_else(|| DEFAULT_ROLES_CLAIM.to_string());
    let pairs = g.identity_headers.unwrap_or_else(|| {
        BTreeMap::from([
            (DEFAULT_USER_ID_HEADER.to_string(), "sub".to_string()),
            (DEFAULT_USER_EMAIL_HEADER.to_string(), "email".to_string()),
            (DEFAULT_USER_GROUPS_HEADER.to_string(), groups_claim.clone()),
        ])
    });
    let identity_headers = pairs
        .into_iter()
        .filter_map(|(h, claim)| header_name(p, &format!("guard.identity_headers.{h}"), &h).map(|h| (h, claim)))
        .collect();
    let client_header =
        header_name(p, "guard.client_header", g.client_header.as_deref().unwrap_or(DEFAULT_CLIENT_HEADER))
            .unwrap_or(http::HeaderName::from_static(DEFAULT_CLIENT_HEADER));
    let jwks_ttl =
        super::scalars::at_least(p, "guard.jwks_ttl_seconds", g.jwks_ttl_seconds, DEFAULT_JWKS_TTL_SECONDS, 10, "");
    Guard {
        audiences,
        algorithms,
        leeway_seconds: g.leeway_seconds.unwrap_or(DEFAULT_LEEWAY_SECONDS),
        jwks_ttl: Duration::from_secs(jwks_ttl),
        jwks_min_refetch: Duration::from_secs(g.jwks_min_refetch_seconds.unwrap_or(DEFAULT_JWKS_MIN_REFETCH_SECONDS)),
        token_cache_bytes: g.token_cache_bytes.unwrap_or(DEFAULT_TOKEN_CACHE_BYTES),
        require_email_verified: g.require_email_verified.unwrap_or(DEFAULT_REQUIRE_EMAIL_VERIFIED),
        groups_claim,
        roles_claim,
        authz_claims: Vec::new(),
        identity_headers,
        client_header,
        cookie_to_bearer: g.cookie_to_bearer,
    }
}
