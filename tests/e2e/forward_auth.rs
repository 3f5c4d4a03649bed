//! The forward-auth endpoint behind a real nginx (Debian's package, started here on free
//! ports, stopped by PID): `auth_request` to the gateway, the echo backend behind nginx.

use crate::common::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// nginx in front of `backend_url`, asking `gateway_url`'s `/authz/auth-request` first and
/// copying the identity headers of its answer upstream.
struct Nginx {
    child: Child,
    url: String,
    _port: ReservedPort,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(gateway_url: &str, backend_url: &str) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = ReservedPort::free();
        let d = dir.path().display();
        let conf = format!(
            "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             server {{\n    listen 127.0.0.1:{port};\n    \
             location = /_authgate {{\n      internal;\n      proxy_pass {gateway_url}/authz/auth-request;\n      \
             proxy_pass_request_body off;\n      proxy_set_header Content-Length \"\";\n      \
             proxy_set_header X-Original-URI $request_uri;\n      proxy_set_header X-Original-Method $request_method;\n      \
             proxy_set_header X-User-Id \"\";\n      proxy_set_header X-User-Groups \"\";\n      proxy_set_header X-User-Email \"\";\n    }}\n    \
             location / {{\n      auth_request /_authgate;\n      \
             auth_request_set $user_id $upstream_http_x_user_id;\n      auth_request_set $user_groups $upstream_http_x_user_groups;\n      \
             proxy_set_header X-User-Id $user_id;\n      proxy_set_header X-User-Groups $user_groups;\n      \
             proxy_pass {backend_url};\n    }}\n  }}\n}}\n",
            port = port.port
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx is installed (.ci/run installs it)");
        let url = format!("http://127.0.0.1:{}", port.port);
        let started = Instant::now();
        let up = std::iter::from_fn(|| {
            std::thread::sleep(Duration::from_millis(50));
            Some(std::net::TcpStream::connect(("127.0.0.1", port.port)).is_ok())
        })
        .take_while(|_| started.elapsed() < Duration::from_secs(10))
        .any(|listening| listening);
        let log = || std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
        assert!(up, "nginx did not start:\n{}", log());
        Nginx { child, url, _port: port, _dir: dir }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ENABLED: &str = "limits:\n  trusted_proxies: [127.0.0.1/32]\nforward_auth: { enabled: true }\n";
const ADMIN_RULE: &str = "    - { prefix: /admin, policy: authenticated, allow: [{ groups: [admins] }] }\n";

/// A check request to the gateway's forward-auth `endpoint`, naming the original request in
/// `original` (header, value) pairs, with `token`.
async fn check(s: &Stack, endpoint: &str, original: &[(&str, &str)], token: &str) -> reqwest::Response {
    let request = http().get(format!("{}{endpoint}", s.gateway.url)).bearer_auth(token);
    let request = original.iter().fold(request, |r, (name, value)| r.header(*name, *value));
    request.send().await.unwrap()
}

async fn token(s: &Stack, email: &str, password: &str, connection: &str) -> String {
    let mut form = password_form(email, password);
    form.push(("connection", connection));
    let (status, body) =
        json(post_form(&format!("{}/oauth/token", s.gateway.url), Some("mobile-secret"), &form).await).await;
    assert_eq!(status, 200, "{body}");
    body["accessToken"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_asks_the_gateway_and_copies_the_identity_it_answers() {
    let s = Stack::start_with(|y| {
        let y = format!("{y}{ENABLED}");
        edit(&y, "  rules:\n", &format!("  rules:\n{ADMIN_RULE}"))
    })
    .await;
    let backend = s.gateway.config_text.split("backend: { url: \"").nth(1).unwrap().split('"').next().unwrap();
    let nginx = Nginx::start(&s.gateway.url, backend);
    let demo = token(&s, "demo@example.com", DEMO_PASSWORD, "Username-Password-Authentication").await;
    let partner = token(&s, "partner@example.com", "partner-password", "partners-db").await;
    let via = |path: &str| http().get(format!("{}{path}", nginx.url));

    // A token: nginx passes the request on with the identity the gateway answered, not the
    // one the client wrote.
    let resp = via("/api/me").bearer_auth(&demo).header("x-user-id", "forged").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let echoed: serde_json::Value = resp.json().await.unwrap();
    let user = echoed["headers"]["x-user-id"].as_str().unwrap_or_default();
    assert!(user.starts_with("auth0|") && user != "forged", "{echoed}");
    assert_eq!(echoed["headers"]["x-user-groups"], "admins,staff");

    // No token: 401 (nginx passes the gateway's 401 on); a rule the user does not meet: 403.
    assert_eq!(via("/api/me").send().await.unwrap().status(), 401);
    assert_eq!(via("/admin/x").bearer_auth(&demo).send().await.unwrap().status(), 200);
    assert_eq!(via("/admin/x").bearer_auth(&partner).send().await.unwrap().status(), 403);
    // Sent raw (reqwest would normalise it first): nginx asks about the URI as sent, which is
    // not in its normal form; it is refused, not decided as /admin/x or /public/x.
    let admin = format!("Authorization: Bearer {demo}");
    let raw = raw_get(&nginx.url, "GET", "/public/../admin/x", &[admin.as_str()]).await;
    assert_eq!(raw.status, Some(403), "{}", raw.body);
    assert_eq!(via("/public/x").send().await.unwrap().status(), 200, "a public route needs nothing");

    // The same question asked by a peer that is not a trusted proxy (127.0.0.2): the original
    // URI it names is not believed.
    let untrusted = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 2])).build().unwrap();
    let spoofed = untrusted
        .get(format!("{}/authz/auth-request", s.gateway.url))
        .header("x-original-uri", "/public/x")
        .send()
        .await
        .unwrap();
    assert_oauth_error(spoofed, 403, "access_denied").await;
    // From the trusted peer, the decision itself, with the identity headers.
    let original = [("x-original-uri", "/admin/x"), ("x-original-method", "GET")];
    let asked = check(&s, "/authz/auth-request", &original, &demo).await;
    assert_eq!(asked.status(), 200);
    assert!(asked.headers()["x-user-id"].to_str().unwrap().starts_with("auth0|"));
    let missing = http().get(format!("{}/authz/auth-request", s.gateway.url)).send().await.unwrap();
    assert_oauth_error(missing, 400, "invalid_request").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_proxy_would_forward_unchanged_is_refused_rather_than_decided_on_another_reading() {
    let s = Stack::start_with(|y| {
        let y = format!("{y}{ENABLED}");
        edit(&y, "  rules:\n", &format!("  rules:\n{ADMIN_RULE}"))
    })
    .await;
    let partner = token(&s, "partner@example.com", "partner-password", "partners-db").await;
    let bearer = format!("Authorization: Bearer {partner}");
    let url = s.gateway.url.clone();
    let ask = async |uri: &str, extra: &str| {
        let (uri, method) = (format!("X-Original-URI: {uri}"), "X-Original-Method: GET");
        let headers: Vec<&str> =
            [uri.as_str(), method, bearer.as_str(), extra].into_iter().filter(|h| !h.is_empty()).collect();
        raw_get(&url, "GET", "/authz/auth-request", &headers).await
    };
    // The proxy forwards these paths as they are: a backend routing on the raw prefix would
    // serve /admin. Decided on their normal form (/public/x), they would pass: refused.
    for uri in ["/admin/../public/x", "/admin/%2e%2e/public/x", "/admin//../public/x"] {
        let r = ask(uri, "").await;
        assert_eq!(r.status, Some(403), "{uri}: {}", r.body);
    }
    assert_eq!(ask("/public/x", "").await.status, Some(200));
    // Identity headers the client wrote cannot be stripped here: refused.
    for forged in ["X-User-Email: ceo@example.com", "X_User_Id: auth0|someone"] {
        let r = ask("/public/x", forged).await;
        assert_eq!(r.status, Some(400), "{forged}: {}", r.body);
    }
    // A method is required (a default GET would skip the cross-site check of a cookie POST).
    let r = raw_get(&s.gateway.url, "GET", "/authz/auth-request", &["X-Original-URI: /public/x"]).await;
    assert_eq!(r.status, Some(400));
    let twice = ["X-Original-URI: /public/x", "X-Original-URI: /admin/x", "X-Original-Method: GET"];
    assert_eq!(raw_get(&s.gateway.url, "GET", "/authz/auth-request", &twice).await.status, Some(400));
    // Envoy's check path itself, not in normal form: it would name another endpoint or path.
    let r = raw_get(&s.gateway.url, "POST", "/authz/ext-authz/../ext-authz/admin/x", &[&bearer]).await;
    assert_eq!(r.status, Some(400), "{}", r.body);
    // An answer carries every identity header, empty when the route needs no token.
    let public = ask("/public/x", "").await;
    assert_eq!(public.header("x-user-email"), Some(""), "{:?}", public.headers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traefik_and_envoy_conventions_and_the_endpoints_exist_only_when_enabled() {
    let s = Stack::start_with(|y| format!("{y}{ENABLED}")).await;
    let demo = token(&s, "demo@example.com", DEMO_PASSWORD, "Username-Password-Authentication").await;
    let original = [("x-forwarded-method", "DELETE"), ("x-forwarded-uri", "/api/things/1?x=1")];
    let traefik = check(&s, "/authz/forward-auth", &original, &demo).await;
    assert_eq!(traefik.status(), 200);
    let envoy =
        http().post(format!("{}/authz/ext-authz/api/things", s.gateway.url)).bearer_auth(&demo).send().await.unwrap();
    assert_eq!(envoy.status(), 200);
    let envoy = http().post(format!("{}/authz/ext-authz/api/things", s.gateway.url)).send().await.unwrap();
    assert_eq!(envoy.status(), 401);
    // Other spellings of /authz are the gateway's, never the backend's.
    assert_eq!(http().get(format!("{}/AUTHZ/auth-request", s.gateway.url)).send().await.unwrap().status(), 404);

    // Off (the default): /authz/… is an ordinary backend path.
    let off = Stack::start().await;
    let resp = http().get(format!("{}/authz/auth-request", off.gateway.url)).bearer_auth(&demo).send().await.unwrap();
    assert_eq!(resp.status(), 401, "a token of the other stack's tenant: the backend route's guard answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_the_gateway_answers_itself_is_decided_by_the_rules_like_any_other() {
    // Behind the proxy, /users may be the backend's own: it is not passed just because the
    // gateway would answer it itself.
    let s = Stack::start_with(|y| format!("{y}{ENABLED}")).await;
    let ask = |uri: &'static str| {
        let url = format!("{}/authz/auth-request", s.gateway.url);
        http().get(url).header("x-original-uri", uri).header("x-original-method", "GET").send()
    };
    assert_eq!(ask("/users").await.unwrap().status(), 401);
    assert_eq!(ask("/oauth/token").await.unwrap().status(), 401);
    assert_eq!(ask("/public/x").await.unwrap().status(), 200);
}
