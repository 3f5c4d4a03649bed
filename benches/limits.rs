//! The rate-limit checks on the hot path: a login (client+IP, then username+IP) and a backend
//! request per IP, over many distinct keys, plus client-IP resolution behind a trusted proxy.

use authgate::limits::{Limits, LimitsConfig, Rate};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let limits = Limits::new(LimitsConfig {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        login: Rate::parse("1000000/s", None).unwrap(),
        login_attempts: Rate::parse("1000000/s", None).unwrap(),
        refresh_per_user: Rate::parse("1000000/s", None).unwrap(),
        backend_per_ip: Some(Rate::parse("1000000/s", None).unwrap()),
        backend_per_user: None,
        max_failures: 10,
        block: Duration::from_secs(900),
    });
    // The checks are async (the shared store awaits Redis); in memory they never wait.
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let ips: Vec<IpAddr> = (0..10_000u32).map(|i| IpAddr::from((i + (11 << 24)).to_be_bytes())).collect();
    let mut i = 0;
    c.bench_function("backend limit per IP (10k distinct IPs)", |b| {
        b.iter(|| {
            i = (i + 1) % ips.len();
            rt.block_on(limits.precheck_backend_ip(black_box(ips[i]))).unwrap()
        })
    });
    c.bench_function("login limits (client+IP, username+IP)", |b| {
        b.iter(|| {
            i = (i + 1) % ips.len();
            rt.block_on(limits.check_login("mobile", ips[i])).unwrap();
            rt.block_on(limits.check_attempt(black_box("Demo@Example.com"), ips[i])).unwrap()
        })
    });
    let mut headers = http::HeaderMap::new();
    headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.1".parse().unwrap());
    let peer: IpAddr = "127.0.0.1".parse().unwrap();
    c.bench_function("client IP behind a trusted proxy", |b| b.iter(|| limits.client_ip(black_box(peer), &headers)));
}

criterion_group!(benches, bench);
criterion_main!(benches);
