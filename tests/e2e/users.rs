//! User management (auth0-client's `/users`) through the real binary, against the dev tenant's Management API:
//! every endpoint and filter, the secret and management checks, a bulk import from submission
//! to its errors, the tenant's refusals and faults, and the gateway's token fetched once.

use crate::common::*;
use serde_json::{json, Value};
use std::time::Duration;

const ADMIN: &str = "admin-secret";

fn users_url(s: &Stack, rest: &str) -> String {
    format!("{}/users{rest}", s.gateway.url)
}

async fn get_as(url: &str, secret: Option<&str>) -> reqwest::Response {
    let req = http().get(url);
    match secret {
        Some(s) => req.header("secret", s),
        None => req,
    }
    .send()
    .await
    .unwrap()
}

async fn list(s: &Stack, query: &str) -> (u16, Value) {
    json(get_as(&users_url(s, query), Some(ADMIN)).await).await
}

fn emails(users: &Value) -> Vec<String> {
    let mut all: Vec<String> =
        users.as_array().expect("an array").iter().map(|u| u["email"].as_str().unwrap().to_string()).collect();
    all.sort();
    all
}

async fn create(s: &Stack, body: Value) -> reqwest::Response {
    http().post(users_url(s, "")).header("secret", ADMIN).json(&body).send().await.unwrap()
}

fn user_path(id: &str) -> String {
    format!("/{}", id.replace('|', "%7C"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_listed_filtered_and_paginated_and_no_value_widens_the_search() {
    let s = Stack::start().await;
    let (status, all) = list(&s, "").await;
    assert_eq!(status, 200, "{all}");
    // The managed connections only: the sms user is not in them.
    let managed = ["blocked@example.com", "demo@example.com", "mfa@example.com", "partner@example.com"];
    assert_eq!(emails(&all), managed);
    assert!(all[0]["user_id"].as_str().unwrap().starts_with("auth0|"));

    assert_eq!(emails(&list(&s, "?email=demo%40example.com").await.1), ["demo@example.com"]);
    assert_eq!(emails(&list(&s, "?connection=partners-db").await.1), ["partner@example.com"]);
    let both = list(&s, "?connection=partners-db&connection=Username-Password-Authentication").await.1;
    assert_eq!(emails(&both), managed);
    assert_eq!(emails(&list(&s, "?app_metadata.groups=admins").await.1), ["demo@example.com"]);
    assert_eq!(emails(&list(&s, "?nickname=partner").await.1), ["partner@example.com"]);

    // _l and _sk: pages of one, each a different user.
    let (first, second) = (list(&s, "?_l=1&_sk=0").await.1, list(&s, "?_l=1&_sk=1").await.1);
    let (_, pair) = list(&s, "?_l=2&_sk=2").await;
    assert_eq!(pair.as_array().unwrap().len(), 2, "skip 2: the second page of two");
    assert_eq!((first.as_array().unwrap().len(), second.as_array().unwrap().len()), (1, 1));
    assert_ne!(first[0]["user_id"], second[0]["user_id"]);
    let beyond = list(&s, "?_l=10&_sk=10").await.1;
    assert_eq!(beyond.as_array().unwrap().len(), 0);

    // Injected Lucene stays a literal value: nothing matches.
    for injection in ["email=a%20OR%20email%3A*", "email=*", "nickname=x%22)%20OR%20(nickname%3A*", "username=a%5C"] {
        let (status, found) = list(&s, &format!("?{injection}")).await;
        assert_eq!((status, found.as_array().map(Vec::len)), (200, Some(0)), "{injection}: {found}");
    }
    let call = s.calls().into_iter().rev().find(|c| c.path.starts_with("/api/v2/users")).unwrap();
    let q = call.query.clone();
    assert!(q.contains("search_engine=v3"), "{q}");

    // A user of a connection the gateway does not manage (the sms user) is not there for it.
    let sms = s.tenant.subject_of("+15555550100");
    let url = users_url(&s, &user_path(&sms));
    let (status, body) = json(get_as(&url, Some(ADMIN)).await).await;
    assert_eq!((status, body["errorCode"].as_str()), (404, Some("inexistent_user")), "{body}");
    let resp = http().patch(&url).header("secret", ADMIN).json(&json!({"blocked": true})).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(http().delete(&url).header("secret", ADMIN).send().await.unwrap().status(), 404);
    let fetched = s.tenant.user_json(&sms).expect("still there, unchanged");
    assert_eq!(fetched["blocked"], false);

    for bad in ["?connection=sms", "?_l=10&_sk=5", "?_l=0", "?_l=101", "?_sk=x", "?q=email:*", "?email=a&email=b"] {
        let resp = get_as(&users_url(&s, bad), Some(ADMIN)).await;
        assert_oauth_error(resp, 400, "invalid_request").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_management_clients_reach_the_endpoints() {
    let s = Stack::start().await;
    let targets: [(reqwest::Method, &str); 8] = [
        (reqwest::Method::GET, ""),
        (reqwest::Method::POST, ""),
        (reqwest::Method::GET, "/auth0%7Cx"),
        (reqwest::Method::PATCH, "/auth0%7Cx"),
        (reqwest::Method::DELETE, "/auth0%7Cx"),
        (reqwest::Method::POST, "/import"),
        (reqwest::Method::GET, "/import/status/job_x"),
        (reqwest::Method::GET, "/import/status/job_x/errors"),
    ];
    for (method, rest) in &targets {
        let url = users_url(&s, rest);
        let none = http().request(method.clone(), &url).send().await.unwrap();
        assert_oauth_error(none, 401, "invalid_client").await;
        let wrong = http().request(method.clone(), &url).header("secret", "wrong").send().await.unwrap();
        assert_oauth_error(wrong, 401, "invalid_client").await;
        let mobile = http().request(method.clone(), &url).header("secret", "mobile-secret").send().await.unwrap();
        assert!(mobile.headers().contains_key("x-ratelimit-limit"), "limited per client: {method} {rest}");
        assert_oauth_error(mobile, 403, "access_denied").await;
    }
    assert!(s.calls().iter().all(|c| !c.path.starts_with("/api/v2")), "no refused call reached the tenant");
    // An import's larger body is only for management clients: anyone else is held to the usual
    // limit before the body is read.
    let big = multipart(&[], Some(&"x".repeat(100 * 1024)));
    let resp =
        http().post(users_url(&s, "/import")).header("secret", "mobile-secret").multipart(big).send().await.unwrap();
    assert_oauth_error(resp, 413, "payload_too_large").await;
    let resp = http().put(users_url(&s, "/auth0%7Cx")).header("secret", ADMIN).send().await.unwrap();
    assert_eq!(resp.headers()["allow"], "GET, PATCH, DELETE");
    assert_oauth_error(resp, 405, "method_not_allowed").await;
    for other in ["/USERS", "/users/", "/Users/me"] {
        let resp = get_as(&format!("{}{other}", s.gateway.url), Some(ADMIN)).await;
        assert_eq!(resp.status(), 404, "{other}: another spelling is neither answered nor proxied");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_is_created_patched_and_deleted_and_logs_in_in_between() {
    let s = Stack::start().await;
    let resp = create(&s, json!({"email": "new@example.com", "password": "new-password-1", "name": "New"})).await;
    let (status, user) = json(resp).await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["identities"][0]["connection"], "Username-Password-Authentication", "the default connection");
    let id = user["user_id"].as_str().unwrap().to_string();
    let call = s.calls().into_iter().rev().find(|c| c.path == "/api/v2/users").unwrap();
    assert_eq!(param(&call, "connection"), Some("Username-Password-Authentication"));

    // The new user logs in.
    let token_url = format!("{}/oauth/token", s.gateway.url);
    let new_user = password_form("new@example.com", "new-password-1");
    let login = || post_form(&token_url, Some("mobile-secret"), &new_user);
    let (status, tokens) = json(login().await).await;
    assert_eq!(status, 200, "{tokens}");

    // The same again: the tenant's 409, its body passed on with an error_description.
    let again = create(&s, json!({"email": "new@example.com", "password": "new-password-1"})).await;
    let (status, body) = json(again).await;
    assert_eq!((status, body["errorCode"].as_str()), (409, Some("auth0_idp_error")), "{body}");
    assert!(body["error_description"].is_string());

    // Bad bodies.
    let form = http().post(users_url(&s, "")).header("secret", ADMIN).form(&[("email", "x@y.z")]).send().await.unwrap();
    assert_oauth_error(form, 415, "unsupported_media_type").await;
    let broken = http()
        .post(users_url(&s, ""))
        .header("secret", ADMIN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_oauth_error(broken, 400, "invalid_request").await;
    let unmanaged =
        create(&s, json!({"email": "x@example.com", "password": "x-password-1", "connection": "sms"})).await;
    assert_oauth_error(unmanaged, 400, "invalid_request").await;
    let (status, body) =
        json(create(&s, json!({"email": "y@example.com", "password": "y-password-1", "bogus": 1})).await).await;
    assert_eq!((status, body["errorCode"].as_str()), (400, Some("invalid_body")), "the tenant's refusal: {body}");

    // PATCH: app_metadata merged, shown by GET.
    let url = users_url(&s, &user_path(&id));
    let patch = json!({"app_metadata": {"groups": ["editors"]}, "nickname": "newbie"});
    let resp = http().patch(&url).header("secret", ADMIN).json(&patch).send().await.unwrap();
    let (status, patched) = json(resp).await;
    assert_eq!((status, patched["nickname"].as_str()), (200, Some("newbie")), "{patched}");
    let (status, fetched) = json(get_as(&url, Some(ADMIN)).await).await;
    assert_eq!((status, fetched["app_metadata"]["groups"].clone()), (200, json!(["editors"])));
    assert_eq!(emails(&list(&s, "?app_metadata.groups=editors").await.1), ["new@example.com"]);
    let patch_call = s.calls().into_iter().rev().find(|c| c.path.starts_with("/api/v2/users/")).unwrap();
    assert!(
        patch_call.path.ends_with(&id.replace('|', "%7C")) || patch_call.path.ends_with(&id),
        "{}",
        patch_call.path
    );

    // A session of the user ends when the user is deleted.
    let resp = post_form(&token_url, Some("website-secret"), &password_form("new@example.com", "new-password-1")).await;
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let page = format!("{}/api/profile", s.gateway.url);
    assert_eq!(http().get(&page).header("cookie", &cookie).send().await.unwrap().status(), 200);
    let resp = http().delete(&url).header("secret", ADMIN).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert!(
        eventually(Duration::from_secs(5), async || {
            http().get(&page).header("cookie", &cookie).send().await.unwrap().status() == 401
        })
        .await,
        "the deleted user's session ended"
    );
    let (status, body) = json(get_as(&url, Some(ADMIN)).await).await;
    assert_eq!((status, body["errorCode"].as_str()), (404, Some("inexistent_user")));
    assert_oauth_error(login().await, 403, "invalid_grant").await;
}

fn multipart(fields: &[(&str, &str)], users: Option<&str>) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    if let Some(u) = users {
        let part = reqwest::multipart::Part::bytes(u.as_bytes().to_vec()).file_name("users.json");
        form = form.part("users", part.mime_str("application/json").unwrap());
    }
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    form
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_import_runs_from_submission_to_its_errors() {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let s = Stack::start().await;
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default().hash_password(b"imported-password", &salt).unwrap();
    let rows = json!([
        {"email": "imported@example.com", "email_verified": true, "password_hash": hash.to_string(),
         "app_metadata": {"groups": ["imported"]}},
        {"email": "not-an-email"},
        {"email": "demo@example.com"},
        {"email": "extra@example.com", "favourite_colour": "blue"},
    ]);
    let url = users_url(&s, "/import");
    let send = |form| http().post(&url).header("secret", ADMIN).multipart(form).send();
    let resp = send(multipart(&[("connection_id", "con_test_db")], Some(&rows.to_string()))).await.unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;
    let resp = send(multipart(&[("connection", "sms")], Some(&rows.to_string()))).await.unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;
    let resp = send(multipart(&[("upsert", "false")], None)).await.unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;

    let resp = send(multipart(&[("upsert", "false"), ("external_id", "batch-1")], Some(&rows.to_string())));
    let (status, job) = json(resp.await.unwrap()).await;
    assert_eq!((status, job["type"].as_str()), (201, Some("users_import")), "{job}");
    assert_eq!(job["connection_id"], "con_test_db", "the default connection's id");
    let id = job["id"].as_str().unwrap().to_string();
    let call = s.calls().into_iter().find(|c| c.path == "/api/v2/jobs/users-imports").unwrap();
    assert!(header(&call, "content-type").unwrap().starts_with("multipart/form-data"));

    let status_url = users_url(&s, &format!("/import/status/{id}"));
    let mut done = Value::Null;
    let completed = eventually(Duration::from_secs(10), async || {
        done = json(get_as(&status_url, Some(ADMIN)).await).await.1;
        done["status"] == "completed"
    })
    .await;
    assert!(completed, "{done}");
    assert_eq!(done["summary"], json!({"failed": 3, "updated": 0, "inserted": 1, "total": 4}));

    let (status, errors) = json(get_as(&format!("{status_url}/errors"), Some(ADMIN)).await).await;
    assert_eq!(status, 200);
    let codes: Vec<&str> =
        errors.as_array().unwrap().iter().map(|e| e["errors"][0]["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["INVALID_FORMAT", "DUPLICATED_USER", "OBJECT_ADDITIONAL_PROPERTIES"], "{errors}");
    assert_eq!(errors[0]["user"]["email"], "not-an-email");

    // The imported user logs in with the password of its hash.
    let token_url = format!("{}/oauth/token", s.gateway.url);
    let imported = password_form("imported@example.com", "imported-password");
    assert_eq!(post_form(&token_url, Some("mobile-secret"), &imported).await.status(), 200);

    let (status, body) = json(get_as(&users_url(&s, "/import/status/job_nope"), Some(ADMIN)).await).await;
    assert_eq!((status, body["errorCode"].as_str()), (404, Some("inexistent_job")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_token_is_fetched_once_for_many_calls() {
    let s = Stack::start().await;
    let calls = (0..12).map(|i| {
        let url = users_url(&s, &format!("?_l={}", i + 1));
        async move { get_as(&url, Some(ADMIN)).await.status() }
    });
    let statuses = futures_util::future::join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(list(&s, "").await.0, 200);
    assert_eq!(s.tenant.management_grants(), 1, "one client_credentials grant for every call");
    let grant = s.calls().into_iter().find(|c| param(c, "grant_type") == Some("client_credentials")).unwrap();
    assert_eq!(param(&grant, "audience"), Some(&*format!("{}/api/v2/", s.tenant.base_url())));
    let logs = s.gateway.logs();
    let token = s.calls().iter().find_map(|c| header(c, "authorization").map(str::to_string)).unwrap();
    assert!(!logs.contains(token.trim_start_matches("Bearer ")), "the management token is never logged");
    assert!(!logs.contains("test-management-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_me_is_the_callers_own_profile() {
    let s = Stack::start().await;
    let (_, tokens) = s.login("mobile-secret").await;
    let at = tokens["accessToken"].as_str().unwrap();
    let url = users_url(&s, "/me");
    let (status, me) = json(http().get(&url).bearer_auth(at).send().await.unwrap()).await;
    assert_eq!((status, me["email"].as_str()), (200, Some("demo@example.com")), "{me}");
    assert_eq!(me["user_id"], claims(at)["sub"]);
    let cookie = s.website_cookie().await;
    let resp = http().get(&url).header("cookie", cookie).send().await.unwrap();
    assert!(resp.headers().contains_key("x-ratelimit-limit"));
    assert_eq!(json(resp).await.1["email"], "demo@example.com");
    assert_oauth_error(http().get(&url).send().await.unwrap(), 401, "invalid_token").await;
    assert_oauth_error(http().get(&url).bearer_auth("x.y.z").send().await.unwrap(), 401, "invalid_token").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenants_refusals_and_limits_are_passed_on() {
    let s = Stack::start_edited("  audience: https://api.test\n  password_hash: fast", "  audience: https://api.test\n  password_hash: fast\n  management_requests_per_minute: 4\n  management_scopes: [read:users]").await;
    // The scope the tenant did not grant: its 403 passed on.
    let (status, body) = json(create(&s, json!({"email": "z@example.com", "password": "z-password-1"})).await).await;
    assert_eq!((status, body["errorCode"].as_str()), (403, Some("insufficient_scope")), "{body}");
    let mut last = None;
    for _ in 0..6 {
        let resp = get_as(&users_url(&s, ""), Some(ADMIN)).await;
        if resp.status() == 429 {
            last = Some(resp);
            break;
        }
    }
    let resp = last.expect("the tenant's limit is reached");
    for h in ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after"] {
        assert!(resp.headers().contains_key(h), "{h}");
    }
    assert_eq!(resp.headers()["x-ratelimit-limit"], "4", "the tenant's limit, not the gateway's");
    assert_eq!(json(resp).await.1["errorCode"], "too_many_requests");
}

/// The configuration with the Management API at `url`; the token still comes from the dev
/// tenant, for its own Management API audience.
fn management_at(yaml: String, url: &str) -> String {
    let tenant = yaml.split("tenant:\n  url: \"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let block = format!("management:\n  url: {url}\n  audience: {tenant}/api/v2/\n");
    yaml.replace("management:\n", &block)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_or_slow_management_api_is_a_bad_gateway_or_a_timeout() {
    let s = Stack::start_with(|y| management_at(y, &format!("{NOTHING_LISTENS}/api/v2"))).await;
    let resp = get_as(&users_url(&s, ""), Some(ADMIN)).await;
    assert_oauth_error(resp, 502, "bad_gateway").await;
    // The token comes from the tenant: its calls to a dead Management API fail after it.
    assert_eq!(list(&s, "?_l=1").await.0, 502);
    drop(s);

    // A Management API that accepts and never answers.
    let (silent, addr) = listener().await;
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            open.push(c);
        }
    });
    let s = Stack::start_with(|y| {
        management_at(y, &format!("http://{addr}/api/v2"))
            .replace("request_timeout_ms: 5000", "request_timeout_ms: 1000")
    })
    .await;
    let resp = get_as(&users_url(&s, ""), Some(ADMIN)).await;
    assert_oauth_error(resp, 504, "gateway_timeout").await;
    held.abort();
}
