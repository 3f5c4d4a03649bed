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
    assert_eq!(policy_for(&c.routes, "GET", "/public"), Policy::Public, "the prefix's own path");
    assert_eq!(policy_for(&c.routes, "GET", "/publications"), Policy::Authenticated, "whole segments only");
    assert_eq!(policy_for(&c.routes, "POST", "/internal/jobs"), Policy::Secret);
    assert_eq!(policy_for(&c.routes, "GET", "/api"), Policy::Authenticated);
    c.routes.rules.insert(
        0,
        crate::config::RouteRule {
            prefix: "/public".into(),
            methods: vec!["POST".into()],
            policy: Policy::Secret,
            websocket: false,
            login_redirect: false,
        },
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
    let as_text = |claims: serde_json::Value| -> Vec<(String, String)> {
        let values = identity_values(&c.guard, claims.as_object().unwrap());
        c.guard
            .identity_headers
            .iter()
            .zip(values.iter())
            .filter_map(|((h, _), v)| Some((h.to_string(), v.as_deref()?.to_string())))
            .collect()
    };
    let got = as_text(claims.clone());
    assert!(got.contains(&("x-user-id".into(), "auth0|1".into())));
    assert!(!got.iter().any(|(h, _)| h == "x-user-email"), "email_verified is not true: no email header");
    assert!(got.contains(&("x-user-groups".into(), "admins,staff".into())));
    let mut verified = claims;
    verified["email_verified"] = json!(true);
    assert!(as_text(verified).contains(&("x-user-email".into(), "a@b.c".into())));
}

#[test]
fn claims_cannot_smuggle_header_lines_and_absent_claims_give_no_header() {
    let c = config();
    let claims = json!({"sub": "auth0|1\r\nx-admin: yes"});
    let got = identity_values(&c.guard, claims.as_object().unwrap());
    let present: Vec<&str> = got.iter().filter_map(|v| v.as_deref()).collect();
    assert_eq!(present, ["auth0|1x-admin: yes"]);
}

#[test]
fn protected_headers_cover_the_secret_identity_and_forwarding_in_any_spelling() {
    let protected = protected_headers(&config().guard);
    let names: Vec<String> = protected.iter().map(|h| h.to_string()).collect();
    for h in ["secret", "x-client-type", "x-user-id", "x-user-email", "x-user-groups", "x-forwarded-for", "x-real-ip"] {
        assert!(names.contains(&h.to_string()), "{h} in {names:?}");
    }
    for spelling in ["x_user_id", "X_User_Id", "x-user_groups", "X_FORWARDED_FOR", "x_client_type"] {
        assert!(is_protected_spelling(spelling, &protected), "{spelling}");
    }
    assert!(!is_protected_spelling("x_user_idx", &protected));
    assert!(!is_protected_spelling("x-user-id", &protected), "the exact name is removed by name");
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
    assert!(!ok("POST", &[("origin", "null"), ("referer", "http://localhost:3000/")]), "null is refused");
    assert!(!ok("get", &[]), "methods are case-sensitive: get is not GET");
    assert!(!ok("PROPFIND", &[]));
    assert!(ok("HEAD", &[]) && ok("OPTIONS", &[]));
    assert!(ok("POST", &[("sec-fetch-site", "same-origin")]));
    assert!(!ok("POST", &[("sec-fetch-site", "cross-site")]));
    assert!(
        csrf::check("POST", &headers(&[("origin", "https://gw.example")]), None, Some("https://gw.example")).is_ok()
    );
}

#[test]
fn one_credential_per_request() {
    let c = config();
    let read = |pairs: &[(&'static str, &str)]| {
        let h = headers(pairs);
        credential(&h, &c.session)
            .map(|o| o.map(|c| (c.token.to_string(), c.source, c.with_cookie)))
            .map_err(|e| e.status)
    };
    assert_eq!(read(&[("authorization", "Bearer abc")]), Ok(Some(("abc".into(), TokenSource::Bearer, false))));
    assert_eq!(read(&[("cookie", "a=1"), ("cookie", "sid=def")]), Ok(Some(("def".into(), TokenSource::Cookie, true))));
    assert_eq!(
        read(&[("authorization", "Bearer abc"), ("cookie", "sid=abc")]),
        Ok(Some(("abc".into(), TokenSource::Bearer, true))),
        "the same token twice"
    );
    assert_eq!(read(&[("authorization", "Basic abc")]), Ok(None));
    assert_eq!(read(&[("authorization", "Bearer ")]), Err(400));
    assert_eq!(read(&[("authorization", "Bearer\tabc")]), Err(400));
    assert_eq!(read(&[("authorization", "bearer abc")]), Ok(Some(("abc".into(), TokenSource::Bearer, false))));
    assert_eq!(read(&[("authorization", "Bearer a b")]), Err(400));
    assert_eq!(read(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]), Err(400));
    assert_eq!(read(&[("authorization", "Bearer a"), ("authorization", "Bearer a")]), Err(400));
    assert_eq!(read(&[("cookie", "sid=a; sid=b")]), Err(400));
    assert_eq!(read(&[("authorization", "Bearer abc"), ("cookie", "sid=def")]), Err(400), "they disagree");
}
