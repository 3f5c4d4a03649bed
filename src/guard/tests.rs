use super::identity::identity_values;
use super::*;
use crate::config::parse;
use crate::routing::policy::policy_for;
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
            allow: vec![],
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

// The guard's decisions on real tokens. First over a fixed key set, with no HTTP at all; then
// through `App::new` against the dev tenant (the login tests' harness), keys fetched as in
// production.

use crate::jwt;
use crate::jwt::signing::Signer;
use crate::login::tests as logins;
use crate::revocations::Revocations;
use crate::store::MemoryStore;
use crate::tenant_client::Jwks;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;

/// The guard of gateway.yaml's configuration, over `signer`'s key alone.
async fn guard_over(signer: &Signer) -> Guard {
    let config = Arc::new(config());
    let set: JwkSet = serde_json::from_value(json!({ "keys": [signer.jwk().clone()] })).unwrap();
    let g = &config.guard;
    let jwks = Arc::new(Jwks::from_keys(&config.tenant, &set, g.algorithms.clone()).await);
    let policy = jwt::TokenChecks::access_tokens(&config);
    let revocations = Arc::new(Revocations::new(1000));
    let verifier = Arc::new(Verifier::new(jwks, policy, g.clone(), g.token_cache_bytes, revocations.clone()));
    let sessions = Arc::new(SessionService::new(config.clone(), Arc::new(MemoryStore::new()), revocations, None));
    Guard::new(config, verifier, sessions, None)
}

/// Claims gateway.yaml's guard accepts, expiring at `exp`.
fn claims(exp: u64) -> Value {
    json!({
        "iss": config().tenant.issuer, "sub": "auth0|42", "aud": "https://api.authgate.local",
        "iat": jsonwebtoken::get_current_timestamp() - 60, "exp": exp, "azp": "mobile-app",
        "email": "a@b.c", "email_verified": true, "https://authgate.local/groups": ["admins", "staff"],
    })
}

fn in_an_hour() -> u64 {
    jsonwebtoken::get_current_timestamp() + 3600
}

fn bearer(token: &str) -> HeaderMap {
    let value = format!("Bearer {token}");
    headers(&[("authorization", value.as_str())])
}

/// The identity headers the backend would get, as the proxy sets them.
fn identity(guard: &Guard, pass: &Pass) -> Vec<(String, String)> {
    let verified = pass.verified.as_ref().expect("a verified token");
    guard
        .config
        .guard
        .identity_headers
        .iter()
        .enumerate()
        .filter_map(|(i, (name, _))| Some((name.to_string(), verified.identity(i)?.to_string())))
        .collect()
}

/// `token` with one claim changed and its signature kept.
fn with_claim(token: &str, name: &str, value: Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = jwt::unverified_claims(token).expect("a JWT");
    claims.insert(name.to_string(), value);
    format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()), parts[2])
}

async fn refusal(guard: &Guard, token: &str) -> u16 {
    guard.check(Policy::Authenticated, "GET", &bearer(token)).await.expect_err("refused").status
}

#[tokio::test]
async fn a_token_signed_by_the_fixed_key_passes_with_the_identity_headers() {
    let signer = Signer::generate();
    let guard = guard_over(&signer).await;
    let pass = guard.check(Policy::Authenticated, "GET", &bearer(&signer.sign(&claims(in_an_hour())))).await.unwrap();
    assert_eq!(pass.subject(), Some("auth0|42"));
    let mut got = identity(&guard, &pass);
    got.sort();
    let want = [("x-user-email", "a@b.c"), ("x-user-groups", "admins,staff"), ("x-user-id", "auth0|42")];
    assert_eq!(got, want.map(|(h, v)| (h.to_string(), v.to_string())));
    assert!(!pass.drop_authorization && !pass.drop_session_cookie);
}

#[tokio::test]
async fn tokens_the_fixed_key_did_not_sign_are_refused_without_a_fetch() {
    let signer = Signer::generate();
    let guard = guard_over(&signer).await;
    let other = Signer::generate();
    let valid = claims(in_an_hour());
    assert_eq!(refusal(&guard, &other.sign_with_kid(&valid, &signer.kid)).await, 401, "another key, same kid");
    assert_eq!(refusal(&guard, &other.sign(&valid)).await, 401, "an unknown kid: no refetch, no 503");
    let token = signer.sign(&valid);
    assert_eq!(refusal(&guard, &with_claim(&token, "sub", json!("auth0|admin"))).await, 401, "a changed claim");
}

#[tokio::test]
async fn expired_and_unsigned_tokens_are_refused() {
    let signer = Signer::generate();
    let guard = guard_over(&signer).await;
    let an_hour_ago = jsonwebtoken::get_current_timestamp() - 3600;
    assert_eq!(refusal(&guard, &signer.sign(&claims(an_hour_ago))).await, 401, "expired");
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let header = json!({"alg": "none", "typ": "JWT", "kid": signer.kid});
    let unsigned = format!("{}.{}.", part(&header), part(&claims(in_an_hour())));
    assert_eq!(refusal(&guard, &unsigned).await, 401, "alg: none");
}

#[tokio::test]
async fn a_login_token_passes_the_guard_with_the_user_id() {
    let h = logins::Harness::start().await;
    let token = h.access_token().await;
    let policy = policy_for(&h.app.config.routes, "GET", "/api/me");
    let pass = h.app.guard.check(policy, "GET", &bearer(&token)).await.unwrap();
    let user = h.dev.subject_of(logins::DEMO_EMAIL);
    assert_eq!(pass.subject(), Some(user.as_str()));
    assert!(identity(&h.app.guard, &pass).contains(&("x-user-id".to_string(), user)));
}

#[tokio::test]
async fn a_tampered_login_token_is_refused() {
    let h = logins::Harness::start().await;
    let token = h.access_token().await;
    let forged = with_claim(&token, "sub", json!("auth0|someone-else"));
    let refused = h.app.guard.check(Policy::Authenticated, "GET", &bearer(&forged)).await.unwrap_err();
    assert_eq!((refused.status, &*refused.error), (401, "invalid_token"));
}

#[tokio::test]
async fn an_authenticated_route_without_a_token_is_refused() {
    let h = logins::Harness::start().await;
    let policy = policy_for(&h.app.config.routes, "GET", "/api/me");
    let refused = h.app.guard.check(policy, "GET", &HeaderMap::new()).await.unwrap_err();
    assert_eq!((refused.status, &*refused.error), (401, "invalid_token"));
    assert!(refused.headers.iter().any(|(n, _)| *n == "www-authenticate"));
}

#[tokio::test]
async fn a_public_route_passes_without_identity() {
    let h = logins::Harness::start().await;
    let policy = policy_for(&h.app.config.routes, "GET", "/public/x");
    assert_eq!(policy, Policy::Public);
    for request in [HeaderMap::new(), bearer("not-a-token")] {
        let pass = h.app.guard.check(policy, "GET", &request).await.unwrap();
        assert!(pass.verified.is_none() && pass.subject().is_none());
    }
}

#[tokio::test]
async fn the_website_cookie_passes_a_get_but_not_a_cross_site_post() {
    let h = logins::Harness::start().await;
    let reply = h.password_login("website-secret", &[]).await;
    let set_cookie = logins::header(&reply, "set-cookie").expect("a session cookie");
    let cookie = set_cookie.split(';').next().unwrap();
    let pass = h.app.guard.check(Policy::Authenticated, "GET", &headers(&[("cookie", cookie)])).await.unwrap();
    assert_eq!(pass.subject(), Some(h.dev.subject_of(logins::DEMO_EMAIL).as_str()));
    assert!(pass.drop_authorization, "the cookie is the credential");
    let cross_site = headers(&[("cookie", cookie), ("origin", "https://evil.example")]);
    let refused = h.app.guard.check(Policy::Authenticated, "POST", &cross_site).await.unwrap_err();
    assert_eq!(refused.status, 403);
}
