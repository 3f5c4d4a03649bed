//! What the proxy, the admin listener and the background tasks share: the current `App`
//! (swapped whole on reload), whether we are draining, and the requests in flight (an atomic
//! count the `authgate_requests_in_flight` gauge mirrors; the last one to end wakes the drain).

use crate::app::App;
use arc_swap::ArcSwap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

pub(crate) struct ProcessState {
    pub(crate) app: ArcSwap<App>,
    /// The file the configuration came from, for reloads.
    pub(crate) config_path: Option<PathBuf>,
    draining: AtomicBool,
    in_flight: AtomicUsize,
    /// Woken when the last request in flight ends.
    idle: tokio::sync::Notify,
}

impl ProcessState {
    pub(crate) fn new(app: App, config_path: Option<PathBuf>) -> Arc<Self> {
        Arc::new(ProcessState {
            app: ArcSwap::from_pointee(app),
            config_path,
            draining: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            idle: tokio::sync::Notify::new(),
        })
    }

    /// Stop being ready: a shutdown has begun.
    pub(crate) fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Ready for traffic: not draining, holding the tenant's signing keys, and having read the
    /// revocation feed once (a replica started while the store is unreachable would otherwise
    /// take tokens logged out elsewhere).
    pub(crate) fn is_ready(&self) -> bool {
        let app = self.app.load();
        !self.draining.load(Ordering::SeqCst) && app.jwks.has_keys() && app.sessions.revocations.caught_up()
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Count a request as in flight until the guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        crate::metrics::metrics().in_flight.inc();
        InFlight(self.clone())
    }

    /// Until no request is in flight.
    pub(crate) async fn idle(&self) {
        loop {
            let woken = self.idle.notified();
            tokio::pin!(woken);
            // Registered before the count is read: an end in between still wakes us.
            woken.as_mut().enable();
            if self.in_flight() == 0 {
                return;
            }
            woken.await;
        }
    }
}

pub(crate) struct InFlight(Arc<ProcessState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        crate::metrics::metrics().in_flight.dec();
        let left = self.0.in_flight.fetch_sub(1, Ordering::SeqCst) - 1;
        // Only a drain waits: the Notify's lock is not taken on every quiet moment.
        if left == 0 && self.0.draining.load(Ordering::SeqCst) {
            self.0.idle.notify_waiters();
        }
    }
}
