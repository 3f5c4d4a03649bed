//! Assembles and runs the pingora server: the proxy service, the admin service and, for the
//! demo, the embedded dev tenant and echo backend on a small runtime of their own.

use crate::admin::{AdminApp, Readiness};
use crate::app::App;
use crate::config::Config;
use crate::dev;
use crate::limits::Limits;
use crate::proxy::Gateway;
use crate::tenant::Jwks;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignalWatch, ShutdownWatch};
use pingora::services::background::{background_service, BackgroundService};
use pingora::services::listening::Service;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot start the embedded dev tenant: {0}")]
    DevTenant(String),
    #[error("cannot build the HTTP client for the tenant: {0}")]
    HttpClient(#[from] reqwest::Error),
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, StartError> {
    let l = std::net::TcpListener::bind(addr).map_err(|source| StartError::Bind { addr, source })?;
    l.set_nonblocking(true).map_err(|source| StartError::Bind { addr, source })?;
    Ok(l)
}

/// Start the embedded dev tenant and/or echo backend when the configuration asks for them.
/// They live as long as the returned runtime.
fn start_embedded(config: &Config) -> Result<Option<tokio::runtime::Runtime>, StartError> {
    let tenant = config.tenant.embedded.then_some(()).and(config.dev_tenant.as_ref());
    if tenant.is_none() && !config.backend.embedded_echo {
        return Ok(None);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("authgate-demo")
        .enable_all()
        .build()
        .map_err(|e| StartError::DevTenant(e.to_string()))?;
    if let Some(dev_config) = tenant {
        let addr = socket_addr_of(&config.tenant.base_url)?;
        let listener = bind(addr)?;
        let base = config.tenant.base_url.as_str().trim_end_matches('/').to_string();
        let dev = dev::tenant::DevTenant::new(dev_config, &config.clients, &base).map_err(StartError::DevTenant)?;
        let _guard = rt.enter();
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|source| StartError::Bind { addr, source })?;
        rt.spawn(dev.serve(listener));
    }
    if config.backend.embedded_echo {
        let addr = socket_addr_of(&config.backend.url)?;
        let listener = bind(addr)?;
        let _guard = rt.enter();
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|source| StartError::Bind { addr, source })?;
        rt.spawn(dev::echo::serve(listener));
    }
    Ok(Some(rt))
}

fn socket_addr_of(url: &url::Url) -> Result<SocketAddr, StartError> {
    url.socket_addrs(|| None)
        .ok()
        .and_then(|a| a.into_iter().next())
        .ok_or_else(|| StartError::DevTenant(format!("{url} does not resolve to a local address")))
}

/// Run the gateway until `shutdown` fires (Unix signals in production).
pub fn run(config: Config, shutdown: Box<dyn ShutdownSignalWatch + Send + Sync>) -> Result<(), StartError> {
    // Fail early, with the address in the message, when a port is taken.
    drop(bind(config.listen)?);
    drop(bind(config.admin_listen)?);
    let embedded = start_embedded(&config)?;

    let app = Arc::new(App::new(config)?);
    let config = app.config.clone();
    let conf = ServerConf {
        threads: config.threads,
        grace_period_seconds: Some(config.grace_period_seconds),
        graceful_shutdown_timeout_seconds: Some(5),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let mut proxy = pingora::proxy::http_proxy_service(&server.configuration, Gateway::new(app.clone()));
    proxy.add_tcp(&config.listen.to_string());
    let readiness = Readiness::new(Some(app.jwks.clone()));
    let mut admin = Service::new("admin".to_string(), AdminApp { readiness: readiness.clone() });
    admin.add_tcp(&config.admin_listen.to_string());
    admin.threads = Some(1);
    server.add_service(proxy);
    server.add_service(admin);
    server.add_service(background_service("jwks refresher", JwksRefresher(app.jwks.clone())));
    server.add_service(background_service("limits sweeper", LimitsSweeper(app.limits.clone())));
    readiness.set(true);

    println!("{}", banner(&config));
    server.run(RunArgs { shutdown_signal: shutdown });
    if let Some(rt) = embedded {
        rt.shutdown_timeout(Duration::from_secs(1));
    }
    Ok(())
}

/// Keeps the JWKS fresh in the background (pingora runs it on its own runtime).
struct JwksRefresher(Arc<Jwks>);

#[async_trait::async_trait]
impl BackgroundService for JwksRefresher {
    async fn start(&self, shutdown: ShutdownWatch) {
        self.0.run_refresher(shutdown).await;
    }
}

/// Drops the rate-limit state of idle keys every 30 s, so memory stays bounded however many
/// distinct IPs and usernames arrive.
struct LimitsSweeper(Arc<Limits>);

#[async_trait::async_trait]
impl BackgroundService for LimitsSweeper {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(30)) => self.0.forget_idle(),
                _ = shutdown.changed() => return,
            }
        }
    }
}

fn banner(config: &Config) -> String {
    let mut s = format!("authgate listening on http://{} (admin http://{})\n", config.listen, config.admin_listen);
    if config.tenant.embedded {
        s += &format!("  embedded dev tenant on {} (demo only)\n", config.tenant.base_url);
    }
    if config.backend.embedded_echo {
        s += &format!("  embedded echo backend on {}\n", config.backend.url);
    }
    // The demo's public values only: the config keeps no secret in plain text.
    if config.tenant.embedded && config.client_by_secret(b"mobile-secret").is_some() {
        s += &format!(
            "Try:\n  curl -s -X POST http://{}/oauth/token -H 'secret: mobile-secret' \\\n    \
             -d grant_type=password -d username=demo@example.com -d password=demo-password\n",
            config.listen
        );
    }
    s
}
