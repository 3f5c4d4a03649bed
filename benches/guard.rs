//! Token verification on the guarded path: an RSA verification (uncached) versus the verified
//! token cache, and the whole guard decision for a request with a cached token.

use authgate::app::App;
use authgate::config::parse;
use authgate::jwt;
use authgate::proxy::decide;
use criterion::{criterion_group, criterion_main, Criterion};
use http::HeaderMap;
use serde_json::json;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let tenant_url = format!("http://{}", listener.local_addr().unwrap());
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:8081", &tenant_url)
        .replace("embedded: true", "embedded: false");
    let config = parse(&text, "gateway.yaml", &|_| None).unwrap();
    let dev = authgate::dev::tenant::from_config(&config, &tenant_url).unwrap();
    rt.spawn(dev.clone().serve(listener));
    let app = App::new(config).unwrap();

    let now = jsonwebtoken::get_current_timestamp();
    let token = dev.signer().sign(&json!({
        "iss": dev.issuer(), "sub": "auth0|bench", "aud": ["https://api.authgate.local"], "iat": now,
        "exp": now + 3600, "azp": "mobile-app", "email": "bench@example.com",
        "https://authgate.local/groups": ["admins", "staff"],
    }));
    let policy = jwt::TokenChecks {
        algorithms: vec![jsonwebtoken::Algorithm::RS256],
        issuer: dev.issuer().to_string(),
        audiences: Some(vec!["https://api.authgate.local".into()]),
        leeway_seconds: 30,
        expired_grace_seconds: None,
    };
    rt.block_on(jwt::verify(&token, &app.jwks, &policy)).expect("the token verifies");

    c.bench_function("verify token, uncached (RS256)", |b| {
        b.iter(|| rt.block_on(jwt::verify(black_box(&token), &app.jwks, &policy)).unwrap())
    });
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let routes = &app.config.routes;
    let decide = |path: &str| decide(routes, routes.strictness, "GET", path).unwrap().rule.policy;
    assert_eq!(
        rt.block_on(app.guard.check(decide("/api/me"), "GET", &headers)).unwrap().subject(),
        Some("auth0|bench")
    );
    c.bench_function("route decision, normal path", |b| b.iter(|| decide(black_box("/api/things/42"))));
    c.bench_function("route decision, path to normalise", |b| {
        b.iter(|| decide(black_box("/public/./x/../../api/%7Ethings//42")))
    });
    c.bench_function("guard check, cached token (verify + identity)", |b| {
        b.iter(|| rt.block_on(app.guard.check(decide(black_box("/api/me")), "GET", black_box(&headers))).unwrap())
    });
    c.bench_function("guard check, public route", |b| {
        b.iter(|| {
            rt.block_on(app.guard.check(decide(black_box("/public/x")), "GET", black_box(&HeaderMap::new()))).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
