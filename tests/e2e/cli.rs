//! The command line: `check`, a bad configuration, and `dev-tenant` on its own.

use crate::common::*;
use std::process::{Command, Stdio};

fn authgate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_authgate")).args(args).env_remove("RUST_LOG").output().unwrap()
}

fn repo_file(name: &str) -> String {
    format!("{}/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn check_prints_a_summary_without_secrets() {
    let out = authgate(&["check", "--config", &repo_file("gateway.yaml")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    for needle in [
        "valid",
        "mobile: client_id mobile-app",
        "website:",
        "session cookie",
        "oauth2 tokens",
        "partners-db",
        "embedded dev tenant",
    ] {
        assert!(stdout.contains(needle), "{needle} missing in:\n{stdout}");
    }
    for secret in ["mobile-secret", "website-secret", "service-secret", "client-secret", "demo-password"] {
        assert!(!stdout.contains(secret), "{secret} printed:\n{stdout}");
    }
}

#[test]
fn an_invalid_configuration_exits_64_naming_key_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(repo_file("gateway.yaml")).unwrap();
    std::fs::write(
        &path,
        text.replace("default_connection: Username-Password-Authentication", "default_connection: db2"),
    )
    .unwrap();
    for args in [vec!["check", "--config"], vec!["--config"]] {
        let mut args = args.clone();
        let p = path.to_str().unwrap();
        args.push(p);
        let out = authgate(&args);
        assert_eq!(out.status.code(), Some(64));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(r#"clients.mobile.default_connection: "db2" is not in connections"#), "{stderr}");
    }
    let out = authgate(&["check", "--config", "/nonexistent/gateway.yaml"]);
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn a_missing_environment_variable_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env.yaml");
    let text = std::fs::read_to_string(repo_file("gateway.yaml")).unwrap();
    std::fs::write(&path, text.replace("${MOBILE_SECRET:-mobile-secret}", "${AUTHGATE_TEST_UNSET_SECRET}")).unwrap();
    let out = authgate(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AUTHGATE_TEST_UNSET_SECRET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_tenant_runs_alone_and_serves_a_gateway_in_another_process() {
    let reserved = ReservedPort::free();
    let port = reserved.port;
    let listen = format!("127.0.0.1:{port}");
    // The demo names the gateway as the issuer (for SDKs); here the tenant is its own issuer.
    let demo: String = std::fs::read_to_string(repo_file("gateway.yaml"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("issuer:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.yaml");
    std::fs::write(&config, &demo).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_authgate"))
        .args(["dev-tenant", "--listen", &listen, "--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(&listen).is_err() {
            assert!(child.try_wait().unwrap().is_none(), "dev tenant exited");
            assert!(std::time::Instant::now() < deadline, "dev tenant did not listen");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Kill(child)
    };
    let tenant = format!("http://{listen}");
    let (status, conf) =
        json(http().get(format!("{tenant}/.well-known/openid-configuration")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(conf["issuer"], format!("{tenant}/"));
    let (_, jwks) = json(http().get(format!("{tenant}/.well-known/jwks.json")).send().await.unwrap()).await;
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    assert!(jwks["keys"][0]["kid"].is_string() && jwks["keys"][0]["n"].is_string());

    // The demo gateway.yaml's clients, pointed at this tenant from another process.
    let (bl, baddr) = listener().await;
    tokio::spawn(authgate::dev::echo::serve(bl));
    let yaml = demo
        .replace("127.0.0.1:8080", "127.0.0.1:{LISTEN}")
        .replace("127.0.0.1:9090", "127.0.0.1:{ADMIN}")
        .replace("http://127.0.0.1:8081", &tenant)
        .replace("http://127.0.0.1:8082", &format!("http://{baddr}"))
        .replace("embedded: true", "embedded: false")
        .replace("embedded_echo: true", "embedded_echo: false");
    let g = Gateway::start(&yaml).await;
    let (status, body) = json(
        post_form(
            &format!("{}/oauth/token", g.url),
            Some("mobile-secret"),
            &password_form("demo@example.com", DEMO_PASSWORD),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access = claims(body["accessToken"].as_str().unwrap());
    assert_eq!(access["iss"], format!("{tenant}/"));
    // /userinfo of the dev tenant knows the user behind the token.
    let (status, me) = json(
        http()
            .get(format!("{tenant}/userinfo"))
            .bearer_auth(body["accessToken"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, me["email"].as_str()), (200, Some("demo@example.com")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_names_the_deciding_rule_for_a_real_token_and_exits_by_the_decision() {
    // The demo's rules, and a token of the demo user from the demo's own tenant.
    let s = Stack::start_with(|y| {
        let rules = "    - { prefix: /public/, policy: public }\n";
        let with = "    - { prefix: /reports, policy: authenticated, allow: [{ permissions: ['read:reports'] }] }\n";
        edit(&y, rules, &format!("{with}{rules}"))
    })
    .await;
    let (status, body) = s.login("mobile-secret").await;
    assert_eq!(status, 200);
    let token = body["accessToken"].as_str().unwrap();
    let config = s.gateway.config_path.to_str().unwrap();
    let out = authgate(&["explain", "--config", config, "--path", "/public/../reports/q3", "--token", token]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    for needle in [
        "normalised path: /reports/q3",
        "decided by: rules[0]:/reports",
        "missing permissions",
        "forbidden",
        "not checked",
    ] {
        assert!(stdout.contains(needle), "{needle} missing in:\n{stdout}");
    }
    assert!(!stdout.contains(token), "the token is not printed");
    let out = authgate(&[
        "explain",
        "--config",
        config,
        "--path",
        "/reports/q3",
        "--claims",
        r#"{"permissions":["read:reports"]}"#,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let out = authgate(&["explain", "--config", config, "--path", "/reports/q3", "--claims", "[1]"]);
    assert_eq!(out.status.code(), Some(1), "bad input: {}", String::from_utf8_lossy(&out.stderr));
}
