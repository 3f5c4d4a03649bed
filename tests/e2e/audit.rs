//! The audit trail: each security event written once, as one JSON line with its fields, to
//! `audit.file`; never a password, token or secret; never in the logs.

use crate::common::*;
use serde_json::Value;
use std::time::Duration;

/// The audit file's events, one JSON value per line.
fn events(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn named<'a>(all: &'a [Value], event: &str) -> Vec<&'a Value> {
    all.iter().filter(|e| e["event"] == event).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_security_event_is_written_once_with_its_fields_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    let audit = format!("audit: {{ file: \"{}\" }}\nroutes:\n", file.display());
    let s = Stack::start_with(|y| {
        let y = edit(&y, "routes:\n", &audit);
        let y = edit(&y, "    - { prefix: /public/, policy: public }\n", "    - { prefix: /public/, policy: public }\n    - { prefix: /admin/, policy: authenticated, allow: [{ groups: [nobody] }] }\n");
        edit(&y, "guard:\n", "limits: { brute_force: { max_failures: 2, block_seconds: 60 } }\nguard:\n")
    })
    .await;
    let g = &s.gateway;
    let url = format!("{}/oauth/token", g.url);
    let user = s.tenant.subject_of("demo@example.com");

    // A login, two wrong passwords (the second blocks), an unknown secret.
    let (status, login) = s.login("mobile-secret").await;
    assert_eq!(status, 200);
    let access = login["accessToken"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let resp =
            post_form(&url, Some("mobile-secret"), &password_form("partner@example.com", "wrong-password")).await;
        assert_eq!(resp.status(), 403);
    }
    assert_eq!(
        post_form(&url, Some("not-a-known-secret"), &password_form("demo@example.com", DEMO_PASSWORD)).await.status(),
        401
    );
    // A rule's refusal, a logout, an admin ending the sessions, a management call, a reload.
    assert_eq!(g.get("/admin/stats").bearer_auth(&access).send().await.unwrap().status(), 403);
    let cookie = s.website_cookie().await;
    let logout = g.post("/logout").header("cookie", &cookie).header("origin", "https://app.example.com").send();
    assert_eq!(logout.await.unwrap().status(), 204);
    let encoded = user.replace('|', "%7C");
    let ended = g.delete(&format!("/sessions/{encoded}")).header("secret", "admin-secret").send().await.unwrap();
    assert_eq!(ended.status(), 200);
    let got = g.get(&format!("/users/{encoded}")).header("secret", "admin-secret").send().await.unwrap();
    assert_eq!(got.status(), 200);
    g.signal("HUP");
    assert!(eventually(Duration::from_secs(10), async || !named(&events(&file), "config.reloaded").is_empty()).await);

    let all = events(&file);
    let one = |event: &str| -> Value {
        let found = named(&all, event);
        assert_eq!(found.len(), 1, "{event}: {found:?}");
        found[0].clone()
    };
    let logins = named(&all, "login.succeeded");
    let clients: Vec<&str> = logins.iter().filter_map(|l| l["client"].as_str()).collect();
    assert_eq!(clients, ["mobile", "website"], "one event a login");
    let ok = logins[0];
    assert!(ok["request_id"].as_str().is_some_and(|id| id.len() == 36), "the access line's request id: {ok}");
    assert_eq!(
        (ok["client"].as_str(), ok["grant"].as_str(), ok["user"].as_str()),
        (Some("mobile"), Some("password"), Some(user.as_str()))
    );
    assert_eq!(
        (ok["connection"].as_str(), ok["client_ip"].as_str(), ok["schema"].as_u64()),
        (Some("Username-Password-Authentication"), Some("127.0.0.1"), Some(1))
    );
    let failed = named(&all, "login.failed");
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed.iter().all(|f| f["reason"] == "invalid_grant" && f["client"] == "mobile" && f.get("username").is_none()),
        "{failed:?}"
    );
    let blocked = one("brute_force.blocked");
    assert_eq!((blocked["failures"].as_u64(), blocked["block_seconds"].as_u64()), (Some(2), Some(60)));
    assert_eq!(blocked["username_digest"].as_str().map(str::len), Some(32));
    assert_eq!(one("secret.refused")["route"], "token");
    let denied = one("access.denied");
    assert_eq!(
        (denied["rule"].as_str(), denied["path"].as_str(), denied["user"].as_str()),
        (Some("rules[1]:/admin"), Some("/admin/stats"), Some(user.as_str()))
    );
    let out = one("logout");
    assert_eq!((out["client"].as_str(), out["user"].as_str()), (Some("website"), Some(user.as_str())));
    let by_admin = one("sessions.ended");
    assert_eq!(
        (by_admin["by"].as_str(), by_admin["caller"].as_str(), by_admin["user"].as_str()),
        (Some("admin"), Some("admin"), Some(user.as_str()))
    );
    let managed = one("management");
    assert_eq!(
        (managed["operation"].as_str(), managed["user"].as_str(), managed["status"].as_u64()),
        (Some("get"), Some(user.as_str()), Some(200))
    );
    assert_eq!(one("config.reloaded")["accepted"], true);

    // Nothing secret in the trail, and the trail is not in the logs.
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in [
        DEMO_PASSWORD,
        "wrong-password",
        "partner@example.com",
        "mobile-secret",
        "not-a-known-secret",
        "admin-secret",
        access.as_str(),
        cookie.trim_start_matches("sid="),
    ] {
        assert!(!text.contains(secret), "the audit trail holds {secret:?}");
    }
    assert!(!g.logs().contains("\"event\":\"login.succeeded\""), "audit events in the logs");
}
