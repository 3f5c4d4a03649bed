//! File schema → validated model. Every error names the key and the value. Each block of
//! `gateway.yaml` is checked in its own module; `defaults` holds every value a left-out key takes.

use super::file::FileConfig;
use super::model::{Config, Routes, Tls};

mod authz;
mod backend;
mod browser_login;
mod clients;
mod connections;
mod defaults;
mod dev_tenant;
mod guard;
mod limits;
mod management;
mod routes;
mod scalars;
mod session;
mod tenant;

use self::backend::backend;
use self::clients::clients;
use self::connections::connections;
use self::defaults::{DEFAULT_ADMIN_LISTEN, DEFAULT_GRACE_PERIOD_SECONDS, DEFAULT_LISTEN, DEFAULT_THREADS};
use self::dev_tenant::dev_tenant;
use self::guard::guard;
use self::limits::limits;
use self::routes::routes;
use self::scalars::{addr, http_url};
use self::session::{id_token, session, store};
use self::tenant::tenant;

pub(crate) use self::defaults::DEFAULT_MAX_BODY_BYTES;

/// Errors collected while validating: all are reported, not only the first.
#[derive(Default)]
pub(super) struct Problems(Vec<String>);

impl Problems {
    pub(super) fn push(&mut self, key: &str, msg: impl std::fmt::Display) {
        self.0.push(format!("{key}: {msg}"));
    }
}

pub(crate) fn validate(file: FileConfig, env_session_duration: Option<String>) -> Result<Config, Vec<String>> {
    let mut p = Problems::default();

    let listen = addr(&mut p, "listen", file.listen.as_deref().unwrap_or(DEFAULT_LISTEN));
    let admin_listen = addr(&mut p, "admin_listen", file.admin_listen.as_deref().unwrap_or(DEFAULT_ADMIN_LISTEN));
    let threads = file.threads.unwrap_or(DEFAULT_THREADS);
    if threads == 0 {
        p.push("threads", "must be at least 1");
    }
    let max_body_bytes = file.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
    if max_body_bytes == 0 {
        p.push("max_body_bytes", "must be at least 1");
    }

    let connections = connections(&mut p, &file.connections);
    let public_url = file
        .public_url
        .and_then(|u| http_url(&mut p, "public_url", &u))
        .map(|u| u.as_str().trim_end_matches('/').to_string());
    let tls = file.tls.and_then(|t| {
        let ok = |p: &mut Problems, key: &str, path: &str| match std::fs::metadata(path) {
            Ok(_) => true,
            Err(e) => {
                p.push(key, format!("cannot read {path:?}: {e}"));
                false
            }
        };
        let (c, k) = (ok(&mut p, "tls.cert_file", &t.cert_file), ok(&mut p, "tls.key_file", &t.key_file));
        (c && k).then_some(Tls { cert_file: t.cert_file, key_file: t.key_file })
    });
    let backend = backend(&mut p, file.backend);
    let tenant = tenant(&mut p, file.tenant);
    let store = store(&mut p, file.store);
    let id_token = file.id_token.and_then(|t| id_token(&mut p, t, public_url.is_some()));
    let session = session(&mut p, file.session, env_session_duration);
    if store.is_some() && session.encryption_key.is_none() {
        p.push("session.encryption_key", "is required with a store (32 bytes, base64)");
    }
    let clients = clients(&mut p, file.clients);
    let (mut routes, allows) = routes(&mut p, file.routes);
    let limits = limits(&mut p, file.limits);
    let mut guard = guard(&mut p, file.guard, &clients, &routes);
    authz::resolve(&mut p, &mut routes, allows, &clients, &mut guard);
    let dev_tenant = file.dev_tenant.map(|d| dev_tenant(&mut p, d, &guard.groups_claim, &guard.roles_claim));
    let management = file.management.and_then(|m| management::management(&mut p, m, tenant.as_ref()));
    let forward_auth = file.forward_auth.is_some_and(|f| f.enabled);
    let backchannel_logout = session.backchannel_logout_path.clone();
    let routes = Routes { user_management: management.is_some(), forward_auth, backchannel_logout, ..routes };
    let routes = browser_login::routes(&mut p, routes, &clients);
    if tenant.as_ref().is_some_and(|t| t.embedded) && dev_tenant.is_none() {
        p.push("tenant.embedded", "true needs a dev_tenant section");
    }

    if !p.0.is_empty() {
        return Err(p.0);
    }
    Ok(Config {
        listen: listen.expect("checked"),
        admin_listen: admin_listen.expect("checked"),
        threads,
        grace_period_seconds: file.grace_period_seconds.unwrap_or(DEFAULT_GRACE_PERIOD_SECONDS),
        max_body_bytes,
        connections,
        public_url,
        tls,
        backend: backend.expect("checked"),
        tenant: tenant.expect("checked"),
        dev_tenant,
        management,
        session,
        store,
        id_token,
        guard,
        routes,
        limits,
        clients,
        audit: crate::config::model::Audit {
            file: file.audit.file.filter(|f| !f.is_empty()).map(Into::into),
            log_failed_usernames: file.audit.log_failed_usernames,
        },
    })
}
