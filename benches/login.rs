//! Micro-benchmarks of the login hot path's plain pieces: body parsing, client selection by
//! secret, scope computation, and the session cookie.

use authgate::config::parse;
use authgate::login::{body_kind, parse_body, upstream_scope, BodyKind};
use authgate::session::{session_cookie, session_cookies};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn demo_config() -> authgate::config::Config {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.yaml")).unwrap();
    parse(&text, "gateway.yaml", &|_| None).unwrap()
}

fn bench(c: &mut Criterion) {
    let config = demo_config();
    let form = b"grant_type=password&username=demo%40example.com&password=demo-password&scope=openid%20offline_access";
    let json = br#"{"grant_type":"password","username":"demo@example.com","password":"demo-password","audience":null,"scope":"openid offline_access"}"#;
    c.bench_function("parse form body", |b| b.iter(|| parse_body(BodyKind::Form, black_box(form)).unwrap()));
    c.bench_function("parse json body", |b| b.iter(|| parse_body(BodyKind::Json, black_box(json)).unwrap()));
    c.bench_function("content type", |b| {
        b.iter(|| body_kind(black_box(Some("application/json; charset=utf-8"))).unwrap())
    });
    c.bench_function("client by secret (3 clients)", |b| {
        b.iter(|| config.client_by_secret(black_box(b"service-secret")).unwrap())
    });
    let client = &config.clients[0];
    c.bench_function("upstream scope", |b| {
        b.iter(|| upstream_scope(black_box(Some("email openid email offline_access website")), client))
    });
    let token = "eyJhbGciOiJSUzI1NiJ9.".to_string() + &"a".repeat(600) + ".sig";
    c.bench_function("build session cookie", |b| {
        b.iter(|| session_cookie(&config.session, black_box(&token), client.same_site))
    });
    let mut headers = http::HeaderMap::new();
    headers.insert("cookie", format!("theme=dark; _ga=GA1.2.3; sid={token}; lang=en").parse().unwrap());
    c.bench_function("read session cookie", |b| {
        b.iter(|| session_cookies(black_box(&headers), &config.session.cookie_name).unwrap().unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
