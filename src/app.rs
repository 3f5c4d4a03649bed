//! Everything the gateway does, built once from the configuration: the login endpoints, the
//! guard, the session and discovery endpoints, and the JWKS cache they share. No pingora here.

use crate::config::Config;
use crate::discovery::Discovery;
use crate::guard::Verifier;
use crate::guard::{protected_headers, Guard};
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use crate::jwt;
use crate::limits::Limits;
use crate::login::LoginService;
use crate::revocations::Revocations;
use crate::routing::endpoints::{OwnEndpoint, Route, UserOp};
use crate::session::{SessionEndpoints, SessionService};
use crate::store::{LimitStore, MemoryStore, RedisStore, SessionStore};
use crate::tenant_client::{Jwks, TenantClient};
use crate::users::{ManagementApi, UserEndpoints};
use http::HeaderName;
use std::sync::Arc;

pub struct App {
    pub config: Arc<Config>,
    pub jwks: Arc<Jwks>,
    pub(crate) login: Arc<LoginService>,
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
        let login = Arc::new(LoginService {
            config: config.clone(),
            tenant: tenant.clone(),
            jwks: jwks.clone(),
            limits: limits.clone(),
            sessions: sessions.clone(),
            id_tokens: id_tokens.clone(),
        });
        let refresher = config.session.silent_refresh.then(|| login.clone() as Arc<dyn crate::guard::SilentRefresh>);
        Ok(App {
            guard: Guard::new(config.clone(), verifier.clone(), sessions.clone(), refresher),
            login,
            session: SessionEndpoints {
                jwks: jwks.clone(),
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

/// The gateway's own endpoints, answered from plain values (no pingora type): testable in
/// process, like the services they call.
impl App {
    /// Another spelling of one of the gateway's own paths: never proxied.
    pub(crate) fn reserved() -> ApiError {
        ApiError::new(404, "not_found", "No such endpoint: the gateway's own paths are spelled exactly.")
    }

    /// The largest body `route` takes: a bulk import's, for a management client only (decided
    /// by its `secret` before the body is read); the usual limit for everything else.
    pub(crate) fn body_limit(&self, route: Route, headers: &http::HeaderMap) -> usize {
        let management_caller = || self.config.caller(headers).is_some_and(|c| c.management);
        match route {
            Route::Own(OwnEndpoint::Users(UserOp::Import)) if management_caller() => crate::users::MAX_IMPORT_BYTES,
            _ => self.config.max_body_bytes,
        }
    }

    /// Answer `request` (its body read whole) on the own endpoint `route`, at the normalised
    /// `path` with `query`; also the client it named (a login's, or the application whose
    /// `secret` came along), for the access line and the metrics.
    pub(crate) async fn answer(
        &self,
        route: Route,
        path: &str,
        query: Option<&str>,
        request: &Request,
    ) -> (Reply, Option<String>) {
        let (reply, client) = match route {
            Route::Login(endpoint) => {
                let outcome = self.login.handle(endpoint, request).await;
                (outcome.reply, outcome.client)
            }
            Route::Own(OwnEndpoint::Userinfo) => (self.session.userinfo(request).await, None),
            Route::Own(OwnEndpoint::Logout) => (self.session.logout(query, request).await, None),
            Route::Own(OwnEndpoint::Jwks) => (self.discovery.jwks().await, None),
            Route::Own(OwnEndpoint::ActiveUsers) => (self.session.active_users(request).await, None),
            Route::Own(OwnEndpoint::UserSessions) => {
                // The user id: the last segment, percent-decoded (`auth0%7Cabc`).
                let segment = path.rsplit('/').next().unwrap_or_default();
                let user =
                    String::from_utf8(crate::routing::path::percent_decode(segment.as_bytes())).unwrap_or_default();
                (self.session.end_user_sessions(&user, request).await, None)
            }
            Route::Own(OwnEndpoint::OpenidConfiguration) => (self.discovery.openid_configuration().await, None),
            Route::Own(OwnEndpoint::Authorize) => (self.login.authorize(query, request).await, None),
            Route::Own(OwnEndpoint::Callback) => (self.login.callback(path, query, request).await, None),
            Route::Own(OwnEndpoint::Users(crate::users::UserOp::Me)) => {
                (self.users.me(&self.guard, request).await, None)
            }
            Route::Own(OwnEndpoint::Users(op)) => (self.users.handle(op, path, query, request).await, None),
            Route::Own(OwnEndpoint::BackchannelLogout) => (self.session.backchannel_logout(request).await, None),
            Route::Own(OwnEndpoint::ForwardAuth(flavor)) => {
                (crate::forward_auth::answer(&self.config, &self.guard, flavor, (path, query), request).await, None)
            }
            Route::WrongMethod(allow) => (ApiError::method_not_allowed(allow).into_reply(), None),
            Route::Reserved => (Self::reserved().into_reply(), None),
            Route::Backend => unreachable!("the backend's routes are proxied, never answered here"),
        };
        (reply, client.or_else(|| self.config.caller(&request.headers).map(|c| c.name.clone())))
    }
}

#[cfg(test)]
mod tests {
    use crate::login::tests::{json, request, Harness, DEMO_EMAIL, DEMO_PASSWORD};
    use crate::routing::endpoints::{Endpoint, OwnEndpoint, Route};
    use crate::routing::router::decide;

    #[tokio::test]
    async fn own_endpoints_are_answered_in_process_from_the_routers_decision() {
        let h = Harness::start().await;
        let app = &h.app;
        let routes = &app.config.routes;
        let at = |method, path| decide(routes, routes.strictness, method, path).unwrap().route;
        let login = request(
            Some("mobile-secret"),
            &[("grant_type", "password"), ("username", DEMO_EMAIL), ("password", DEMO_PASSWORD)],
        );
        let (reply, client) = app.answer(at("POST", "/oauth/token"), "/oauth/token", None, &login).await;
        assert_eq!((reply.status, client.as_deref()), (200, Some("mobile")));
        assert!(json(&reply)["accessToken"].is_string());
        let none = request(None, &[]);
        let discovery = at("GET", "/.well-known/openid-configuration");
        assert_eq!(discovery, Route::Own(OwnEndpoint::OpenidConfiguration));
        let (reply, _) = app.answer(discovery, "/.well-known/openid-configuration", None, &none).await;
        assert_eq!(reply.status, 200);
        let (reply, _) = app.answer(at("GET", "/oauth/token"), "/oauth/token", None, &none).await;
        assert_eq!(reply.status, 405);
        assert!(reply.headers.contains(&("allow", "POST".to_string())));
        let (reply, _) = app.answer(at("POST", "/OAuth/Token"), "/OAuth/Token", None, &none).await;
        assert_eq!(reply.status, 404, "another spelling of an own path is reserved");
        assert_eq!(at("POST", "/oauth/refreshtoken"), Route::Login(Endpoint::RefreshToken));
    }
}
