//! The `tenant` block: the Auth0-style tenant, its endpoints and timeouts.

use super::defaults::{
    DEFAULT_AUTHORIZE_PATH, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_END_SESSION_PATH, DEFAULT_JWKS_PATH,
    DEFAULT_LOGOUT_PATH, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_REVOKE_PATH, DEFAULT_RO_PATH, DEFAULT_TOKEN_PATH,
    DEFAULT_USERINFO_PATH,
};
use super::scalars::{http_url, is_loopback};
use super::Problems;
use crate::config::file::FileTenant;
use crate::config::model::Tenant;
use std::time::Duration;
use url::Url;

pub(super) fn tenant(p: &mut Problems, t: FileTenant) -> Option<Tenant> {
    let mut base = http_url(p, "tenant.url", &t.url)?;
    if t.embedded && !is_loopback(&base) {
        p.push(
            "tenant.embedded",
            format!(
                "the embedded dev tenant listens on loopback only, not on {:?}",
                base.host_str().unwrap_or_default()
            ),
        );
    }
    let trimmed = base.path().trim_end_matches('/').to_string();
    base.set_path(&trimmed);
    let issuer = t.issuer.unwrap_or_else(|| format!("{}/", base.as_str().trim_end_matches('/')));
    let join = |p: &mut Problems, key: &str, path: Option<String>, default: &str| -> Option<Url> {
        let path = path.unwrap_or_else(|| default.to_string());
        if !path.starts_with('/') {
            p.push(key, format!("{path:?} must start with /"));
            return None;
        }
        Url::parse(&format!("{}{}", base.as_str().trim_end_matches('/'), path)).ok()
    };
    let paths = t.paths;
    let token_url = join(p, "tenant.paths.token", paths.token, DEFAULT_TOKEN_PATH);
    let ro_url = join(p, "tenant.paths.ro", paths.ro, DEFAULT_RO_PATH);
    let userinfo_url = join(p, "tenant.paths.userinfo", paths.userinfo, DEFAULT_USERINFO_PATH);
    let revoke_url = join(p, "tenant.paths.revoke", paths.revoke, DEFAULT_REVOKE_PATH);
    let jwks_url = join(p, "tenant.paths.jwks", paths.jwks, DEFAULT_JWKS_PATH);
    let authorize_url = join(p, "tenant.paths.authorize", paths.authorize, DEFAULT_AUTHORIZE_PATH);
    let logout_url = join(p, "tenant.paths.logout", paths.logout, DEFAULT_LOGOUT_PATH);
    let end_session_url = join(p, "tenant.paths.end_session", paths.end_session, DEFAULT_END_SESSION_PATH);
    let timeout = |p: &mut Problems, key: &str, v: Option<u64>, default: u64| {
        let ms = v.unwrap_or(default);
        if ms == 0 {
            p.push(key, "must be at least 1");
        }
        Duration::from_millis(ms)
    };
    let connect_timeout = timeout(p, "tenant.connect_timeout_ms", t.connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT_MS);
    let request_timeout = timeout(p, "tenant.request_timeout_ms", t.request_timeout_ms, DEFAULT_REQUEST_TIMEOUT_MS);
    let ca_bundle = t.ca_file.and_then(|path| match std::fs::read(&path) {
        Ok(pem) if reqwest::Certificate::from_pem_bundle(&pem).is_ok_and(|c| !c.is_empty()) => Some(pem),
        Ok(_) => {
            p.push("tenant.ca_file", format!("{path:?} holds no PEM certificate"));
            None
        }
        Err(e) => {
            p.push("tenant.ca_file", format!("cannot read {path:?}: {e}"));
            None
        }
    });
    Some(Tenant {
        base_url: base,
        embedded: t.embedded,
        issuer,
        connect_timeout,
        request_timeout,
        ca_bundle,
        token_url: token_url?,
        ro_url: ro_url?,
        userinfo_url: userinfo_url?,
        revoke_url: revoke_url?,
        jwks_url: jwks_url?,
        authorize_url: authorize_url?,
        logout_url: logout_url?,
        end_session_url: end_session_url?,
    })
}
