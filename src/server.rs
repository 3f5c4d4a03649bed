//! Assembles and runs the gateway: pingora runs the proxy; a small tokio runtime of our own
//! runs the admin listener, the background tasks (JWKS refresh, limits sweep, reloads) and,
//! for the demo, the embedded dev tenant and echo backend. Signals: SIGTERM drains (the run
//! ends when nothing is in flight; the process returns from `main`), SIGINT
//! stops at once, SIGHUP reloads.

use crate::app::App;
use crate::config::Config;
use crate::process::ProcessState;
use crate::{admin, dev, reload};
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot start: {0}")]
    Other(String),
    #[error("cannot build the HTTP client for the tenant: {0}")]
    HttpClient(#[from] reqwest::Error),
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, StartError> {
    let l = std::net::TcpListener::bind(addr).map_err(|source| StartError::Bind { addr, source })?;
    l.set_nonblocking(true).map_err(|source| StartError::Bind { addr, source })?;
    Ok(l)
}

/// Whether `addr` can be bound, checked without listening: a listener here, even for a
/// moment, would take connections that are reset once it closes, before pingora listens
/// (a client or probe would see the port open, then refused).
fn port_free(addr: SocketAddr) -> Result<(), StartError> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None);
    let bound = socket.and_then(|s| {
        s.set_reuse_address(true)?;
        s.bind(&addr.into())
    });
    bound.map_err(|source| StartError::Bind { addr, source })
}

/// Serve `router` on `addr` on the runtime `rt`.
fn serve(rt: &tokio::runtime::Runtime, addr: SocketAddr, router: axum::Router) -> Result<(), StartError> {
    let listener = bind(addr)?;
    let _guard = rt.enter();
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|source| StartError::Bind { addr, source })?;
    rt.spawn(async move { axum::serve(listener, router).await });
    Ok(())
}

fn socket_addr_of(url: &url::Url) -> Result<SocketAddr, StartError> {
    url.socket_addrs(|| None)
        .ok()
        .and_then(|a| a.into_iter().next())
        .ok_or_else(|| StartError::Other(format!("{url} does not resolve to a local address")))
}

/// The demo's embedded dev tenant and echo backend, when the configuration asks for them.
fn start_embedded(rt: &tokio::runtime::Runtime, config: &Config) -> Result<(), StartError> {
    if config.tenant.embedded && config.dev_tenant.is_some() {
        let base = config.tenant.base_url.as_str().trim_end_matches('/').to_string();
        let tenant = dev::tenant::from_config(config, &base).map_err(StartError::Other)?;
        serve(rt, socket_addr_of(&config.tenant.base_url)?, tenant.router())?;
    }
    if config.backend.embedded_echo {
        serve(rt, socket_addr_of(&config.backend.url)?, dev::echo::router())?;
    }
    Ok(())
}

/// The background tasks: keys refreshed ahead of expiry, idle limit keys swept, reloads.
fn start_background(rt: &tokio::runtime::Runtime, shared: &Arc<ProcessState>) {
    let s = shared.clone();
    rt.spawn(async move {
        loop {
            let jwks = s.app.load().jwks.clone();
            tokio::time::sleep(jwks.refresh_tick().await).await;
        }
    });
    let s = shared.clone();
    rt.spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(30)).await;
            s.app.load().limits.forget_idle();
        }
    });
    let s = shared.clone();
    rt.spawn(async move {
        // The revocation feed of whichever store the current configuration uses.
        let (mut cursor, mut store_id) = (0, 0usize);
        loop {
            let sessions = s.app.load().sessions.clone();
            let id = Arc::as_ptr(sessions.store()) as *const () as usize;
            if id != store_id {
                if store_id != 0 {
                    sessions.revocations.catch_up_anew();
                }
                (cursor, store_id) = (0, id);
            }
            cursor = crate::revocations::poll(sessions.store(), &sessions.revocations, cursor).await;
            tokio::time::sleep(crate::revocations::FEED_INTERVAL).await;
        }
    });
    rt.spawn(reload::on_sighup(shared.clone()));
    rt.spawn(reload::watch_file(shared.clone(), Duration::from_secs(2)));
}

/// Run the gateway until a signal stops it. `config_path` is watched for reloads.
pub fn run(config: Config, config_path: Option<PathBuf>) -> Result<(), StartError> {
    // Fail early, with the address in the message, when the proxy's port is taken.
    port_free(config.listen)?;
    crate::audit::configure(&config.audit)
        .map_err(|e| StartError::Other(format!("audit.file cannot be opened for appending: {e}")))?;
    for w in config.warnings() {
        tracing::warn!("{w}");
    }
    let aux = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("authgate-aux")
        .enable_all()
        .build()
        .map_err(|e| StartError::Other(e.to_string()))?;
    start_embedded(&aux, &config)?;
    let shared = ProcessState::new(App::new(config)?, config_path);
    let config = shared.app.load().config.clone();
    serve(&aux, config.admin_listen, admin::router(shared.clone()))?;
    start_background(&aux, &shared);

    let conf = ServerConf {
        threads: config.threads,
        grace_period_seconds: Some(config.grace_period_seconds),
        graceful_shutdown_timeout_seconds: Some(1),
        // One runtime per worker thread, no work stealing: fewer cross-thread wake-ups.
        work_stealing: false,
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let proxy = pingora::proxy::http_proxy(&server.configuration, crate::proxy::Gateway::new(shared.clone()));
    let edge = crate::proxy::Edge::new(proxy, config.connections.clone(), config.limits.trusted_proxies.clone());
    let mut proxy = pingora::services::listening::Service::new("authgate".to_string(), edge);
    match &config.tls {
        Some(tls) => proxy
            .add_tls(&config.listen.to_string(), &tls.cert_file, &tls.key_file)
            .map_err(|e| StartError::Other(format!("TLS: {e}")))?,
        None => proxy.add_tcp(&config.listen.to_string()),
    }
    server.add_service(proxy);

    println!("{}", banner(&config));
    // Pingora runs on a thread of its own; this one waits for it to stop (SIGINT) or for the
    // drain to end (SIGTERM: pingora itself would sleep the whole grace period after it).
    let (stopped, stop) = std::sync::mpsc::channel();
    let signals = Signals {
        shared: shared.clone(),
        grace: Duration::from_secs(config.grace_period_seconds),
        aux: aux.handle().clone(),
        drained: stopped.clone(),
    };
    let pingora = std::thread::Builder::new()
        .name("pingora".to_string())
        .spawn(move || {
            server.run(RunArgs { shutdown_signal: Box::new(signals) });
            let _ = stopped.send(());
        })
        .map_err(|e| StartError::Other(e.to_string()))?;
    // Err: every sender is gone, that is pingora's thread panicked; the panic goes on here (exit
    // status 101, as when pingora ran on this thread).
    if stop.recv().is_err() {
        if let Err(panic) = pingora.join() {
            std::panic::resume_unwind(panic);
        }
    }
    aux.shutdown_timeout(Duration::from_secs(1));
    // The spans still queued go to the collector (bounded by the exporter's timeout).
    crate::otel::shutdown();
    Ok(())
}

/// SIGTERM: stop being ready, let pingora close the listeners, and end the run as soon as
/// nothing is in flight (or the grace period is over). SIGINT: stop at once.
struct Signals {
    shared: Arc<ProcessState>,
    grace: Duration,
    /// Where the drain waits (pingora's own runtimes stop taking work when it shuts down).
    aux: tokio::runtime::Handle,
    drained: std::sync::mpsc::Sender<()>,
}

#[async_trait::async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            return ShutdownSignal::FastShutdown;
        };
        tokio::select! {
            _ = term.recv() => {
                tracing::info!(in_flight = self.shared.in_flight(), "SIGTERM: draining");
                self.shared.start_draining();
                let (shared, grace, drained) = (self.shared.clone(), self.grace, self.drained.clone());
                self.aux.spawn(async move {
                    // Pingora closes its listeners once this returns; then wait for the last
                    // request in flight to end (it wakes `idle`), for at most the grace period.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let _ = tokio::time::timeout(grace, shared.idle()).await;
                    tracing::info!(in_flight = shared.in_flight(), "drained; exiting");
                    let _ = drained.send(());
                });
                ShutdownSignal::GracefulTerminate
            }
            _ = int.recv() => ShutdownSignal::FastShutdown,
        }
    }
}

fn banner(config: &Config) -> String {
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let mut s = format!("authgate listening on {scheme}://{} (admin http://{})\n", config.listen, config.admin_listen);
    if config.tenant.embedded {
        s += &format!("  embedded dev tenant on {} (demo only)\n", config.tenant.base_url);
    }
    if config.backend.embedded_echo {
        s += &format!("  embedded echo backend on {}\n", config.backend.url);
    }
    // The demo's public values only: the config keeps no secret in plain text.
    if config.tenant.embedded && config.client_by_secret(b"mobile-secret").is_some() {
        s += &format!(
            "Try:\n  curl -s -X POST {scheme}://{}/oauth/token -H 'secret: mobile-secret' \\\n    \
             -d grant_type=password -d username=demo@example.com -d password=demo-password\n",
            config.listen
        );
    }
    s
}
