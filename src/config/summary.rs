//! The `authgate check` summary: what the file configures, without any secret.

use super::{Config, TokenResponse};
use std::fmt::Write;

impl Config {
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "listen {} (admin {}), {} worker thread(s)", self.listen, self.admin_listen, self.threads);
        let echo = if self.backend.embedded_echo { " (embedded echo backend)" } else { "" };
        let _ = writeln!(s, "backend {}{echo}", self.backend.url);
        let dev = if self.tenant.embedded { " (embedded dev tenant)" } else { "" };
        let _ = writeln!(s, "tenant {}{dev}, issuer {}", self.tenant.base_url, self.tenant.issuer);
        let _ = writeln!(s, "clients:");
        for c in &self.clients {
            let answer = match (c.website, c.token_response) {
                (true, _) => "session cookie",
                (false, TokenResponse::CamelCase) => "camel_case tokens",
                (false, TokenResponse::OAuth2) => "oauth2 tokens",
            };
            let _ = writeln!(
                s,
                "  {}: client_id {}, {} secret(s), scopes [{}], connections [{}] (default {}), answers with {answer}",
                c.name,
                c.client_id,
                c.secret_digests.len(),
                c.scopes.join(" "),
                c.connections.join(", "),
                c.default_connection.as_deref().unwrap_or("none: requests must name one"),
            );
        }
        s
    }

    /// What is valid but probably not meant: printed by `authgate check` and logged at start.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = crate::routing::policy::shadowed_rules(&self.routes);
        if self.tenant.embedded {
            w.push(format!(
                "tenant.embedded: the dev tenant runs on {} with demo users: never in production",
                self.tenant.base_url
            ));
        }
        w
    }
}
