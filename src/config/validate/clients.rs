//! The `clients` block: each client's secrets, tenant credentials, connections and cookie.

use super::defaults::DEFAULT_USERNAME_TYPES;
use super::scalars::{http_url, origin};
use super::Problems;
use crate::config::file::FileClient;
use crate::config::model::{
    secret_digest, Client, ClientAuth, LegacyRo, SameSite, Secret, TenantLogout, TokenResponse,
};
use std::collections::BTreeMap;

pub(super) fn clients(p: &mut Problems, clients: BTreeMap<String, FileClient>) -> Vec<Client> {
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
                .flat_map(|d| DEFAULT_USERNAME_TYPES.map(|t| (t.to_string(), d.clone())))
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
