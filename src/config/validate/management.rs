//! The `management` block: the tenant's Management API v2 and its machine-to-machine client.

use super::defaults::DEFAULT_MANAGEMENT_API_PATH;
use super::scalars::http_url;
use super::Problems;
use crate::config::file::FileManagement;
use crate::config::model::{Management, Secret, Tenant};

pub(super) fn management(p: &mut Problems, m: FileManagement, tenant: Option<&Tenant>) -> Option<Management> {
    let url = match m.url {
        Some(u) => http_url(p, "management.url", &u)?,
        None => {
            let base = tenant?.base_url.as_str().trim_end_matches('/').to_string();
            url::Url::parse(&format!("{base}{DEFAULT_MANAGEMENT_API_PATH}")).ok()?
        }
    };
    let trimmed = url.as_str().trim_end_matches('/').to_string();
    let url = url::Url::parse(&trimmed).ok()?;
    let audience = m.audience.unwrap_or_else(|| format!("{trimmed}/"));
    for (key, value) in [("management.client_id", &m.client_id), ("management.client_secret", &m.client_secret)] {
        if value.trim().is_empty() {
            p.push(key, "must not be empty");
        }
    }
    for (name, id) in &m.connections {
        if name.is_empty() || id.trim().is_empty() {
            p.push("management.connections", format!("{name:?}: a connection name needs its connection id"));
        }
    }
    if let Some(d) = &m.default_connection {
        if !m.connections.is_empty() && !m.connections.contains_key(d) {
            p.push("management.default_connection", format!("{d:?} is not listed in management.connections"));
        }
    }
    Some(Management {
        url,
        audience,
        client_id: m.client_id,
        client_secret: Secret(m.client_secret),
        default_connection: m.default_connection,
        connections: m.connections.into_iter().collect(),
    })
}
