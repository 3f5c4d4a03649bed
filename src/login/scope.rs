//! The scope sent to the tenant: what was asked (or the client's scopes when nothing was),
//! only scopes the client allows, `openid` always, no duplicates, never `website`.

use crate::config::Client;

pub fn upstream_scope(requested: Option<&str>, client: &Client) -> String {
    let mut out: Vec<&str> = vec!["openid"];
    let wanted: Vec<&str> = match requested {
        Some(r) => r.split_whitespace().collect(),
        None => client.scopes.iter().map(String::as_str).collect(),
    };
    for s in wanted {
        if s != "website" && client.scopes.iter().any(|a| a == s) && !out.contains(&s) {
            out.push(s);
        }
    }
    out.join(" ")
}

/// Two scope strings name the same set of scopes.
pub(crate) fn same_scopes(a: &str, b: &str) -> bool {
    let mut x: Vec<&str> = a.split_whitespace().collect();
    let mut y: Vec<&str> = b.split_whitespace().collect();
    x.sort_unstable();
    x.dedup();
    y.sort_unstable();
    y.dedup();
    x == y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Secret, TokenResponse};

    fn client(scopes: &[&str]) -> Client {
        Client {
            name: "c".into(),
            secret_digests: vec![],
            client_id: "id".into(),
            client_secret: Secret("s".into()),
            audience: None,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            website: false,
            connections: vec!["db".into()],
            default_connection: Some("db".into()),
            same_site: None,
            token_response: TokenResponse::CamelCase,
            allowed_origins: vec![],
            logout_urls: vec![],
            legacy_ro: crate::config::LegacyRo::Translate,
            auth: crate::config::ClientAuth::SecretPost,
            resources: vec![],
            username_types: vec![],
            management: false,
            redirect_url: None,
            authorize_state_required: false,
            tenant_logout: None,
        }
    }

    #[test]
    fn openid_is_added_and_duplicates_removed() {
        let c = client(&["openid", "email", "offline_access"]);
        assert_eq!(upstream_scope(Some("email email"), &c), "openid email");
        assert_eq!(upstream_scope(Some("offline_access openid"), &c), "openid offline_access");
    }

    #[test]
    fn scopes_the_client_does_not_allow_are_dropped_and_website_never_sent() {
        let c = client(&["profile"]);
        assert_eq!(upstream_scope(Some("profile admin website"), &c), "openid profile");
    }

    #[test]
    fn the_client_scopes_are_the_default() {
        let c = client(&["profile", "offline_access"]);
        assert_eq!(upstream_scope(None, &c), "openid profile offline_access");
    }

    #[test]
    fn scope_sets_compare_without_order() {
        assert!(same_scopes("openid email", "email  openid"));
        assert!(!same_scopes("openid", "openid email"));
    }
}
