//! The embedded Auth0-style dev tenant: `/oauth/token` (password, password-realm and
//! refresh_token grants), `/.well-known/jwks.json`, `/.well-known/openid-configuration` and
//! `/userinfo`, speaking Auth0's wire format. For the demo, tests and benchmarks only.

mod clients;
mod handlers;
mod keys;
mod users;

use crate::config::{Client, DevTenant as DevTenantConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub use keys::Signer;

/// One call the dev tenant received (kept only when recording is on, for tests).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub params: Vec<(String, String)>,
}

pub type Recorder = Arc<Mutex<Vec<Recorded>>>;

struct RefreshGrant {
    user: usize,
    client_id: String,
    scope: String,
    audience: String,
}

struct State {
    issuer: String,
    base_url: String,
    audience: String,
    ttl: u64,
    rotate: bool,
    default_directory: String,
    groups_claim: String,
    /// Signing keys, the current one last; all are published in the JWKS.
    keys: RwLock<Vec<Arc<Signer>>>,
    /// Fault switch for tests: the JWKS endpoint answers 503.
    jwks_failing: AtomicBool,
    /// How many times the JWKS was asked for.
    jwks_requests: std::sync::atomic::AtomicU64,
    users: Vec<users::User>,
    clients: clients::Clients,
    refresh: Mutex<HashMap<String, RefreshGrant>>,
    recorder: Option<Recorder>,
}

impl State {
    fn signer(&self) -> Arc<Signer> {
        self.keys.read().expect("not poisoned").last().expect("one key at least").clone()
    }
}

/// A dev tenant ready to serve.
#[derive(Clone)]
pub struct DevTenant {
    state: Arc<State>,
}

impl DevTenant {
    /// Build the tenant reachable at `base_url` (e.g. `http://127.0.0.1:8081`), for `clients`.
    pub fn new(config: &DevTenantConfig, clients: &[Client], base_url: &str) -> Result<Self, String> {
        let argon = users::hasher(config.fast_password_hash);
        let users = config.users.iter().map(|u| users::User::from_config(u, &argon)).collect::<Result<_, _>>()?;
        let base_url = base_url.trim_end_matches('/').to_string();
        let registered = clients::Clients::new(clients, format!("{base_url}/oauth/token"))?;
        Ok(DevTenant {
            state: Arc::new(State {
                issuer: config.issuer.clone().unwrap_or_else(|| format!("{base_url}/")),
                base_url,
                audience: config.audience.clone(),
                ttl: config.access_token_ttl_seconds,
                rotate: config.rotate_refresh_tokens,
                default_directory: config.default_directory.clone(),
                groups_claim: config.groups_claim.clone(),
                keys: RwLock::new(vec![Arc::new(Signer::generate())]),
                jwks_failing: AtomicBool::new(false),
                jwks_requests: Default::default(),
                users,
                clients: registered,
                refresh: Mutex::new(HashMap::new()),
                recorder: None,
            }),
        })
    }

    /// Keep every call received, for tests to inspect. Call before serving.
    pub fn recording(mut self) -> (Self, Recorder) {
        let recorder = Recorder::default();
        Arc::get_mut(&mut self.state).expect("recording is set before serving").recorder = Some(recorder.clone());
        (self, recorder)
    }

    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The `sub` of the user with this email (any connection), for tests that mint tokens.
    pub fn subject_of(&self, email: &str) -> String {
        let user = self.state.users.iter().find(|u| u.email == email).expect("a configured user");
        format!("auth0|{}", user.id)
    }

    /// The current signing key, so tests can forge and check tokens.
    pub fn signer(&self) -> Arc<Signer> {
        self.state.signer()
    }

    /// Sign with a new key from now on; the old keys stay in the JWKS (as Auth0 rotates).
    pub fn rotate_key(&self) -> Arc<Signer> {
        let key = Arc::new(Signer::generate());
        self.state.keys.write().expect("not poisoned").push(key.clone());
        key
    }

    /// How many times the JWKS endpoint was asked for.
    pub fn jwks_requests(&self) -> u64 {
        self.state.jwks_requests.load(Ordering::SeqCst)
    }

    /// Make the JWKS endpoint fail (503) or work again: the tenant "down" for key fetches.
    pub fn set_jwks_failing(&self, failing: bool) {
        self.state.jwks_failing.store(failing, Ordering::SeqCst);
    }

    pub fn router(&self) -> axum::Router {
        handlers::router(self.state.clone())
    }

    /// Serve on a bound listener until the task is dropped.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }
}
