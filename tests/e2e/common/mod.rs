//! The end-to-end harness: an in-process dev tenant (recording what it receives) and echo
//! backend on free loopback ports, and the real `authgate` binary as a child process that is
//! killed, by its PID, when the test ends.

pub mod redis;

use authgate::dev::tenant::{DevTenant, Recorded, Recorder};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const DEMO_PASSWORD: &str = "demo-password";

/// An address nothing listens on: port 1 (privileged, unused), for a dead tenant or backend.
pub const NOTHING_LISTENS: &str = "http://127.0.0.1:1";

/// A loopback port held for a process the test starts (the gateway, redis-server): a socket
/// bound to it (`SO_REUSEADDR` set once bound) that never listens. While it is held the kernel hands the
/// port to nobody else (a port with a socket bound is never chosen for port 0), and the
/// process binds it beside the reservation (the gateway, pingora and redis-server all set
/// `SO_REUSEADDR`): no bind-drop-rebind race. Dropped with whatever runs on it.
pub struct ReservedPort {
    _socket: socket2::Socket,
    pub port: u16,
}

impl ReservedPort {
    /// A free port of the kernel's choosing.
    pub fn free() -> ReservedPort {
        Self::try_port(0).expect("a free loopback port")
    }

    /// `port` itself, when no socket is bound to it.
    pub fn try_port(port: u16) -> Option<ReservedPort> {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
        // Bound without SO_REUSEADDR, so the bind fails while any socket (another reservation
        // included) holds the port; SO_REUSEADDR set after, so the child can bind beside it.
        socket.bind(&SocketAddr::from(([127, 0, 0, 1], port)).into()).ok()?;
        socket.set_reuse_address(true).ok()?;
        let port = socket.local_addr().ok()?.as_socket()?.port();
        Some(ReservedPort { _socket: socket, port })
    }
}

/// A loopback listener on a free port, for in-process servers.
pub async fn listener() -> (tokio::net::TcpListener, SocketAddr) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

/// The test configuration (tests/fixtures/gateway.yaml): the demo's clients and users, pointed
/// at `tenant_url` and `backend_url`; `{LISTEN}` and `{ADMIN}` are left for `Gateway::start`.
pub fn config_yaml(tenant_url: &str, backend_url: &str) -> String {
    include_str!("../../fixtures/gateway.yaml")
        .replace("@TENANT_URL@", tenant_url)
        .replace("@BACKEND_URL@", backend_url)
}

/// `text` with `from` replaced by `to`. Panics when `from` is not in `text`: a configuration
/// edit that silently changes nothing would test nothing.
pub fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the configuration has no {from:?} to replace");
    text.replace(from, to)
}

/// Poll `check` every 50 ms for up to `limit`: for what happens in the background (no blind
/// sleeps).
pub async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The dev tenant, the echo backend and a gateway in front of them.
pub struct Stack {
    pub gateway: Gateway,
    pub tenant: DevTenant,
    pub recorder: Recorder,
}

impl Stack {
    pub async fn start() -> Stack {
        Self::start_with(|yaml| yaml).await
    }

    /// Start with the configuration text changed by `edit`.
    pub async fn start_with(edit: impl FnOnce(String) -> String) -> Stack {
        let b = Backends::start(edit, authgate::dev::echo::router()).await;
        let gateway = Gateway::start(&b.yaml).await;
        Stack { gateway, tenant: b.tenant, recorder: b.recorder }
    }

    /// Start with `from` replaced by `to` in the configuration (which must contain `from`).
    pub async fn start_edited(from: &str, to: &str) -> Stack {
        Self::start_with(|yaml| edit(&yaml, from, to)).await
    }

    /// A password login of the demo user through the gateway: (status, JSON body).
    pub async fn login(&self, secret: &str) -> (u16, serde_json::Value) {
        json(self.password_login(secret).await).await
    }

    /// A password login of the demo user through the gateway: the whole response.
    pub async fn password_login(&self, secret: &str) -> reqwest::Response {
        password_login_at(&self.gateway.url, secret).await
    }

    /// A password login of the demo user through the gateway at `base_url`.
    pub async fn login_at(base_url: &str, secret: &str) -> (u16, serde_json::Value) {
        json(password_login_at(base_url, secret).await).await
    }

    /// A website login of the demo user: the `sid=…` pair of its cookie.
    pub async fn website_cookie(&self) -> String {
        let resp = self.password_login("website-secret").await;
        assert_eq!(resp.status(), 200);
        let set_cookie = resp.headers()["set-cookie"].to_str().unwrap();
        set_cookie.split(';').next().unwrap().to_string()
    }

    pub fn calls(&self) -> Vec<Recorded> {
        self.recorder.lock().unwrap().clone()
    }
}

/// The dev tenant (recording) and a backend serving `backend`, running; the configuration
/// pointing at them; no gateway yet, so tests can change the tenant or the environment first.
pub struct Backends {
    pub yaml: String,
    pub tenant: DevTenant,
    pub recorder: Recorder,
}

impl Backends {
    /// The tenant and the echo backend, with `redis` as the gateway's store.
    pub async fn with_redis(redis: &redis::RedisServer) -> Backends {
        Backends::start(redis::with_store("standalone", &[redis.url()], ""), authgate::dev::echo::router()).await
    }

    pub async fn start(edit: impl FnOnce(String) -> String, backend: axum::Router) -> Backends {
        let (tl, taddr) = listener().await;
        let (bl, baddr) = listener().await;
        let tenant_url = format!("http://{taddr}");
        let yaml = edit(config_yaml(&tenant_url, &format!("http://{baddr}")));
        let config = authgate::config::parse(&yaml.replace("{LISTEN}", "1").replace("{ADMIN}", "2"), "test", &|_| None)
            .expect("test config is valid");
        let dev = authgate::dev::tenant::from_config(&config, &tenant_url).unwrap();
        let (dev, recorder) = dev.recording();
        tokio::spawn(dev.clone().serve(tl));
        tokio::spawn(async move { axum::serve(bl, backend).await });
        Backends { yaml, tenant: dev, recorder }
    }
}

/// The real binary, running with a configuration file in a temporary directory.
pub struct Gateway {
    child: Child,
    pub url: String,
    pub admin_url: String,
    /// The configuration file the gateway runs with (tests rewrite it to test reloads).
    pub config_path: PathBuf,
    /// The configuration text, ports filled in.
    pub config_text: String,
    log_path: PathBuf,
    /// The proxy's and the admin listener's ports, held while the gateway runs.
    _ports: [ReservedPort; 2],
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// Start `authgate --config <yaml>`; `{LISTEN}` and `{ADMIN}` become free ports.
    pub async fn start(yaml: &str) -> Gateway {
        Self::start_with_env(yaml, &[]).await
    }

    pub async fn start_with_env(yaml: &str, env: &[(&str, &str)]) -> Gateway {
        let (listen, admin) = (ReservedPort::free(), ReservedPort::free());
        let yaml = yaml.replace("{LISTEN}", &listen.port.to_string()).replace("{ADMIN}", &admin.port.to_string());
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("gateway.yaml");
        std::fs::File::create(&config_path).unwrap().write_all(yaml.as_bytes()).unwrap();
        let log_path = dir.path().join("gateway.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_authgate"))
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", "debug,pingora_proxy=trace,pingora_core=trace,hyper=trace,h2=trace,reqwest=trace")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut g = Gateway {
            child,
            url: format!("http://127.0.0.1:{}", listen.port),
            admin_url: format!("http://127.0.0.1:{}", admin.port),
            config_path,
            config_text: yaml,
            log_path,
            _ports: [listen, admin],
            _dir: dir,
        };
        g.wait_until_listening().await;
        g
    }

    /// Until the proxy port answers; the logs when the gateway exited first.
    async fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = self.url.trim_start_matches("http://").to_string();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the gateway exited at start ({status}):\n{}", self.logs());
            }
            if TcpStream::connect(&addr).is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "gateway did not listen:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A `GET` of `path` (with its query) on the gateway.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        http().get(format!("{}{path}", self.url))
    }

    /// A `POST` to `path` on the gateway.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        http().post(format!("{}{path}", self.url))
    }

    /// A `DELETE` of `path` on the gateway.
    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        http().delete(format!("{}{path}", self.url))
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send a signal (`TERM`, `HUP`, …) to the gateway process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").arg(format!("-{name}")).arg(self.pid().to_string()).status().unwrap();
        assert!(status.success());
    }

    /// Wait up to `limit` for the process to exit; its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// POST a form to the gateway's `path` with the `secret` header.
pub async fn post_form(url: &str, secret: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
    let mut req = http().post(url).form(form);
    if let Some(s) = secret {
        req = req.header("secret", s);
    }
    req.send().await.unwrap()
}

/// A password login of the demo user through the gateway at `base_url`: the whole response.
pub async fn password_login_at(base_url: &str, secret: &str) -> reqwest::Response {
    let url = format!("{base_url}/oauth/token");
    post_form(&url, Some(secret), &password_form("demo@example.com", DEMO_PASSWORD)).await
}

pub fn password_form<'a>(username: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("grant_type", "password"), ("username", username), ("password", password)]
}

/// Status and JSON body.
pub async fn json(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text:?}"));
    (status, value)
}

/// The claims of a JWT, unverified (tests only).
pub fn claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// An OAuth error body: `{"error","error_description"}` with the given status and code.
pub async fn assert_oauth_error(resp: reqwest::Response, status: u16, error: &str) -> serde_json::Value {
    let (s, body) = json(resp).await;
    assert_eq!((s, body["error"].as_str().unwrap_or_default()), (status, error), "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    body
}

pub fn param<'a>(call: &'a Recorded, name: &str) -> Option<&'a str> {
    call.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub fn header<'a>(call: &'a Recorded, name: &str) -> Option<&'a str> {
    call.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    /// `None`: the connection closed without a status line.
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Send `request` as bytes to the gateway at `base_url` on a new connection and read the
/// answer until the server closes (send `Connection: close`), for at most 10 s.
pub async fn raw(base_url: &str, request: &[u8]) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
    parse_raw(&buf)
}

/// `GET raw_path` with `headers` (each `Name: value`) on its own connection.
pub async fn raw_get(base_url: &str, method: &str, raw_path: &str, headers: &[&str]) -> RawResponse {
    let mut req = format!("{method} {raw_path} HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if method == "POST" {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("\r\n");
    raw(base_url, req.as_bytes()).await
}

fn parse_raw(buf: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(buf);
    let Some((head, rest)) = text.split_once("\r\n\r\n") else {
        return RawResponse { status: None, headers: vec![], body: String::new() };
    };
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(rest) } else { rest.to_string() };
    RawResponse { status, headers, body }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
