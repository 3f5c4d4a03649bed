//! Hot reload: on SIGHUP, and when the configuration file changes (Kubernetes swaps a mounted
//! ConfigMap's symlink), load and validate the file again and swap in a new `App`. An invalid
//! file is refused, logged and counted; the old configuration keeps serving. Connections are
//! not touched. Listener addresses and worker threads need a restart.

use crate::app::App;
use crate::config;
use crate::metrics::metrics;
use crate::process::ProcessState;
use std::sync::Arc;
use std::time::Duration;

/// Reload now. The error says why the new file was refused. When the new configuration needs
/// a new key set (tenant, algorithms), the keys are fetched before it is swapped in, so the
/// gateway never serves without keys; until they come, the old configuration keeps serving.
pub(crate) async fn reload(shared: &ProcessState) -> Result<(), String> {
    let Some(path) = &shared.config_path else { return Err("no configuration file to reload".into()) };
    let result = config::load(path).map_err(|e| e.to_string()).and_then(|new| {
        let current = shared.app.load();
        let old = &current.config;
        if new.listen != old.listen
            || new.admin_listen != old.admin_listen
            || new.threads != old.threads
            || new.tls != old.tls
        {
            tracing::warn!("listen, admin_listen, threads and tls take effect at the next restart");
        }
        App::reloaded(new, &current).map_err(|e| e.to_string())
    });
    let result = match result {
        Ok(app) => keys_first(app).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(app) => {
            if let Err(e) = crate::audit::configure(&app.config.audit) {
                tracing::error!(error = %e, "audit.file cannot be opened: the audit trail goes to stdout");
            }
            shared.app.store(Arc::new(app));
            metrics().config_reloads.with_label_values(&["ok"]).inc();
            tracing::info!(path = %path.display(), "configuration reloaded");
            crate::audit::config_reloaded(true, None);
            Ok(())
        }
        Err(e) => {
            metrics().config_reloads.with_label_values(&["error"]).inc();
            tracing::error!(path = %path.display(), error = %e, "configuration reload refused; the old one keeps serving");
            // The reason stays in the log: a parse error may quote the file (a secret in it).
            crate::audit::config_reloaded(false, Some("the new configuration is invalid (see the log)"));
            Err(e)
        }
    }
}

/// How long a reload waits for a new key set before it is given up.
const KEYS_WAIT: Duration = Duration::from_secs(30);

/// The new app once its key set is loaded (at once when it kept the old one).
async fn keys_first(app: App) -> Result<App, String> {
    let deadline = tokio::time::Instant::now() + KEYS_WAIT;
    while !app.jwks.has_keys() {
        if app.jwks.refresh().await.is_ok() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("the new key set could not be fetched within {} s", KEYS_WAIT.as_secs()));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(app)
}

/// Reload on every SIGHUP.
pub(crate) async fn on_sighup(shared: Arc<ProcessState>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
    while hup.recv().await.is_some() {
        let _ = reload(&shared).await;
    }
}

/// Reload when the file's content changes (checked every `every`; reading through the path
/// follows a swapped symlink).
pub(crate) async fn watch_file(shared: Arc<ProcessState>, every: Duration) {
    let Some(path) = shared.config_path.clone() else { return };
    let mut last = std::fs::read(&path).ok();
    loop {
        tokio::time::sleep(every).await;
        let now = std::fs::read(&path).ok();
        if now.is_some() && now != last {
            last = now;
            let _ = reload(&shared).await;
        }
    }
}
