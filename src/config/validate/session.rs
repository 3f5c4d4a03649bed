//! The `session`, `store` and `id_token` blocks: the session cookie, where sessions are kept, and
//! the key the gateway re-signs id_tokens with.

use super::defaults::{
    DEFAULT_REDIS_KEY_PREFIX, DEFAULT_REDIS_TIMEOUT_MS, DEFAULT_REFRESH_BEFORE_SECONDS,
    DEFAULT_REFRESH_EXPIRED_GRACE_SECONDS, DEFAULT_REFRESH_REUSE_SECONDS, DEFAULT_REVOCATIONS_MAX,
    DEFAULT_SESSION_COOKIE_NAME, DEFAULT_SESSION_DURATION_SECONDS,
};
use super::Problems;
use crate::config::file::{FileIdToken, FileSession, FileStore};
use crate::config::model::{CookieMode, IdTokenKeys, OnStoreError, RedisMode, RedisStore, Secret, SessionConfig};
use std::time::Duration;
use url::Url;

pub(super) fn session(p: &mut Problems, s: FileSession, env_duration: Option<String>) -> SessionConfig {
    let duration_seconds = match (s.duration_seconds, env_duration) {
        (Some(d), _) => d,
        (None, Some(env)) => env.trim().parse().unwrap_or_else(|_| {
            p.push("SESSION_DURATION_SECONDS", format!("{env:?} is not a number of seconds"));
            0
        }),
        (None, None) => DEFAULT_SESSION_DURATION_SECONDS,
    };
    let cookie_name = s.cookie_name.unwrap_or_else(|| DEFAULT_SESSION_COOKIE_NAME.to_string());
    if cookie_name.is_empty() || !cookie_name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        p.push("session.cookie_name", format!("{cookie_name:?} is not a valid cookie name"));
    }
    let encryption_key = s.encryption_key.filter(|k| !k.is_empty()).and_then(|k| {
        use base64::Engine;
        match base64::engine::general_purpose::STANDARD.decode(k.trim()) {
            Ok(bytes) if bytes.len() == 32 => Some(Secret(k.trim().to_string())),
            _ => {
                p.push("session.encryption_key", "must be 32 bytes in base64 (openssl rand -base64 32)");
                None
            }
        }
    });
    let cookie = match s.cookie.as_deref() {
        None | Some("token") => CookieMode::Token,
        Some("opaque") => CookieMode::Opaque,
        Some(other) => {
            p.push("session.cookie", format!("{other:?} is not token or opaque"));
            CookieMode::Token
        }
    };
    let revocations_max =
        super::scalars::at_least(p, "session.revocations_max", s.revocations_max, DEFAULT_REVOCATIONS_MAX, 100, "");
    let backchannel_logout_path = s.backchannel_logout_path.filter(|path| {
        let own = crate::routing::endpoints::route("POST", path) != crate::routing::endpoints::Route::Backend;
        let normal = crate::routing::path::normalize(path, Default::default()).as_deref() == Ok(path.as_str());
        let fits = normal && path.len() > 1 && !own && !path.starts_with("/users") && !path.starts_with("/authz");
        if !fits {
            p.push(
                "session.backchannel_logout_path",
                format!("{path:?}: must be a normalised path other than / and not one of the gateway's own"),
            );
        }
        fits
    });
    SessionConfig {
        silent_refresh: s.silent_refresh.unwrap_or(true),
        refresh_before_seconds: s.refresh_before_seconds.unwrap_or(DEFAULT_REFRESH_BEFORE_SECONDS),
        refresh_reuse_seconds: super::scalars::at_most(
            p,
            "session.refresh_reuse_seconds",
            s.refresh_reuse_seconds,
            DEFAULT_REFRESH_REUSE_SECONDS,
            60,
        ),
        backchannel_logout_path,
        revocations_max,
        encryption_key,
        cookie,
        duration_seconds,
        cookie_name,
        refresh_expired_grace_seconds: s.refresh_expired_grace_seconds.unwrap_or(DEFAULT_REFRESH_EXPIRED_GRACE_SECONDS),
    }
}

/// A PEM given inline or as a file, checked to be an RSA private key.
fn rsa_key(p: &mut Problems, key: &str, file: Option<String>, inline: Option<String>) -> Option<Secret> {
    let pem = match (file, inline.filter(|k| !k.is_empty())) {
        (Some(path), None) => std::fs::read_to_string(&path)
            .map_err(|e| p.push(&format!("{key}_file"), format!("cannot read {path:?}: {e}")))
            .ok()?,
        (None, Some(pem)) => pem,
        (None, None) => return None,
        (Some(_), Some(_)) => {
            p.push(key, "give the key as a file or inline, not both");
            return None;
        }
    };
    match crate::jwt::signing::Signer::from_pem(&pem) {
        Ok(_) => Some(Secret(pem)),
        Err(e) => {
            p.push(key, e);
            None
        }
    }
}

pub(super) fn id_token(p: &mut Problems, t: FileIdToken, has_public_url: bool) -> Option<IdTokenKeys> {
    let current = rsa_key(p, "id_token.signing_key", t.signing_key_file, t.signing_key);
    let previous = rsa_key(p, "id_token.previous_key", t.previous_key_file, t.previous_key);
    if !t.reissue {
        return None;
    }
    if !has_public_url {
        p.push("id_token.reissue", "needs public_url: the re-issued id_tokens name it as their issuer");
    }
    if current.is_none() {
        p.push(
            "id_token.signing_key",
            "is required with reissue: true (signing_key_file or signing_key, an RSA key in PEM)",
        );
    }
    Some(IdTokenKeys { current: current?, previous })
}

pub(super) fn store(p: &mut Problems, s: FileStore) -> Option<RedisStore> {
    let r = s.redis?;
    let mode = match r.mode.as_deref() {
        None | Some("standalone") => RedisMode::Standalone,
        Some("sentinel") => RedisMode::Sentinel,
        Some("cluster") => RedisMode::Cluster,
        Some(other) => {
            p.push("store.redis.mode", format!("{other:?} is not standalone, sentinel or cluster"));
            RedisMode::Standalone
        }
    };
    if r.urls.is_empty() {
        p.push("store.redis.urls", "at least one redis:// or rediss:// URL is needed");
    }
    for u in &r.urls {
        if !matches!(Url::parse(u).map(|u| u.scheme().to_string()).as_deref(), Ok("redis" | "rediss")) {
            p.push("store.redis.urls", format!("{u:?} is not a redis:// or rediss:// URL"));
        }
    }
    if mode == RedisMode::Standalone && r.urls.len() > 1 {
        p.push("store.redis.urls", "standalone takes one URL (several are for sentinel or cluster)");
    }
    let sentinel_master = r.sentinel_master.filter(|m| !m.is_empty());
    if mode == RedisMode::Sentinel && sentinel_master.is_none() {
        p.push("store.redis.sentinel_master", "is required with mode: sentinel");
    }
    let on_error = match r.on_error.as_deref() {
        None | Some("allow") => OnStoreError::Allow,
        Some("deny") => OnStoreError::Deny,
        Some(other) => {
            p.push("store.redis.on_error", format!("{other:?} is not allow or deny"));
            OnStoreError::Allow
        }
    };
    let timeout_ms = r.timeout_ms.unwrap_or(DEFAULT_REDIS_TIMEOUT_MS);
    if timeout_ms == 0 {
        p.push("store.redis.timeout_ms", "must be at least 1");
    }
    Some(RedisStore {
        mode,
        urls: r.urls,
        sentinel_master,
        username: r.username.filter(|u| !u.is_empty()),
        password: r.password.filter(|p| !p.is_empty()).map(Secret),
        key_prefix: r.key_prefix.unwrap_or_else(|| DEFAULT_REDIS_KEY_PREFIX.to_string()),
        timeout: Duration::from_millis(timeout_ms),
        on_error,
    })
}
