//! `allow` rules from the file to the decision, over claims as a verified token carries them.

use super::*;
use crate::config::{parse, Config};
use serde_json::{json, Value};

const BASE: &str = "backend: {url: 'http://127.0.0.1:1'}\ntenant: {url: 'http://127.0.0.1:2'}\nguard: {audiences: [a], roles_claim: 'https://x/roles'}\n\
    clients:\n  web: {secret: web-secret-1, client_id: web-id, client_secret: s, connections: [db]}\n  \
    batch: {secret: batch-secret-1, client_id: batch-id, client_secret: s, connections: [db]}\n";

fn config(rules: &str) -> Result<Config, String> {
    parse(&format!("{BASE}routes:\n  rules:\n{rules}"), "test", &|_| None).map_err(|e| e.to_string())
}

/// The decision of rule 0 for a token with `claims` (and the calling application `caller`).
fn decision(c: &Config, claims: Value, caller: Option<&str>) -> Result<(), ApiError> {
    let values: Vec<Box<[Box<str>]>> =
        c.guard.authz_claims.iter().map(|name| claim_values(name, claims.get(name))).collect();
    decide(&c.routes.rules[0].allow, &Shown { claims: &values, caller })
}

fn allowed(c: &Config, claims: Value) -> bool {
    decision(c, claims, None).is_ok()
}

#[test]
fn each_condition_kind_reads_its_claim() {
    let c = config(
        "    - prefix: /x\n      policy: authenticated\n      allow:\n        - groups: [admins, ops]\n        \
         - roles: [auditor]\n        - permissions: ['read:reports', 'export:reports']\n        - scopes: ['read:x']\n        \
         - clients: [web]\n        - claims: {tier: [gold, platinum]}\n        - claims: {org: acme, team: [a, b]}\n",
    )
    .unwrap();
    assert!(allowed(&c, json!({"https://authgate.local/groups": ["ops"]})), "any listed group");
    assert!(!allowed(&c, json!({"https://authgate.local/groups": ["opsx", "admin"]})));
    assert!(allowed(&c, json!({"https://x/roles": ["auditor"]})), "the configured roles claim");
    assert!(!allowed(&c, json!({"roles": ["auditor"]})), "not a claim of another name");
    assert!(allowed(&c, json!({"permissions": ["export:reports", "read:reports", "other"]})), "every permission");
    assert!(!allowed(&c, json!({"permissions": ["read:reports"]})), "one permission of two is not enough");
    assert!(allowed(&c, json!({"scope": "openid read:x profile"})), "scope is space-separated");
    assert!(!allowed(&c, json!({"scope": "read:xy"})));
    assert!(allowed(&c, json!({"azp": "web-id"})), "a client by name is its client_id");
    assert!(allowed(&c, json!({"client_id": "web-id"})), "RFC 9068's client_id counts as azp");
    assert!(!allowed(&c, json!({"azp": "web"})), "the token names the client_id, not the gateway's name");
    assert!(allowed(&c, json!({"tier": "gold"})), "a string claim equals a value");
    assert!(allowed(&c, json!({"tier": ["bronze", "platinum"]})), "an array claim contains one");
    assert!(!allowed(&c, json!({"org": "acme"})), "two claims of one alternative: both");
    assert!(allowed(&c, json!({"org": "acme", "team": "b"})));
    assert!(!allowed(&c, json!({"tier": "Gold"})), "exact, case and all");
    assert!(!allowed(&c, json!({"tier": {"gold": true}})), "an object is no value");
    assert!(!allowed(&c, json!({})), "nothing shown, nothing allowed");
}

#[test]
fn an_alternative_needs_all_its_conditions_and_any_alternative_will_do() {
    let c = config(
        "    - prefix: /x\n      allow:\n        - {groups: [admins], permissions: ['write:x']}\n        - {roles: [owner]}\n      policy: authenticated\n",
    )
    .unwrap();
    assert!(!allowed(&c, json!({"https://authgate.local/groups": ["admins"]})), "AND: the group alone");
    assert!(!allowed(&c, json!({"permissions": ["write:x"]})), "AND: the permission alone");
    assert!(allowed(&c, json!({"https://authgate.local/groups": ["admins"], "permissions": ["write:x"]})));
    assert!(allowed(&c, json!({"https://x/roles": ["owner"]})), "OR: the other alternative");
}

#[test]
fn the_refusal_names_what_is_missing_and_asks_for_scopes_the_rfc_6750_way() {
    let c = config(
        "    - prefix: /x\n      policy: authenticated\n      allow:\n        - {groups: [admins]}\n        - {permissions: ['read:reports']}\n",
    )
    .unwrap();
    let e = decision(&c, json!({"https://authgate.local/groups": ["staff"], "permissions": ["secret-perm"]}), None)
        .unwrap_err();
    assert_eq!((e.status, e.error.as_ref()), (403, "access_denied"));
    assert_eq!(e.description, "This route requires one of: (group admins) or (permission read:reports).");
    assert!(!e.description.contains("staff") && !e.description.contains("secret-perm"), "nothing of the token echoed");
    let header = e.headers.iter().find(|(n, _)| *n == "www-authenticate").map(|(_, v)| v.as_str());
    assert_eq!(header, Some(r#"Bearer error="insufficient_scope", scope="read:reports""#));
    let groups_only =
        config("    - prefix: /x\n      policy: authenticated\n      allow: [{groups: [a, b]}]\n").unwrap();
    let e = decision(&groups_only, json!({}), None).unwrap_err();
    assert_eq!(e.description, "This route requires one of the groups a, b.");
    assert!(e.headers.iter().all(|(n, _)| *n != "www-authenticate"), "no scope is missing");
}

#[test]
fn a_secret_route_names_the_clients_whose_secrets_open_it() {
    let c = config("    - prefix: /internal\n      policy: secret\n      allow: [{clients: [batch]}]\n").unwrap();
    assert!(decision(&c, json!({}), Some("batch")).is_ok());
    let e = decision(&c, json!({}), Some("web")).unwrap_err();
    assert_eq!((e.status, e.description.as_ref()), (403, "This route requires the secret of client batch."));
    assert!(config("    - prefix: /i\n      policy: secret\n      allow: [{groups: [x]}]\n")
        .unwrap_err()
        .contains("only clients"));
    assert!(config("    - prefix: /i\n      policy: secret\n      allow: [{clients: [nobody]}]\n")
        .unwrap_err()
        .contains("not a configured client"));
}

#[test]
fn allow_lists_that_cannot_mean_what_they_say_are_refused() {
    for (rules, said) in [
        ("    - {prefix: /p, policy: public, allow: [{groups: [a]}]}\n", "allow needs policy authenticated or secret"),
        ("    - {prefix: /p, policy: authenticated, allow: []}\n", "is empty"),
        ("    - {prefix: /p, policy: authenticated, allow: [{}]}\n", "has no condition"),
        ("    - {prefix: /p, policy: authenticated, allow: [{groups: []}]}\n", "has no condition"),
        ("    - {prefix: /p, policy: authenticated, allow: [{claims: {tier: []}}]}\n", "at least one non-empty value"),
        ("    - {prefix: /p, policy: authenticated, allow: [{group: [a]}]}\n", "unknown field"),
        ("    - {prefix: /p, policy: authenticated, allow: [{scopes: ['read x']}]}\n", "one scope token"),
        ("    - {prefix: /p, policy: authenticated, allow: [{permissions: ['a\"b']}]}\n", "one scope token"),
    ] {
        let e = config(rules).unwrap_err();
        assert!(e.contains(said), "{rules}: {e}");
    }
    let none = config("    - {prefix: /p, policy: authenticated}\n").unwrap();
    assert!(none.guard.authz_claims.is_empty(), "no rule reads claims: tokens keep none");
    assert!(decision(&none, json!({}), None).is_ok(), "a rule without allow lets through whoever the policy does");
}

#[test]
fn a_refused_page_load_gets_a_page_and_an_api_call_the_json() {
    let e = ApiError::new(403, "access_denied", "This route requires group <admins>.");
    let page = page_for(&e, "GET", Some("text/html,application/xhtml+xml")).unwrap();
    assert_eq!(page.status, 403);
    let body = String::from_utf8(page.body.to_vec()).unwrap();
    assert!(body.contains("group &lt;admins&gt;") && !body.contains("<admins>"), "{body}");
    assert!(page_for(&e, "GET", Some("application/json")).is_none());
    assert!(page_for(&e, "POST", Some("text/html")).is_none());
    assert!(page_for(&ApiError::invalid_token("x"), "GET", Some("text/html")).is_none(), "401s keep their way");
}

#[test]
fn check_warns_of_rules_that_restrict_some_methods_or_name_unknown_clients() {
    let c = config(
        "    - {prefix: /x, methods: [POST], policy: authenticated, allow: [{clients: [web, other-app]}]}\n    \
         - {prefix: /x, policy: authenticated, allow: [{groups: [a]}]}\n",
    )
    .unwrap();
    let w = c.warnings().join("\n");
    assert!(w.contains("routes.rules[0].allow applies to POST only"), "{w}");
    assert!(w.contains("\"other-app\" is no configured client"), "{w}");
    assert!(!w.contains("\"web-id\""), "a configured client by name is known: {w}");
}

#[test]
fn a_rule_that_lists_get_decides_head_too() {
    let c = config("    - {prefix: /x, methods: [GET], policy: authenticated, allow: [{groups: [admins]}]}\n").unwrap();
    let rule = |m| crate::routing::policy::rule_for(&c.routes, m, "/x/y").rule;
    assert_eq!((rule("GET"), rule("HEAD"), rule("POST")), (Some(0), Some(0), None));
}
