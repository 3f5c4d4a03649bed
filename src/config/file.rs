//! The serde mirror of `gateway.yaml`: loose types, every key documented in the README.
//! Unknown keys are refused; `model.rs` turns this into the validated model.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub admin_listen: Option<String>,
    pub threads: Option<usize>,
    pub grace_period_seconds: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub backend: FileBackend,
    pub tenant: FileTenant,
    pub dev_tenant: Option<FileDevTenant>,
    #[serde(default)]
    pub session: FileSession,
    pub clients: BTreeMap<String, FileClient>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBackend {
    pub url: String,
    #[serde(default)]
    pub embedded_echo: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTenant {
    pub url: String,
    #[serde(default)]
    pub embedded: bool,
    pub issuer: Option<String>,
    pub connect_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    #[serde(default)]
    pub paths: FileTenantPaths,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTenantPaths {
    pub token: Option<String>,
    pub ro: Option<String>,
    pub userinfo: Option<String>,
    pub revoke: Option<String>,
    pub jwks: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSession {
    pub duration_seconds: Option<u64>,
    pub cookie_name: Option<String>,
    pub refresh_expired_grace_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileClient {
    pub secret: OneOrMany,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub audience: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub connections: Vec<String>,
    pub default_connection: Option<String>,
    pub same_site: Option<String>,
    pub token_response: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDevTenant {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub access_token_ttl_seconds: Option<u64>,
    #[serde(default)]
    pub rotate_refresh_tokens: bool,
    pub password_hash: Option<String>,
    pub default_directory: Option<String>,
    #[serde(default)]
    pub users: Vec<FileDevUser>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDevUser {
    pub email: String,
    pub password: Option<String>,
    pub password_hash: Option<String>,
    pub connection: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub blocked: bool,
    #[serde(default)]
    pub mfa: bool,
}
