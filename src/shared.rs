//! What the proxy, the admin listener and the background tasks share: the current `App`
//! (swapped whole on reload), whether we are draining, and how many requests are in flight.

use crate::app::App;
use arc_swap::ArcSwap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

pub struct Shared {
    pub app: ArcSwap<App>,
    /// The file the configuration came from, for reloads.
    pub config_path: Option<PathBuf>,
    draining: AtomicBool,
    in_flight: AtomicUsize,
}

impl Shared {
    pub fn new(app: App, config_path: Option<PathBuf>) -> Arc<Self> {
        Arc::new(Shared {
            app: ArcSwap::from_pointee(app),
            config_path,
            draining: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
        })
    }

    /// Stop being ready: a shutdown has begun.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Ready for traffic: not draining, holding the tenant's signing keys, and having read the
    /// revocation feed once (a replica started while the store is unreachable would otherwise
    /// take tokens logged out elsewhere).
    pub fn is_ready(&self) -> bool {
        let app = self.app.load();
        !self.draining.load(Ordering::SeqCst) && app.jwks.has_keys() && app.sessions.revocations.caught_up()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Count a request as in flight until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        crate::metrics::metrics().in_flight.inc();
        InFlight(self.clone())
    }
}

pub struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        crate::metrics::metrics().in_flight.dec();
    }
}
