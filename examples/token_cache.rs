//! The verified-token cache under churn: the gateway's resident memory at idle and after N
//! distinct valid tokens (each sent once, so each is verified and cached), with the cache at
//! its default size and at a size that holds all N. Loopback only; the dev tenant runs in
//! this process (so tokens can be minted with its key), the gateway is the real binary.
//!
//! Usage: cargo run --release --example token_cache -- target/release/authgate [N]

use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// A child process killed and reaped when dropped.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let binary = args.get(1).cloned().unwrap_or_else(|| "target/release/authgate".into());
    let n: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(100_000);

    // The demo, with the tenant as its own issuer and not embedded (it runs in this process).
    let demo: String = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.yaml"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("issuer:") && !l.starts_with("public_url:"))
        .map(|l| {
            if l.trim_start().starts_with("embedded: true") {
                "  embedded: false\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let tenant_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tenant_url = format!("http://{}", tenant_listener.local_addr().unwrap());
    let config = authgate::config::parse(&demo, "gateway.yaml", &|_| None).unwrap();
    let tenant = authgate::dev::tenant::from_config(&config, &tenant_url).unwrap();
    tokio::spawn(tenant.clone().serve(tenant_listener));

    let started = Instant::now();
    let signer = tenant.signer();
    let issuer = tenant.issuer().to_string();
    let now = jsonwebtoken::get_current_timestamp();
    let mint = |range: std::ops::Range<usize>| {
        let (signer, issuer) = (signer.clone(), issuer.clone());
        std::thread::spawn(move || {
            range
                .map(|i| {
                    signer.sign(&json!({
                        "iss": issuer, "sub": format!("auth0|user{i:07}"), "aud": ["https://api.authgate.local"],
                        "iat": now, "exp": now + 3600, "azp": "mobile-app", "email": format!("user{i}@example.com"),
                        "email_verified": true, "https://authgate.local/groups": ["staff"], "jti": i.to_string(),
                    }))
                })
                .collect::<Vec<String>>()
        })
    };
    let halves = [mint(0..n / 2), mint(n / 2..n)];
    let tokens: Vec<String> = halves.into_iter().flat_map(|h| h.join().unwrap()).collect();
    println!("minted {n} tokens in {:.1} s", started.elapsed().as_secs_f64());

    for cache in ["", "  token_cache_bytes: 67108864\n"] {
        let (listen, admin, echo) = (free_port(), free_port(), free_port());
        let yaml = demo
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{listen}"))
            .replace("127.0.0.1:9090", &format!("127.0.0.1:{admin}"))
            .replace("http://127.0.0.1:8081", &tenant_url)
            .replace("127.0.0.1:8082", &format!("127.0.0.1:{echo}"))
            .replace("guard:\n", &format!("guard:\n{cache}"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.yaml");
        std::fs::File::create(&path).unwrap().write_all(yaml.as_bytes()).unwrap();
        let child = Command::new(&binary)
            .arg("--config")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the gateway binary");
        // Stopped by its PID when this iteration ends, a panic included.
        let child = Stopped(child);
        let pid = child.0.id();
        let http = reqwest::Client::new();
        let readyz = format!("http://127.0.0.1:{admin}/readyz");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !http.get(&readyz).send().await.is_ok_and(|r| r.status() == 200) {
            assert!(Instant::now() < deadline, "the gateway did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let url = format!("http://127.0.0.1:{listen}/api/me");
        // Warm up with a few tokens, so connection buffers and the runtime are in the baseline.
        for t in tokens.iter().take(100) {
            http.get(&url).bearer_auth(t).send().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = rss_mib(pid);
        let sent = Instant::now();
        let chunks: Vec<Vec<String>> = tokens.chunks(n.div_ceil(16)).map(|c| c.to_vec()).collect();
        let tasks: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let (http, url) = (http.clone(), url.clone());
                tokio::spawn(async move {
                    let mut ok = 0usize;
                    for t in chunk {
                        ok += usize::from(http.get(&url).bearer_auth(t).send().await.is_ok_and(|r| r.status() == 200));
                    }
                    ok
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += t.await.unwrap();
        }
        let secs = sent.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss_mib(pid);
        let label = if cache.is_empty() { "default cache (16 MiB)" } else { "cache of 64 MiB" };
        println!(
            "{label}: {ok}/{n} answered 200 in {secs:.1} s ({:.0} req/s); RSS idle {idle:.1} MiB, after {after:.1} MiB, \
             {:.0} bytes per token sent",
            n as f64 / secs,
            (after - idle) * 1024.0 * 1024.0 / n as f64
        );
        drop(child);
    }
}
