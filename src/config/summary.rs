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

    /// `allow` rules that may not do what they seem to: one that lists methods leaves the
    /// others to later rules; a client id no configured client has.
    fn allow_warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        for (i, rule) in self.routes.rules.iter().enumerate().filter(|(_, r)| !r.allow.is_empty()) {
            if !rule.methods.is_empty() {
                w.push(format!(
                    "routes.rules[{i}].allow applies to {} only: other methods on {} are decided by later rules",
                    rule.methods.join(", "),
                    if rule.prefix.is_empty() { "/" } else { &rule.prefix }
                ));
            }
            let tokens_clients = rule
                .allow
                .iter()
                .flat_map(|a| &a.conditions)
                .filter(|c| c.need == crate::config::Need::Clients && !c.reads.is_empty());
            for id in tokens_clients.flat_map(|c| &c.values) {
                if !self.clients.iter().any(|c| &c.client_id == id) {
                    w.push(format!(
                        "routes.rules[{i}].allow: clients {id:?} is no configured client: taken as the client_id of an application known only to the tenant"
                    ));
                }
            }
        }
        w
    }

    /// What is valid but probably not meant: printed by `authgate check` and logged at start.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = crate::routing::policy::shadowed_rules(&self.routes);
        w.extend(self.allow_warnings());
        if self.tenant.embedded {
            w.push(format!(
                "tenant.embedded: the dev tenant runs on {} with demo users: never in production",
                self.tenant.base_url
            ));
        }
        w
    }
}
