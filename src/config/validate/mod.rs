//! File schema → validated model. Every error names the key and the value.

use super::file::*;
use super::model::*;
use crate::limits::{LimitsConfig, Rate};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use url::Url;

mod browser_login;
mod management;

pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// About 40,000 verified tokens: fits a 64 MiB sidecar with room to spare.
pub const DEFAULT_TOKEN_CACHE_BYTES: u64 = 16 * 1024 * 1024;
/// How long after its `exp` an access token may still be shown to `/oauth/refreshtoken`.
pub const DEFAULT_REFRESH_EXPIRED_GRACE_SECONDS: u64 = 86_400;
/// Auth0's own limit for a free tenant's Management API is lower; this one only stops a runaway loop.
const DEFAULT_MANAGEMENT_REQUESTS_PER_MINUTE: u32 = 6_000;
const DEFAULT_DIRECTORY: &str = "Username-Password-Authentication";

/// Errors collected while validating: all are reported, not only the first.
#[derive(Default)]
pub(super) struct Problems(Vec<String>);

impl Problems {
    pub(super) fn push(&mut self, key: &str, msg: impl std::fmt::Display) {
        self.0.push(format!("{key}: {msg}"));
    }
}

pub fn validate(file: FileConfig, env_session_duration: Option<String>) -> Result<Config, Vec<String>> {
    let mut p = Problems::default();

    let listen = addr(&mut p, "listen", file.listen.as_deref().unwrap_or("127.0.0.1:8080"));
    let admin_listen = addr(&mut p, "admin_listen", file.admin_listen.as_deref().unwrap_or("127.0.0.1:9090"));
    let threads = file.threads.unwrap_or(1);
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
    let routes = routes(&mut p, file.routes);
    let limits = limits(&mut p, file.limits);
    let guard = guard(&mut p, file.guard, &clients, &routes);
    let dev_tenant = file.dev_tenant.map(|d| dev_tenant(&mut p, d, &guard.groups_claim));
    let management = file.management.and_then(|m| management::management(&mut p, m, tenant.as_ref()));
    let routes = Routes { user_management: management.is_some(), ..routes };
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
        grace_period_seconds: file.grace_period_seconds.unwrap_or(10),
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
    })
}

/// Connections served at once by default: each idle keep-alive connection holds about 40 KB.
pub const DEFAULT_MAX_CONNECTIONS: usize = 2048;
pub const DEFAULT_HEADER_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 60_000;

fn connections(p: &mut Problems, c: &FileConnections) -> crate::proxy::ConnectionLimits {
    let max = c.max.unwrap_or(DEFAULT_MAX_CONNECTIONS);
    if max == 0 {
        p.push("connections.max", "must be at least 1");
    }
    let ms = |p: &mut Problems, key: &str, v: Option<u64>, default: u64| {
        let ms = v.unwrap_or(default);
        if ms < 100 {
            p.push(key, "must be at least 100 (milliseconds)");
        }
        Duration::from_millis(ms)
    };
    crate::proxy::ConnectionLimits {
        max,
        header_timeout: ms(p, "connections.header_timeout_ms", c.header_timeout_ms, DEFAULT_HEADER_TIMEOUT_MS),
        idle_timeout: ms(p, "connections.idle_timeout_ms", c.idle_timeout_ms, DEFAULT_IDLE_TIMEOUT_MS),
    }
}

fn rate(p: &mut Problems, key: &str, r: Option<FileRate>, default: Option<(&str, u32)>) -> Option<Rate> {
    let (text, burst) = match (r, default) {
        (Some(r), _) => (r.rate, r.burst),
        (None, Some((d, b))) => (d.to_string(), Some(b)),
        (None, None) => return None,
    };
    Rate::parse(&text, burst).map_err(|e| p.push(key, e)).ok()
}

fn limits(p: &mut Problems, l: FileLimits) -> LimitsConfig {
    let trusted_proxies = l
        .trusted_proxies
        .iter()
        .filter_map(|c| {
            c.parse::<ipnet::IpNet>()
                .or_else(|_| c.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| p.push("limits.trusted_proxies", format!("{c:?} is not a CIDR like 10.0.0.0/8")))
                .ok()
        })
        .collect();
    let fallback = Rate::parse("10/s", Some(50)).expect("valid");
    let max_failures = l.brute_force.max_failures.unwrap_or(10);
    if max_failures == 0 {
        p.push("limits.brute_force.max_failures", "must be at least 1");
    }
    LimitsConfig {
        trusted_proxies,
        login: rate(p, "limits.login", l.login, Some(("10/s", 50))).unwrap_or(fallback),
        login_attempts: rate(p, "limits.login_attempts", l.login_attempts, Some(("20/min", 20))).unwrap_or(fallback),
        backend_per_ip: rate(p, "limits.backend_per_ip", l.backend_per_ip, None),
        backend_per_user: rate(p, "limits.backend_per_user", l.backend_per_user, None),
        max_failures,
        block: Duration::from_secs(l.brute_force.block_seconds.unwrap_or(900)),
    }
}

fn policy(p: &mut Problems, key: &str, value: &str) -> Policy {
    match value {
        "public" => Policy::Public,
        "authenticated" => Policy::Authenticated,
        "secret" => Policy::Secret,
        other => {
            p.push(key, format!("{other:?} is not public, authenticated or secret"));
            Policy::Authenticated
        }
    }
}

fn routes(p: &mut Problems, r: FileRoutes) -> Routes {
    let default = policy(p, "routes.default", r.default.as_deref().unwrap_or("authenticated"));
    let strictness = crate::path::Strictness {
        reject_escaped_percent: r.reject_escaped_percent,
        reject_path_parameters: r.reject_path_parameters,
    };
    let mut rules = Vec::new();
    for (i, rule) in r.rules.into_iter().enumerate() {
        let key = format!("routes.rules[{i}]");
        let normal = crate::path::normalize(&rule.prefix, strictness);
        if normal.as_deref() != Ok(rule.prefix.as_str()) || rule.prefix.contains(';') {
            p.push(
                &format!("{key}.prefix"),
                format!(
                    "{:?} must be a normalised path starting with / (no //, . or .. segments, escapes or ;)",
                    rule.prefix
                ),
            );
        }
        let mut methods = Vec::new();
        for m in rule.methods.unwrap_or_default() {
            let upper = m.to_ascii_uppercase();
            if http::Method::from_bytes(upper.as_bytes()).is_err() || upper.is_empty() {
                p.push(&format!("{key}.methods"), format!("{m:?} is not an HTTP method"));
            }
            methods.push(upper);
        }
        let policy = policy(p, &format!("{key}.policy"), &rule.policy);
        let prefix = rule.prefix.trim_end_matches('/').to_string();
        let login_redirect = rule.login_redirect.unwrap_or(r.login_redirect);
        rules.push(RouteRule { prefix, methods, policy, websocket: rule.websocket, login_redirect });
    }
    Routes {
        default,
        strictness,
        rules,
        user_management: false,
        login_client: r.login_client,
        callbacks: Vec::new(),
        default_login_redirect: r.login_redirect,
    }
}

const ASYMMETRIC: [jsonwebtoken::Algorithm; 8] = {
    use jsonwebtoken::Algorithm::*;
    [RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384]
};

fn header_name(p: &mut Problems, key: &str, name: &str) -> Option<http::HeaderName> {
    let lower = name.to_ascii_lowercase();
    if ["secret", "authorization", "cookie", "host", "content-length", "transfer-encoding"].contains(&lower.as_str()) {
        p.push(key, format!("{name:?} cannot carry identity"));
        return None;
    }
    match http::HeaderName::from_bytes(lower.as_bytes()) {
        Ok(h) => Some(h),
        Err(_) => {
            p.push(key, format!("{name:?} is not a header name"));
            None
        }
    }
}

fn guard(p: &mut Problems, g: FileGuard, clients: &[Client], routes: &Routes) -> Guard {
    let audiences = g.audiences.unwrap_or_else(|| {
        let mut auds: Vec<String> = Vec::new();
        for a in clients.iter().filter_map(|c| c.audience.clone()) {
            if !auds.contains(&a) {
                auds.push(a);
            }
        }
        auds
    });
    let needs_tokens =
        routes.default == Policy::Authenticated || routes.rules.iter().any(|r| r.policy == Policy::Authenticated);
    if audiences.is_empty() && needs_tokens {
        p.push("guard.audiences", "no audience to check tokens against: set guard.audiences or clients.*.audience");
    }
    let mut algorithms = Vec::new();
    for name in g.algorithms.unwrap_or_else(|| vec!["RS256".to_string()]) {
        match name.parse::<jsonwebtoken::Algorithm>() {
            Ok(a) if ASYMMETRIC.contains(&a) => algorithms.push(a),
            _ => p.push(
                "guard.algorithms",
                format!("{name:?} is not allowed: use RS256, RS384, RS512, PS256, PS384, PS512, ES256 or ES384"),
            ),
        }
    }
    let groups_claim = g.groups_claim.unwrap_or_else(|| "https://authgate.local/groups".to_string());
    let pairs = g.identity_headers.unwrap_or_else(|| {
        BTreeMap::from([
            ("x-user-id".to_string(), "sub".to_string()),
            ("x-user-email".to_string(), "email".to_string()),
            ("x-user-groups".to_string(), groups_claim.clone()),
        ])
    });
    let identity_headers = pairs
        .into_iter()
        .filter_map(|(h, claim)| header_name(p, &format!("guard.identity_headers.{h}"), &h).map(|h| (h, claim)))
        .collect();
    let client_header = header_name(p, "guard.client_header", g.client_header.as_deref().unwrap_or("x-client-type"))
        .unwrap_or(http::HeaderName::from_static("x-client-type"));
    let jwks_ttl = g.jwks_ttl_seconds.unwrap_or(600);
    if jwks_ttl < 10 {
        p.push("guard.jwks_ttl_seconds", "must be at least 10");
    }
    Guard {
        audiences,
        algorithms,
        leeway_seconds: g.leeway_seconds.unwrap_or(30),
        jwks_ttl: Duration::from_secs(jwks_ttl),
        jwks_min_refetch: Duration::from_secs(g.jwks_min_refetch_seconds.unwrap_or(30)),
        token_cache_bytes: g.token_cache_bytes.unwrap_or(DEFAULT_TOKEN_CACHE_BYTES),
        require_email_verified: g.require_email_verified.unwrap_or(true),
        groups_claim,
        identity_headers,
        client_header,
        cookie_to_bearer: g.cookie_to_bearer,
    }
}

fn origin(p: &mut Problems, key: &str, value: &str) -> Option<String> {
    let url = http_url(p, key, value)?;
    let origin = url.origin().ascii_serialization();
    if origin != value.trim_end_matches('/') {
        p.push(key, format!("{value:?} is not an origin like https://app.example.com (no path)"));
        return None;
    }
    Some(origin)
}

fn addr(p: &mut Problems, key: &str, value: &str) -> Option<SocketAddr> {
    match value.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            p.push(key, format!("{value:?} is not an address like 127.0.0.1:8080"));
            None
        }
    }
}

pub(super) fn http_url(p: &mut Problems, key: &str, value: &str) -> Option<Url> {
    match Url::parse(value) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => Some(u),
        Ok(_) => {
            p.push(key, format!("{value:?} must be an http:// or https:// URL with a host"));
            None
        }
        Err(e) => {
            p.push(key, format!("{value:?} is not a URL ({e})"));
            None
        }
    }
}

/// The demo's embedded servers may only listen on loopback addresses.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn backend(p: &mut Problems, b: FileBackend) -> Option<Backend> {
    let url = http_url(p, "backend.url", &b.url)?;
    let host = url.host_str()?.to_string();
    let port = url.port_or_known_default()?;
    if b.embedded_echo && !is_loopback(&url) {
        p.push("backend.embedded_echo", format!("the echo backend listens on loopback only, not on {host:?}"));
    }
    Some(Backend {
        address: format!("{host}:{port}"),
        tls: url.scheme() == "https",
        sni: host.trim_start_matches('[').trim_end_matches(']').to_string(),
        url,
        embedded_echo: b.embedded_echo,
    })
}

fn tenant(p: &mut Problems, t: FileTenant) -> Option<Tenant> {
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
    let token_url = join(p, "tenant.paths.token", paths.token, "/oauth/token");
    let ro_url = join(p, "tenant.paths.ro", paths.ro, "/oauth/ro");
    let userinfo_url = join(p, "tenant.paths.userinfo", paths.userinfo, "/userinfo");
    let revoke_url = join(p, "tenant.paths.revoke", paths.revoke, "/oauth/revoke");
    let jwks_url = join(p, "tenant.paths.jwks", paths.jwks, "/.well-known/jwks.json");
    let authorize_url = join(p, "tenant.paths.authorize", paths.authorize, "/authorize");
    let logout_url = join(p, "tenant.paths.logout", paths.logout, "/v2/logout");
    let end_session_url = join(p, "tenant.paths.end_session", paths.end_session, "/oidc/logout");
    let timeout = |p: &mut Problems, key: &str, v: Option<u64>, default: u64| {
        let ms = v.unwrap_or(default);
        if ms == 0 {
            p.push(key, "must be at least 1");
        }
        Duration::from_millis(ms)
    };
    let connect_timeout = timeout(p, "tenant.connect_timeout_ms", t.connect_timeout_ms, 2_000);
    let request_timeout = timeout(p, "tenant.request_timeout_ms", t.request_timeout_ms, 10_000);
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

fn session(p: &mut Problems, s: FileSession, env_duration: Option<String>) -> Session {
    let duration_seconds = match (s.duration_seconds, env_duration) {
        (Some(d), _) => d,
        (None, Some(env)) => env.trim().parse().unwrap_or_else(|_| {
            p.push("SESSION_DURATION_SECONDS", format!("{env:?} is not a number of seconds"));
            0
        }),
        (None, None) => 86_400,
    };
    let cookie_name = s.cookie_name.unwrap_or_else(|| "sid".to_string());
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
    Session {
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
    match crate::signing::Signer::from_pem(&pem) {
        Ok(_) => Some(Secret(pem)),
        Err(e) => {
            p.push(key, e);
            None
        }
    }
}

fn id_token(p: &mut Problems, t: FileIdToken, has_public_url: bool) -> Option<IdTokenKeys> {
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

fn store(p: &mut Problems, s: FileStore) -> Option<RedisStore> {
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
    let timeout_ms = r.timeout_ms.unwrap_or(200);
    if timeout_ms == 0 {
        p.push("store.redis.timeout_ms", "must be at least 1");
    }
    Some(RedisStore {
        mode,
        urls: r.urls,
        sentinel_master,
        username: r.username.filter(|u| !u.is_empty()),
        password: r.password.filter(|p| !p.is_empty()).map(Secret),
        key_prefix: r.key_prefix.unwrap_or_else(|| "authgate:".to_string()),
        timeout: Duration::from_millis(timeout_ms),
        on_error,
    })
}

fn clients(p: &mut Problems, clients: BTreeMap<String, FileClient>) -> Vec<Client> {
    if clients.is_empty() {
        p.push("clients", "at least one client is needed");
    }
    let mut out: Vec<Client> = Vec::new();
    for (name, c) in clients {
        let key = format!("clients.{name}");
        let secrets = c.secret.into_vec();
        if secrets.is_empty() {
            p.push(&format!("{key}.secret"), "at least one secret is needed");
        }
        let mut secret_digests = Vec::new();
        for s in &secrets {
            if s.len() < 8 {
                p.push(&format!("{key}.secret"), "a secret must be at least 8 characters long");
            }
            let digest = secret_digest(s.as_bytes());
            if secret_digests.contains(&digest) {
                p.push(&format!("{key}.secret"), "the same secret is listed twice");
            }
            if let Some(other) = out.iter().find(|o| o.secret_digests.contains(&digest)) {
                p.push(&format!("{key}.secret"), format!("the same secret is used by client {:?}", other.name));
            }
            secret_digests.push(digest);
        }
        if c.client_id.trim().is_empty() {
            p.push(&format!("{key}.client_id"), "must not be empty");
        }
        let auth = client_auth(p, &key, c.token_auth_method.as_deref(), c.private_key_file, c.private_key);
        let client_secret = match c.client_secret {
            Some(s) if !s.is_empty() => Secret(s),
            _ => {
                if !matches!(auth, ClientAuth::PrivateKeyJwt { .. }) {
                    p.push(&format!("{key}.client_secret"), format!("is required with {auth:?}"));
                }
                Secret(String::new())
            }
        };
        let legacy_ro = match c.legacy_ro.as_deref() {
            None | Some("translate") => LegacyRo::Translate,
            Some("forward") => LegacyRo::Forward,
            Some(other) => {
                p.push(&format!("{key}.legacy_ro"), format!("{other:?} is not translate or forward"));
                LegacyRo::Translate
            }
        };
        let mut scopes = Vec::new();
        let mut website = false;
        for s in c.scopes {
            if s.is_empty() || s.contains(char::is_whitespace) {
                p.push(&format!("{key}.scopes"), format!("{s:?} is not a single scope"));
            } else if s == "website" {
                website = true;
            } else if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        if c.connections.is_empty() {
            p.push(&format!("{key}.connections"), "at least one connection is needed");
        }
        let default_connection = match c.default_connection {
            Some(d) if !c.connections.contains(&d) => {
                p.push(&format!("{key}.default_connection"), format!("{d:?} is not in connections"));
                None
            }
            Some(d) => Some(d),
            None if c.connections.len() == 1 => Some(c.connections[0].clone()),
            None => None,
        };
        let same_site = match c.same_site.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("lax") => Some(SameSite::Lax),
            Some("strict") => Some(SameSite::Strict),
            Some("none") => Some(SameSite::None),
            Some(_) => {
                p.push(
                    &format!("{key}.same_site"),
                    format!("{:?} is not Lax, Strict or None", c.same_site.unwrap_or_default()),
                );
                None
            }
        };
        let token_response = match c.token_response.as_deref() {
            None | Some("camel_case") => TokenResponse::CamelCase,
            Some("oauth2") => TokenResponse::OAuth2,
            Some(other) => {
                p.push(&format!("{key}.token_response"), format!("{other:?} is not camel_case or oauth2"));
                TokenResponse::CamelCase
            }
        };
        let allowed_origins =
            c.allowed_origins.iter().filter_map(|o| origin(p, &format!("{key}.allowed_origins"), o)).collect();
        let logout_urls = c
            .logout_urls
            .iter()
            .filter_map(|u| http_url(p, &format!("{key}.logout_urls"), u).map(|_| u.clone()))
            .collect();
        let username_types: Vec<(String, String)> = match c.username_types {
            Some(map) => map.into_iter().collect(),
            None => default_connection
                .iter()
                .flat_map(|d| [("username".to_string(), d.clone()), ("email".to_string(), d.clone())])
                .collect(),
        };
        for (t, conn) in &username_types {
            if !["username", "email", "phone_number"].contains(&t.as_str()) {
                p.push(&format!("{key}.username_types"), format!("{t:?} is not username, email or phone_number"));
            }
            if !c.connections.contains(conn) {
                p.push(&format!("{key}.username_types.{t}"), format!("{conn:?} is not in connections"));
            }
        }
        out.push(Client {
            name,
            secret_digests,
            client_id: c.client_id,
            client_secret,
            audience: c.audience.filter(|a| !a.is_empty()),
            scopes,
            website,
            connections: c.connections,
            default_connection,
            same_site,
            token_response,
            allowed_origins,
            logout_urls,
            legacy_ro,
            auth,
            resources: c.resources,
            username_types,
            management: c.management,
            redirect_url: c.redirect_url.and_then(|u| http_url(p, &format!("{key}.redirect_url"), &u)),
            authorize_state_required: c.authorize_state_required,
            tenant_logout: match c.tenant_logout.as_deref() {
                None => None,
                Some("v2") => Some(TenantLogout::V2),
                Some("oidc") => Some(TenantLogout::Oidc),
                Some(other) => {
                    p.push(&format!("{key}.tenant_logout"), format!("{other:?} is not v2 or oidc"));
                    None
                }
            },
        });
    }
    out
}

fn client_auth(
    p: &mut Problems,
    key: &str,
    method: Option<&str>,
    key_file: Option<String>,
    key_pem: Option<String>,
) -> ClientAuth {
    match method {
        None | Some("client_secret_post") => ClientAuth::SecretPost,
        Some("client_secret_basic") => ClientAuth::SecretBasic,
        Some("private_key_jwt") => {
            let pem = match (key_file, key_pem) {
                (Some(path), None) => std::fs::read_to_string(&path)
                    .map_err(|e| p.push(&format!("{key}.private_key_file"), format!("cannot read {path:?}: {e}")))
                    .ok(),
                (None, Some(pem)) => Some(pem),
                _ => {
                    p.push(key, "private_key_jwt needs exactly one of private_key_file or private_key");
                    None
                }
            };
            match pem.map(|pem| (jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()), pem)) {
                Some((Ok(k), pem)) => ClientAuth::PrivateKeyJwt { key: std::sync::Arc::new(k), pem: Secret(pem) },
                Some((Err(_), _)) => {
                    p.push(&format!("{key}.private_key"), "is not an RSA private key in PEM");
                    ClientAuth::SecretPost
                }
                None => ClientAuth::SecretPost,
            }
        }
        Some(other) => {
            p.push(
                &format!("{key}.token_auth_method"),
                format!("{other:?} is not client_secret_post, client_secret_basic or private_key_jwt"),
            );
            ClientAuth::SecretPost
        }
    }
}

fn dev_tenant(p: &mut Problems, d: FileDevTenant, guard_groups_claim: &str) -> DevTenant {
    let default_directory = d.default_directory.unwrap_or_else(|| DEFAULT_DIRECTORY.to_string());
    let fast_password_hash = match d.password_hash.as_deref() {
        None | Some("standard") => false,
        Some("fast") => true,
        Some(other) => {
            p.push("dev_tenant.password_hash", format!("{other:?} is not standard or fast"));
            false
        }
    };
    let mut users = Vec::new();
    for (i, u) in d.users.into_iter().enumerate() {
        let key = format!("dev_tenant.users[{i}]");
        let otp = u.otp.map(Secret);
        let password = match (u.password, u.password_hash) {
            (Some(pw), None) => DevPassword::Plain(Secret(pw)),
            (None, Some(h)) if h.starts_with("$argon2") => DevPassword::Hash(h),
            (None, Some(_)) => {
                p.push(&format!("{key}.password_hash"), "must be an argon2 PHC string ($argon2id$...)");
                continue;
            }
            // A passwordless user logs in with its one-time code only.
            (None, None) if otp.is_some() => DevPassword::Plain(Secret(String::new())),
            _ => {
                p.push(&key, "needs exactly one of password or password_hash (or an otp)");
                continue;
            }
        };
        let (email, default_conn) = match (u.email, u.phone_number) {
            (Some(e), None) => (e.to_lowercase(), default_directory.clone()),
            (None, Some(phone)) => (phone, "sms".to_string()),
            _ => {
                p.push(&key, "needs exactly one of email or phone_number");
                continue;
            }
        };
        let connection = u.connection.unwrap_or(default_conn);
        if users.iter().any(|o: &DevUser| o.email == email && o.connection == connection) {
            p.push(&format!("{key}.email"), format!("{email:?} is listed twice on connection {connection:?}"));
        }
        users.push(DevUser {
            otp,
            name: u.name.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string()),
            email,
            password,
            connection,
            blocked: u.blocked,
            mfa: u.mfa,
            email_verified: u.email_verified.unwrap_or(true),
            groups: u.groups,
        });
    }
    DevTenant {
        issuer: d.issuer,
        audience: d.audience.unwrap_or_else(|| "https://api.authgate.local".to_string()),
        access_token_ttl_seconds: d.access_token_ttl_seconds.unwrap_or(86_400),
        rotate_refresh_tokens: d.rotate_refresh_tokens,
        fast_password_hash,
        default_directory,
        groups_claim: d.groups_claim.unwrap_or_else(|| guard_groups_claim.to_string()),
        management_scopes: d
            .management_scopes
            .unwrap_or_else(|| MANAGEMENT_SCOPES.iter().map(|s| s.to_string()).collect()),
        management_requests_per_minute: d
            .management_requests_per_minute
            .unwrap_or(DEFAULT_MANAGEMENT_REQUESTS_PER_MINUTE),
        users,
    }
}
