//! Everything the gateway does, built once from the configuration: the login endpoints, the
//! guard, the session and discovery endpoints, and the JWKS cache they share. No pingora here.

use crate::config::Config;
use crate::discovery::Discovery;
use crate::guard::Verifier;
use crate::guard::{protected_headers, Guard};
use crate::jwt;
use crate::limits::Limits;
use crate::login::LoginService;
use crate::revocations::Revocations;
use crate::session::{SessionEndpoints, SessionService};
use crate::store::{LimitStore, MemoryStore, RedisStore, SessionStore};
use crate::tenant_client::{Jwks, TenantClient};
use crate::users::{ManagementApi, UserEndpoints};
use http::HeaderName;
use std::sync::Arc;

pub struct App {
    pub config: Arc<Config>,
    pub jwks: Arc<Jwks>,
    pub(crate) login: LoginService,
    pub guard: Guard,
    pub(crate) session: SessionEndpoints,
    pub(crate) users: UserEndpoints,
    pub(crate) discovery: Discovery,
    pub(crate) limits: Arc<Limits>,
    pub(crate) sessions: Arc<SessionService>,
    /// The shared store, when one is configured (kept across reloads that do not change it).
    redis: Option<Arc<RedisStore>>,
    memory: Arc<MemoryStore>,
    /// Removed from every request before it reaches the backend, in any spelling.
    pub(crate) protected_headers: Vec<HeaderName>,
}

impl App {
    pub fn new(config: Config) -> reqwest::Result<Self> {
        Self::build(config, None)
    }

    /// The app for a reloaded configuration, keeping the previous one's JWKS cache and
    /// rate-limit state when their settings did not change.
    pub(crate) fn reloaded(config: Config, previous: &App) -> reqwest::Result<Self> {
        Self::build(config, Some(previous))
    }

    fn build(config: Config, previous: Option<&App>) -> reqwest::Result<Self> {
        let config = Arc::new(config);
        let tenant = TenantClient::new(&config.tenant)?;
        let g = &config.guard;
        let same_keys = |p: &&App| {
            let (a, b) = (&p.config, &config);
            a.tenant.jwks_url == b.tenant.jwks_url
                && a.guard.algorithms == b.guard.algorithms
                && a.guard.jwks_ttl == b.guard.jwks_ttl
                && a.guard.jwks_min_refetch == b.guard.jwks_min_refetch
        };
        let jwks = match previous.filter(same_keys) {
            Some(p) => p.jwks.clone(),
            None => Arc::new(Jwks::new(
                tenant.clone(),
                config.tenant.jwks_url.clone(),
                g.algorithms.clone(),
                g.jwks_ttl,
                g.jwks_min_refetch,
            )),
        };
        let policy = jwt::TokenChecks::access_tokens(&config);
        let revocations = match previous {
            Some(p) => p.sessions.revocations.clone(),
            None => Arc::new(Revocations::new(config.session.revocations_max)),
        };
        revocations.set_capacity(config.session.revocations_max);
        let memory = previous.map_or_else(|| Arc::new(MemoryStore::new()), |p| p.memory.clone());
        let same_store = |p: &&App| p.config.store == config.store;
        let redis = match (&config.store, previous.filter(same_store)) {
            (None, _) => None,
            (Some(_), Some(p)) => p.redis.clone(),
            (Some(r), None) => Some(Arc::new(RedisStore::new(r.clone(), config.session.duration_seconds))),
        };
        let store: Arc<dyn SessionStore> = match &redis {
            Some(r) => r.clone(),
            None => memory.clone(),
        };
        let sessions =
            Arc::new(SessionService::new(config.clone(), store, revocations.clone(), previous.map(|p| &*p.sessions)));
        let same_limits = |p: &&App| p.config.limits == config.limits && p.config.store == config.store;
        let limits = match previous.filter(same_limits) {
            Some(p) => p.limits.clone(),
            None => Arc::new(match (&redis, &config.store) {
                (Some(r), Some(c)) => {
                    Limits::fleet(config.limits.clone(), r.clone() as Arc<dyn LimitStore>, c.on_error)
                }
                _ => Limits::new(config.limits.clone()),
            }),
        };
        let verifier = Arc::new(Verifier::new(jwks.clone(), policy, g.clone(), g.token_cache_bytes, revocations));
        let id_tokens = crate::idtoken::IdTokens::from_config(&config).map(Arc::new);
        Ok(App {
            login: LoginService {
                config: config.clone(),
                tenant: tenant.clone(),
                jwks: jwks.clone(),
                limits: limits.clone(),
                sessions: sessions.clone(),
                id_tokens: id_tokens.clone(),
            },
            session: SessionEndpoints {
                config: config.clone(),
                tenant: tenant.clone(),
                verifier: verifier.clone(),
                limits: limits.clone(),
                sessions: sessions.clone(),
            },
            users: UserEndpoints {
                config: config.clone(),
                api: config.management.clone().map(|m| ManagementApi::new(tenant.clone(), m)),
                limits: limits.clone(),
                sessions: sessions.clone(),
            },
            limits,
            guard: Guard::new(config.clone(), verifier, sessions.clone()),
            sessions,
            redis,
            memory,
            discovery: Discovery::new(tenant, jwks.clone(), config.public_url.clone(), id_tokens),
            protected_headers: protected_headers(g),
            jwks,
            config,
        })
    }
}
