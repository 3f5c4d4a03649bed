use super::*;

const MINIMAL: &str = r#"
backend: { url: "http://127.0.0.1:3000" }
tenant: { url: "https://tenant.example.com" }
clients:
  web:
    secret: web-secret-1
    client_id: web
    client_secret: cs
    audience: https://api.example.com
    scopes: [openid, website]
    connections: [db]
"#;

fn no_env(_: &str) -> Option<String> {
    None
}

fn errors_of(yaml: &str) -> String {
    match parse(yaml, "test.yaml", &no_env) {
        Ok(_) => panic!("expected an invalid configuration"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_repository_gateway_yaml_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let c = parse(&text, "gateway.yaml", &no_env).unwrap();
    let names: Vec<_> = c.clients.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["admin", "mobile", "service", "website"]);
    assert!(c.clients[0].management && !c.clients[1].management);
    let website = c.clients.iter().find(|c| c.name == "website").unwrap();
    assert!(website.website);
    assert!(!website.scopes.contains(&"website".to_string()));
    assert_eq!(website.same_site, Some(SameSite::Lax));
    assert!(c.tenant.embedded && c.backend.embedded_echo);
}

#[test]
fn defaults_are_applied() {
    let c = parse(MINIMAL, "t", &no_env).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.admin_listen.to_string(), "127.0.0.1:9090");
    assert_eq!(c.max_body_bytes, 64 * 1024);
    assert_eq!(c.tenant.issuer, "https://tenant.example.com/");
    assert_eq!(c.tenant.token_url.as_str(), "https://tenant.example.com/oauth/token");
    assert_eq!(c.tenant.jwks_url.as_str(), "https://tenant.example.com/.well-known/jwks.json");
    assert_eq!(c.session.duration_seconds, 86_400);
    assert_eq!(c.session.cookie_name, "sid");
    assert_eq!(c.clients[0].default_connection.as_deref(), Some("db"));
    assert_eq!(c.clients[0].token_response, TokenResponse::CamelCase);
}

#[test]
fn session_duration_falls_back_to_the_environment() {
    let env = |n: &str| (n == "SESSION_DURATION_SECONDS").then(|| "600".to_string());
    assert_eq!(parse(MINIMAL, "t", &env).unwrap().session.duration_seconds, 600);
}

#[test]
fn secrets_come_from_the_environment() {
    let yaml = MINIMAL.replace("web-secret-1", "${WEB_SECRET}");
    let env = |n: &str| (n == "WEB_SECRET").then(|| "from-the-env".to_string());
    let c = parse(&yaml, "t", &env).unwrap();
    assert_eq!(c.clients[0].secret_digests[0], secret_digest(b"from-the-env"));
    let err = errors_of(&yaml);
    assert!(err.contains("clients.web.secret: environment variable WEB_SECRET is not set"), "{err}");
}

#[test]
fn default_connection_outside_the_list_is_refused() {
    let err = errors_of(&MINIMAL.replace("connections: [db]", "connections: [db]\n    default_connection: db2"));
    assert!(err.contains(r#"clients.web.default_connection: "db2" is not in connections"#), "{err}");
}

#[test]
fn unknown_keys_are_refused_with_their_path() {
    let err = errors_of(&MINIMAL.replace("client_id: web", "client_id: web\n    colour: blue"));
    assert!(err.contains("clients.web") && err.contains("colour"), "{err}");
    let err = errors_of(&format!("{MINIMAL}\nlisten_port: 3\n"));
    assert!(err.contains("listen_port"), "{err}");
}

#[test]
fn the_same_secret_on_two_clients_is_refused_without_printing_it() {
    let yaml = format!(
        "{MINIMAL}  app:\n    secret: [other-secret, web-secret-1]\n    client_id: app\n    client_secret: cs\n    connections: [db]\n"
    );
    let err = errors_of(&yaml);
    assert!(err.contains(r#"clients.web.secret: the same secret is used by client "app""#), "{err}");
    assert!(!err.contains("web-secret-1"), "{err}");
}

#[test]
fn bad_values_are_all_reported() {
    let yaml = MINIMAL
        .replace("http://127.0.0.1:3000", "ftp://x")
        .replace("scopes: [openid, website]", "scopes: [openid]\n    same_site: Sideways\n    token_response: xml");
    let err = errors_of(&format!("{yaml}\nlisten: nowhere\nthreads: 0\n"));
    for needle in
        ["backend.url", "listen: \"nowhere\"", "threads", "same_site: \"Sideways\"", "token_response: \"xml\""]
    {
        assert!(err.contains(needle), "missing {needle} in {err}");
    }
}

#[test]
fn embedded_tenant_needs_a_dev_tenant_section() {
    let err = errors_of(
        &MINIMAL.replace("url: \"https://tenant.example.com\"", "url: \"http://127.0.0.1:1\", embedded: true"),
    );
    assert!(err.contains("tenant.embedded"), "{err}");
}

#[test]
fn secrets_are_not_in_debug_output() {
    let c = parse(MINIMAL, "t", &no_env).unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("web-secret-1") && !dbg.contains("\"cs\""), "{dbg}");
}

#[test]
fn yaml_syntax_errors_name_the_file() {
    let err = parse("clients: [", "broken.yaml", &no_env).unwrap_err().to_string();
    assert!(err.starts_with("broken.yaml: not valid YAML"), "{err}");
}

#[test]
fn clients_are_selected_by_any_of_their_secrets() {
    let yaml = MINIMAL.replace("secret: web-secret-1", "secret: [web-secret-1, web-secret-2]");
    let c = parse(&yaml, "t", &no_env).unwrap();
    assert_eq!(c.client_by_secret(b"web-secret-1").unwrap().name, "web");
    assert_eq!(c.client_by_secret(b"web-secret-2").unwrap().name, "web");
    assert!(c.client_by_secret(b"web-secret-").is_none());
    assert!(c.client_by_secret(b"").is_none());
}

#[test]
fn guard_defaults_and_audiences_from_the_clients() {
    let c = parse(MINIMAL, "t", &no_env).unwrap();
    assert_eq!(c.guard.audiences, ["https://api.example.com"]);
    assert_eq!(c.guard.algorithms, [jsonwebtoken::Algorithm::RS256]);
    assert_eq!(c.guard.leeway_seconds, 30);
    assert_eq!(c.guard.jwks_ttl.as_secs(), 600);
    assert_eq!(c.routes.default, Policy::Authenticated);
    let headers: Vec<String> = c.guard.identity_headers.iter().map(|(h, _)| h.to_string()).collect();
    assert_eq!(headers, ["x-user-email", "x-user-groups", "x-user-id"]);
}

#[test]
fn symmetric_and_none_algorithms_are_refused() {
    for alg in ["HS256", "none", "XX1"] {
        let err = errors_of(&format!("{MINIMAL}\nguard: {{ algorithms: [{alg}] }}\n"));
        assert!(err.contains(&format!("guard.algorithms: \"{alg}\" is not allowed")), "{err}");
    }
}

#[test]
fn tokens_need_an_audience_unless_every_route_is_public() {
    let no_aud = MINIMAL.replace("    audience: https://api.example.com\n", "");
    assert!(errors_of(&no_aud).contains("guard.audiences"));
    assert!(parse(&format!("{no_aud}\nroutes: {{ default: public }}\n"), "t", &no_env).is_ok());
}

#[test]
fn route_rules_and_identity_headers_are_checked() {
    let err = errors_of(&format!(
        "{MINIMAL}\nroutes:\n  rules: [{{prefix: api, policy: open}}, {{prefix: /x, methods: [\"GE T\"], policy: public}}]\nguard:\n  identity_headers: {{ secret: sub }}\n"
    ));
    for needle in [
        "routes.rules[0].prefix",
        "routes.rules[0].policy: \"open\"",
        "routes.rules[1].methods",
        "guard.identity_headers.secret",
    ] {
        assert!(err.contains(needle), "{needle} missing in {err}");
    }
}

#[test]
fn allowed_origins_must_be_origins() {
    let err = errors_of(
        &MINIMAL.replace("connections: [db]", "connections: [db]\n    allowed_origins: [https://a.example/path]"),
    );
    assert!(err.contains("clients.web.allowed_origins"), "{err}");
}

#[test]
fn limits_defaults_and_errors() {
    let c = parse(MINIMAL, "t", &no_env).unwrap();
    assert_eq!((c.limits.login.count, c.limits.login.burst), (10, 50));
    assert_eq!((c.limits.login_attempts.count, c.limits.login_attempts.period.as_secs()), (20, 60));
    assert!(c.limits.backend_per_ip.is_none() && c.limits.backend_per_user.is_none());
    assert_eq!((c.limits.max_failures, c.limits.block.as_secs()), (10, 900));
    let err = errors_of(&format!(
        "{MINIMAL}\nlimits:\n  trusted_proxies: [10.0.0.0/33]\n  login: {{ rate: 10/day }}\n  backend_per_ip: {{ rate: 5/s, burst: 0 }}\n"
    ));
    for needle in
        ["limits.trusted_proxies: \"10.0.0.0/33\"", "limits.login: \"10/day\"", "limits.backend_per_ip: burst"]
    {
        assert!(err.contains(needle), "{needle} missing in {err}");
    }
    let c =
        parse(&format!("{MINIMAL}\nlimits: {{ trusted_proxies: [10.0.0.0/8, 127.0.0.1] }}\n"), "t", &no_env).unwrap();
    assert_eq!(c.limits.trusted_proxies.len(), 2);
}

#[test]
fn a_block_is_from_a_second_to_thirty_days() {
    for bad in ["0", "2592001", "99999999999999"] {
        let err = errors_of(&format!("{MINIMAL}limits:\n  brute_force: {{ block_seconds: {bad} }}\n"));
        assert!(err.contains("limits.brute_force.block_seconds: must be from 1 to 2592000"), "{bad}: {err}");
    }
    let ok = parse(&format!("{MINIMAL}limits:\n  brute_force: {{ block_seconds: 2592000 }}\n"), "t", &|_| None);
    assert_eq!(ok.unwrap().limits.block, std::time::Duration::from_secs(2_592_000));
}
