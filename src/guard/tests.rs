use super::*;
use crate::config::parse;
use serde_json::json;

fn config() -> Config {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.yaml")).unwrap();
    parse(&text, "gateway.yaml", &|_| None).unwrap()
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, v.parse().unwrap());
    }
    h
}

#[test]
fn first_matching_rule_decides_else_the_default() {
    let mut c = config();
    assert_eq!(policy_for(&c.routes, "GET", "/public/x"), Policy::Public);
    assert_eq!(policy_for(&c.routes, "GET", "/public"), Policy::Authenticated, "prefix is literal");
    assert_eq!(policy_for(&c.routes, "POST", "/internal/jobs"), Policy::Secret);
    assert_eq!(policy_for(&c.routes, "GET", "/api"), Policy::Authenticated);
    c.routes.rules.insert(
        0,
        crate::config::RouteRule { prefix: "/public/".into(), methods: vec!["POST".into()], policy: Policy::Secret },
    );
    assert_eq!(policy_for(&c.routes, "POST", "/public/x"), Policy::Secret);
    assert_eq!(policy_for(&c.routes, "GET", "/public/x"), Policy::Public);
}

#[test]
fn identity_headers_come_from_claims() {
    let c = config();
    let claims = json!({
        "sub": "auth0|1", "email": "a@b.c",
        "https://authgate.local/groups": ["admins", "staff"],
    });
    let got = identity::headers_from_claims(&c.guard, claims.as_object().unwrap());
    let as_text: Vec<(String, String)> = got.into_iter().map(|(h, v)| (h.to_string(), v)).collect();
    assert!(as_text.contains(&("x-user-id".into(), "auth0|1".into())));
    assert!(as_text.contains(&("x-user-email".into(), "a@b.c".into())));
    assert!(as_text.contains(&("x-user-groups".into(), "admins,staff".into())));
}

#[test]
fn claims_cannot_smuggle_header_lines_and_absent_claims_give_no_header() {
    let c = config();
    let claims = json!({"sub": "auth0|1\r\nx-admin: yes"});
    let got = identity::headers_from_claims(&c.guard, claims.as_object().unwrap());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, "auth0|1x-admin: yes");
}

#[test]
fn stripped_headers_cover_the_secret_and_every_identity_header() {
    let names: Vec<String> = stripped_headers(&config().guard).iter().map(|h| h.to_string()).collect();
    for h in ["secret", "x-client-type", "x-user-id", "x-user-email", "x-user-groups"] {
        assert!(names.contains(&h.to_string()), "{h} in {names:?}");
    }
}

#[test]
fn cookie_requests_that_change_state_need_an_allowed_origin() {
    let c = config();
    let website = c.clients.iter().find(|c| c.name == "website");
    let ok = |m, h: &[(&'static str, &str)]| csrf::check(m, &headers(h), website, None).is_ok();
    assert!(ok("GET", &[]));
    assert!(ok("POST", &[("origin", "http://localhost:3000")]));
    assert!(ok("DELETE", &[("referer", "http://localhost:3000/page?x=1")]));
    assert!(!ok("POST", &[]));
    assert!(!ok("PUT", &[("origin", "https://evil.example")]));
    assert!(!ok("PATCH", &[("origin", "null")]));
    assert!(
        csrf::check("POST", &headers(&[("origin", "https://gw.example")]), None, Some("https://gw.example")).is_ok()
    );
}

#[test]
fn token_comes_from_bearer_first_then_the_cookie() {
    let c = config();
    let h = headers(&[("authorization", "Bearer abc"), ("cookie", "sid=def")]);
    assert_eq!(token(&h, &c), Some(("abc", TokenSource::Bearer)));
    let h = headers(&[("cookie", "a=1"), ("cookie", "sid=def")]);
    assert_eq!(token(&h, &c), Some(("def", TokenSource::Cookie)));
    assert_eq!(token(&headers(&[("authorization", "Basic abc")]), &c), None);
    assert_eq!(token(&headers(&[("authorization", "Bearer ")]), &c), None);
}
