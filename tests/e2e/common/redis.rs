//! Real Redis servers for the tests: each started on a free loopback port with nothing
//! persisted, stopped by its PID when dropped. A three-node Cluster and a Sentinel setup
//! are built from the same pieces.

use super::ReservedPort;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    /// The port (and a cluster node's bus port), held while the server may run.
    _ports: Vec<ReservedPort>,
    dir: tempfile::TempDir,
    extra: Vec<String>,
}

/// Send one inline command and read what comes back (tests only; small answers).
pub fn redis_command(port: u16, command: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("{command}\r\n").as_bytes()).ok()?;
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_on(vec![ReservedPort::free()], &[])
    }

    /// Start on the first of `ports`.
    fn start_on(ports: Vec<ReservedPort>, extra: &[&str]) -> Self {
        let mut s = RedisServer {
            child: None,
            port: ports[0].port,
            _ports: ports,
            dir: tempfile::tempdir().unwrap(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        s.restart();
        s
    }

    /// (Re)start the server on its port.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (.ci/run installs it)");
        self.child = Some(child);
        let port = self.port;
        wait_for("redis-server", || redis_command(port, "PING").is_some_and(|r| r.starts_with("+PONG")));
    }

    /// Stop the server (by its PID), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free port and its cluster bus port (+10000), both held.
fn bus_port_pair() -> Vec<ReservedPort> {
    loop {
        let port = 20_000 + rand::random::<u16>() % 30_000;
        if let (Some(p), Some(bus)) = (ReservedPort::try_port(port), ReservedPort::try_port(port + 10_000)) {
            return vec![p, bus];
        }
    }
}

/// Three masters, no replicas, slots spread by `redis-cli --cluster create`.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start() -> Self {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                RedisServer::start_on(bus_port_pair(), &["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for n in &nodes {
            create.arg(format!("127.0.0.1:{}", n.port));
        }
        let out = create.args(["--cluster-replicas", "0", "--cluster-yes"]).output().expect("redis-cli is installed");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        for n in &nodes {
            let port = n.port;
            wait_for("the cluster", || {
                redis_command(port, "CLUSTER INFO").is_some_and(|r| r.contains("cluster_state:ok"))
            });
        }
        RedisCluster { nodes }
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

/// A master and one sentinel watching it as `mymaster`.
pub struct RedisSentinel {
    /// Held: the master runs as long as the sentinel watches it.
    _master: RedisServer,
    sentinel: Child,
    pub sentinel_port: u16,
    _sentinel_port: ReservedPort,
    _dir: tempfile::TempDir,
}

impl RedisSentinel {
    pub fn start() -> Self {
        let master = RedisServer::start();
        let dir = tempfile::tempdir().unwrap();
        let reserved = ReservedPort::free();
        let sentinel_port = reserved.port;
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {sentinel_port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {} 1\n\
                 sentinel down-after-milliseconds mymaster 2000\n",
                dir.path().display(),
                master.port
            ),
        )
        .unwrap();
        let sentinel = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs as a sentinel");
        let want = master.port.to_string();
        wait_for("the sentinel", || {
            redis_command(sentinel_port, "SENTINEL get-master-addr-by-name mymaster").is_some_and(|r| r.contains(&want))
        });
        RedisSentinel { _master: master, sentinel, sentinel_port, _sentinel_port: reserved, _dir: dir }
    }

    pub fn sentinel_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.sentinel_port)
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        let _ = self.sentinel.kill();
        let _ = self.sentinel.wait();
    }
}

/// A demo key for `session.encryption_key` (32 bytes, base64): tests only.
pub const TEST_ENCRYPTION_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// The configuration edit that points a test stack at a store.
pub fn with_store(mode: &str, urls: &[String], extra: &str) -> impl FnOnce(String) -> String {
    let urls = urls.iter().map(|u| format!("\"{u}\"")).collect::<Vec<_>>().join(", ");
    let block = format!(
        "session: {{ duration_seconds: 3600, encryption_key: \"{TEST_ENCRYPTION_KEY}\" }}\n\
         store:\n  redis:\n    mode: {mode}\n    urls: [{urls}]\n    timeout_ms: 300\n{extra}"
    );
    move |yaml: String| yaml.replace("session: { duration_seconds: 3600 }\n", &block)
}
