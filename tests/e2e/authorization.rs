//! Who may reach which route (`routes.rules[].allow`), end to end: tokens of the dev tenant
//! carrying groups, roles and permissions, through pingora to the echo backend.

use crate::common::*;
use std::time::Duration;

/// The fixture's rules, with `allow` rules in front; the partner user gets a permission.
const RULES: &str = "    - { prefix: /public/, policy: public }\n";
const WITH_ALLOW: &str = "    - { prefix: /admin, policy: authenticated, login_redirect: true, allow: [{ groups: [admins] }] }\n    \
     - { prefix: /reports, policy: authenticated, allow: [{ permissions: ['read:reports'] }, { roles: [auditor] }] }\n    \
     - { prefix: /internal/batch, policy: secret, allow: [{ clients: [service] }] }\n    \
     - { prefix: /public/, policy: public }\n";
const PARTNER: &str = "connection: partners-db }";
const PARTNER_WITH_PERMISSION: &str = "connection: partners-db, permissions: ['read:reports'] }";

const DATABASE: &str = "Username-Password-Authentication";

async fn stack() -> Stack {
    Stack::start_with(|y| {
        let y = edit(&edit(&y, RULES, WITH_ALLOW), PARTNER, PARTNER_WITH_PERMISSION);
        edit(&y, "routes:\n", "routes:\n  login_client: website\n")
    })
    .await
}

/// An access token of `email` on `connection` (a password login through the gateway as the
/// mobile client).
async fn token_of(s: &Stack, email: &str, password: &str, connection: &str) -> String {
    let mut form = password_form(email, password);
    form.push(("connection", connection));
    let resp = post_form(&format!("{}/oauth/token", s.gateway.url), Some("mobile-secret"), &form).await;
    let (status, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");
    body["accessToken"].as_str().or(body["access_token"].as_str()).unwrap().to_string()
}

async fn get(s: &Stack, path: &str, token: &str) -> reqwest::Response {
    s.gateway.get(path).bearer_auth(token).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_decide_who_passes_on_groups_permissions_roles_and_clients() {
    let s = stack().await;
    let demo = token_of(&s, "demo@example.com", DEMO_PASSWORD, DATABASE).await;
    let partner = token_of(&s, "partner@example.com", "partner-password", "partners-db").await;

    // /admin: the admins group. The demo user is in it, the partner is not.
    let resp = get(&s, "/admin/users", &demo).await;
    assert_eq!(resp.status(), 200);
    let echoed: serde_json::Value = resp.json().await.unwrap();
    assert!(echoed["headers"]["x-user-id"].as_str().is_some_and(|u| u.starts_with("auth0|")), "{echoed}");
    let refused = get(&s, "/admin/users", &partner).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.headers().get("www-authenticate").is_none(), "a group is no scope");
    let body = assert_oauth_error(refused, 403, "access_denied").await;
    assert_eq!(body["error_description"], "This route requires group admins.");

    // /reports: the permission, or the auditor role. The partner has the permission.
    assert_eq!(get(&s, "/reports/q3", &partner).await.status(), 200);
    let refused = get(&s, "/reports/q3", &demo).await;
    assert_eq!(refused.status(), 403);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert_eq!(challenge, r#"Bearer error="insufficient_scope", scope="read:reports""#);
    let body = assert_oauth_error(refused, 403, "access_denied").await;
    assert_eq!(body["error_description"], "This route requires one of: (permission read:reports) or (role auditor).");
    // Another spelling of the path is decided the same way (the router normalises first).
    assert_eq!(get(&s, "/reports/./q3", &demo).await.status(), 403);
    assert_eq!(get(&s, "/admin/../reports/q3", &demo).await.status(), 403);
    let other_case = get(&s, "/Reports/q3", &demo).await.status();
    assert!(other_case == 400, "another letter case is refused, not routed around the rule: {other_case}");

    // No token: 401 as before; the rule is about who, once it is known.
    let none = s.gateway.get("/admin/users").send().await.unwrap();
    assert_eq!(none.status(), 401);

    // /internal/batch: a secret route that only the service client's secret opens.
    let batch = |secret: &'static str| s.gateway.get("/internal/batch/run").header("secret", secret).send();
    assert_eq!(batch("service-secret").await.unwrap().status(), 200);
    assert_oauth_error(batch("mobile-secret").await.unwrap(), 403, "access_denied").await;
    assert_eq!(s.gateway.get("/internal/other").header("secret", "mobile-secret").send().await.unwrap().status(), 200);

    // The metrics count the decisions; the access line names the rule.
    let metrics = http().get(format!("{}/metrics", s.gateway.admin_url)).send().await.unwrap().text().await.unwrap();
    for line in [
        r#"authgate_requests_total{client="-",decision="forbidden",route="backend",status="403"}"#,
        r#"authgate_requests_total{client="-",decision="allowed",route="backend",status="200"}"#,
        r#"authgate_requests_total{client="-",decision="unauthenticated",route="backend",status="401"}"#,
    ] {
        assert!(metrics.contains(line), "no {line} in\n{metrics}");
    }
    let logs = s.gateway.logs();
    assert!(logs.lines().any(|l| l.contains("rules[1]:/reports") && l.contains("forbidden")), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_browser_refused_by_a_rule_gets_a_page_not_the_login() {
    let s = stack().await;
    let cookie = s.website_cookie().await;
    let page = |path: &'static str| {
        s.gateway.get(path).header("cookie", &cookie).header("accept", "text/html,application/xhtml+xml").send()
    };
    // The demo user may see /admin; /reports is not open to them: a 403 page, not a redirect
    // to the login (which would come straight back here).
    assert_eq!(page("/admin/").await.unwrap().status(), 200);
    let refused = page("/reports/").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(refused.text().await.unwrap().contains("not open to you"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_swaps_the_rules_for_the_next_request() {
    let s = stack().await;
    let demo = token_of(&s, "demo@example.com", DEMO_PASSWORD, DATABASE).await;
    assert_eq!(get(&s, "/reports/q3", &demo).await.status(), 403);
    // The demo user's group is now enough: the cached verified token is decided again.
    let g = &s.gateway;
    let widened = g.config_text.replace("{ roles: [auditor] }", "{ groups: [staff] }");
    assert_ne!(widened, g.config_text);
    std::fs::write(&g.config_path, &widened).unwrap();
    assert!(eventually(Duration::from_secs(10), async || get(&s, "/reports/q3", &demo).await.status() == 200).await);
}
