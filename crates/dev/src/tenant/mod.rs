//! The embedded Auth0-style dev tenant, speaking Auth0's wire format: `/oauth/token`
//! (password, password-realm, passwordless OTP, refresh_token, client_credentials and
//! authorization_code grants), `/oauth/ro`, `/oauth/revoke`, `/.well-known/jwks.json`,
//! `/.well-known/openid-configuration`, `/userinfo`, the browser login (`GET /authorize`: a
//! login page; `POST /authorize`: the form, answered with a redirect carrying a single-use code,
//! PKCE S256 required), the logouts `/v2/logout` and `/oidc/logout` (back to a client's
//! `logout_urls` only), and a subset of the Management API v2 under `/api/v2` (users: search
//! with `q`, create, read, update, delete; user import jobs), whose changes later logins see.
//!
//! Like Auth0 it keeps login sessions and refresh-token families. Every login starts a session
//! (its `sid` in the id_tokens; the browser login also sets the `dev_tenant_session` cookie),
//! and ending one (`/oidc/logout` with an `id_token_hint`, `/v2/logout` with the cookie, or
//! the Management API blocking or deleting the user) sends an OpenID Connect back-channel
//! logout to each client of the session that has a `backchannel_logout_uri`. With rotation on,
//! a refresh retires the token presented; replaying a retired token revokes its whole family
//! (but for the latest one within the reuse interval). Blocking or deleting a user also
//! revokes its refresh tokens. For the demo, tests and benchmarks only.

mod authorize;
mod backchannel;
mod clients;
mod common;
mod connections;
mod grants;
mod handlers;
mod jobs;
mod lucene;
mod management;
mod rotation;
mod sessions;
#[cfg(test)]
mod tests;
mod users;
mod users_api;

use crate::settings::Settings;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};

pub use crate::signer::Signer;

/// One call the dev tenant received (kept only when recording is on, for tests).
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The path, without the query string.
    pub path: String,
    /// The raw query string (empty when there is none).
    pub query: String,
    pub headers: Vec<(String, String)>,
    /// Form or JSON body parameters; for Management API calls the query parameters too, and
    /// an import's form fields (the `users` file as text).
    pub params: Vec<(String, String)>,
}

pub type Recorder = Arc<Mutex<Vec<Recorded>>>;

#[derive(Clone)]
struct RefreshGrant {
    /// The hex id of the user (`auth0|<id>`).
    user: String,
    client_id: String,
    scope: String,
    audience: String,
    /// The login the token descends from: rotation keeps it, reuse detection revokes by it.
    family: u64,
    /// The login's tenant session, carried by the id_tokens of its refreshes.
    sid: Option<String>,
}

struct State {
    issuer: String,
    base_url: String,
    audience: String,
    ttl: u64,
    rotate: bool,
    /// Auth0's refresh-token reuse interval, in seconds (with rotation).
    reuse_interval: u64,
    default_directory: String,
    groups_claim: String,
    roles_claim: String,
    /// Signing keys, the current one last; all are published in the JWKS.
    keys: RwLock<Vec<Arc<Signer>>>,
    /// Fault switch for tests: the JWKS endpoint answers 503.
    jwks_failing: AtomicBool,
    /// How many times the JWKS was asked for.
    jwks_requests: AtomicU64,
    /// In creation order. Never held across an await.
    users: RwLock<Vec<users::User>>,
    /// Hashes the passwords of users created through the Management API.
    argon: argon2::Argon2<'static>,
    connections: connections::Connections,
    clients: clients::Clients,
    refresh: Mutex<rotation::RefreshTokens>,
    /// Successful refresh grants.
    refresh_grants: AtomicU64,
    /// Refresh-token families revoked because a retired token was replayed.
    families_revoked: AtomicU64,
    /// Login sessions by `sid`.
    sessions: Mutex<sessions::Sessions>,
    backchannel: backchannel::Backchannel,
    /// Authorization codes not yet exchanged, by code.
    codes: Mutex<HashMap<String, authorize::CodeGrant>>,
    api: management::Api,
    jobs: jobs::Jobs,
    recorder: Option<Recorder>,
}

impl State {
    fn signer(&self) -> Arc<Signer> {
        self.keys.read().expect("not poisoned").last().expect("one key at least").clone()
    }

    fn record(&self, call: Recorded) {
        if let Some(rec) = &self.recorder {
            rec.lock().expect("not poisoned").push(call);
        }
    }

    /// The claims of an RS256 `token` this tenant signed (with any of its keys), issued by it
    /// and for `audience` (`None`: any audience).
    fn verified(&self, token: &str, audience: Option<&str>) -> Option<serde_json::Value> {
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_issuer(&[&self.issuer]);
        match audience {
            Some(aud) => v.set_audience(&[aud]),
            None => v.validate_aud = false,
        }
        let keys = self.keys.read().expect("not poisoned").clone();
        keys.iter()
            .find_map(|k| jsonwebtoken::decode::<serde_json::Value>(token, &k.decoding, &v).ok())
            .map(|d| d.claims)
    }

    /// A copy of the user with this hex id.
    fn user(&self, id: &str) -> Option<users::User> {
        self.users.read().expect("not poisoned").iter().find(|u| u.id == id).cloned()
    }
}

/// Headers as (name, value) text pairs, for the recorder.
fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers.iter().map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect()
}

/// A dev tenant ready to serve.
#[derive(Clone)]
pub struct DevTenant {
    state: Arc<State>,
}

impl DevTenant {
    /// The tenant `settings` describe, reachable at `base_url` (e.g. `http://127.0.0.1:8081`).
    pub fn new(settings: Settings, base_url: &str) -> Result<Self, String> {
        let dev = &settings;
        let argon = users::hasher(dev.fast_password_hash);
        let users: Vec<users::User> =
            dev.users.iter().map(|u| users::User::from_config(u, &argon)).collect::<Result<_, _>>()?;
        let base_url = base_url.trim_end_matches('/').to_string();
        let mut registered = clients::Clients::new(&dev.clients, format!("{base_url}/oauth/token"))?;
        if let Some(m) = &dev.management {
            registered.add_management(m.client_id.clone(), m.client_secret.clone());
        }
        let listed = dev.management.as_ref().map(|m| m.connections.as_slice()).unwrap_or_default();
        let names = users.iter().map(|u| u.connection.as_str()).chain([dev.default_directory.as_str()]);
        let connections = connections::Connections::new(names, listed);
        let api = management::Api::new(
            format!("{base_url}/api/v2/"),
            dev.management.as_ref().map(|m| m.client_id.clone()),
            dev.management_scopes.clone(),
            dev.management_requests_per_minute,
        );
        Ok(DevTenant {
            state: Arc::new(State {
                issuer: dev.issuer.clone().unwrap_or_else(|| format!("{base_url}/")),
                base_url,
                audience: dev.audience.clone(),
                ttl: dev.access_token_ttl_seconds,
                rotate: dev.rotate_refresh_tokens,
                reuse_interval: dev.refresh_reuse_interval_seconds,
                default_directory: dev.default_directory.clone(),
                groups_claim: dev.groups_claim.clone(),
                roles_claim: dev.roles_claim.clone(),
                keys: RwLock::new(vec![Arc::new(Signer::generate())]),
                jwks_failing: AtomicBool::new(false),
                jwks_requests: Default::default(),
                users: RwLock::new(users),
                argon,
                connections,
                clients: registered,
                refresh: Default::default(),
                refresh_grants: AtomicU64::new(0),
                families_revoked: AtomicU64::new(0),
                sessions: Default::default(),
                backchannel: Default::default(),
                codes: Mutex::new(HashMap::new()),
                api,
                jobs: Default::default(),
                recorder: None,
            }),
        })
    }

    /// Keep every call received, for tests to inspect. Call before serving.
    #[cfg(any(test, feature = "test-support"))]
    pub fn recording(mut self) -> (Self, Recorder) {
        let recorder = Recorder::default();
        Arc::get_mut(&mut self.state).expect("recording is set before serving").recorder = Some(recorder.clone());
        (self, recorder)
    }

    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The base URL the tenant is reached at, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The `sub` of the user with this email (any connection), for tests that mint tokens.
    #[cfg(any(test, feature = "test-support"))]
    pub fn subject_of(&self, email: &str) -> String {
        let all = self.state.users.read().expect("not poisoned");
        all.iter().find(|u| u.email == email).expect("a configured user").user_id()
    }

    /// The user with this id (`auth0|…`) as the Management API shows it, if it exists.
    #[cfg(any(test, feature = "test-support"))]
    pub fn user_json(&self, user_id: &str) -> Option<serde_json::Value> {
        let all = self.state.users.read().expect("not poisoned");
        all.iter().find(|u| u.user_id() == user_id).map(users::User::to_json)
    }

    /// How many Management API tokens (`client_credentials` grants) were issued.
    #[cfg(any(test, feature = "test-support"))]
    pub fn management_grants(&self) -> u64 {
        self.state.api.grants.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The current signing key, so tests can forge and check tokens.
    #[cfg(any(test, feature = "test-support"))]
    pub fn signer(&self) -> Arc<Signer> {
        self.state.signer()
    }

    /// Sign with a new key from now on; the old keys stay in the JWKS (as Auth0 rotates).
    #[cfg(any(test, feature = "test-support"))]
    pub fn rotate_key(&self) -> Arc<Signer> {
        let key = Arc::new(Signer::generate());
        self.state.keys.write().expect("not poisoned").push(key.clone());
        key
    }

    /// How many times the JWKS endpoint was asked for.
    #[cfg(any(test, feature = "test-support"))]
    pub fn jwks_requests(&self) -> u64 {
        self.state.jwks_requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Make the JWKS endpoint fail (503) or work again: the tenant "down" for key fetches.
    #[cfg(any(test, feature = "test-support"))]
    pub fn set_jwks_failing(&self, failing: bool) {
        self.state.jwks_failing.store(failing, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many refresh grants succeeded.
    #[cfg(any(test, feature = "test-support"))]
    pub fn refresh_grants(&self) -> u64 {
        self.state.refresh_grants.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many refresh-token families were revoked because a retired token was replayed.
    #[cfg(any(test, feature = "test-support"))]
    pub fn refresh_families_revoked(&self) -> u64 {
        self.state.families_revoked.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Set (or remove) the `backchannel_logout_uri` of a registered client.
    #[cfg(any(test, feature = "test-support"))]
    pub fn set_backchannel_logout_uri(&self, client_id: &str, uri: Option<String>) {
        assert!(self.state.clients.set_backchannel_uri(client_id, uri), "no client {client_id} at the dev tenant");
    }

    /// Each back-channel logout sent, as (uri, status code or error text), in the order they
    /// finished (they are sent in the background: tests wait for them).
    #[cfg(any(test, feature = "test-support"))]
    pub fn backchannel_deliveries(&self) -> Vec<(String, String)> {
        self.state.backchannel.deliveries()
    }

    /// A valid logout token, as the tenant sends them, for `client_id` about user `sub` (e.g.
    /// `auth0|…`) and session `sid`.
    #[cfg(any(test, feature = "test-support"))]
    pub fn logout_token(&self, client_id: &str, sub: &str, sid: Option<&str>) -> String {
        backchannel::logout_token(&self.state, client_id, sub, sid)
    }

    pub fn router(&self) -> axum::Router {
        handlers::router(self.state.clone())
    }

    /// Serve on a bound listener until the task is dropped.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }
}
