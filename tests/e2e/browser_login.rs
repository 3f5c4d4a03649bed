//! Browser login over real sockets, step by step as a browser makes it: `/authorize` → the
//! dev tenant's login form → the callback → the session cookie; the code grant on
//! `/oauth/token`; `login_redirect`; tenant logout; and every way to break it refused (state
//! mismatch, a replayed code, a wrong PKCE verifier, a nonce mismatch, open redirects).
//! The same flow in a real browser: `.ci/browser.sh`.

use crate::common::*;
use serde_json::Value;

fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_string()
}

/// The `name=value` of the first `Set-Cookie` whose name starts with `prefix`.
fn set_cookie(resp: &reqwest::Response, prefix: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap().to_string())
        .find(|pair| pair.starts_with(prefix))
}

fn query_of(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A login started at the gateway: the tenant's login URL and the transaction cookie.
async fn start(s: &Stack, query: &str) -> (String, String) {
    let resp = http().get(format!("{}/authorize?{query}", s.gateway.url)).send().await.unwrap();
    assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
    let tx = set_cookie(&resp, "sid_tx_").expect("a transaction cookie");
    let raw = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(raw.contains("HttpOnly") && raw.contains("Secure") && raw.contains("SameSite=Lax"), "{raw}");
    assert!(raw.contains("Path=/callback"), "only the callback gets it, never the backend: {raw}");
    (location(&resp), tx)
}

/// The user signs in on the tenant's form; the tenant's redirect back to the gateway.
async fn sign_in(login_url: &str, username: &str, password: &str) -> String {
    let page = http().get(login_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"username\"") && html.contains("name=\"password\""), "{html}");
    let mut form = query_of(login_url);
    form.push(("username".into(), username.into()));
    form.push(("password".into(), password.into()));
    let action = login_url.split('?').next().unwrap();
    let resp = http().post(action).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
    location(&resp)
}

async fn callback(url: &str, tx: &str) -> reqwest::Response {
    http().get(url).header("cookie", tx).header("accept", "application/json").send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_logs_in_through_the_tenants_page_and_lands_where_it_asked() {
    let s = Stack::start().await;
    let (login_url, tx) = start(&s, "client=website&redirect=%2Fapp%2Forders%3Fid%3D7").await;
    let q = query_of(&login_url);
    assert!(login_url.starts_with(&format!("{}/authorize?", s.tenant.base_url())), "{login_url}");
    assert_eq!(get(&q, "response_type"), Some("code"));
    assert_eq!(get(&q, "client_id"), Some("website-app"));
    assert_eq!(get(&q, "redirect_uri"), Some(&*format!("{}/callback", s.gateway.url)));
    assert_eq!(get(&q, "code_challenge_method"), Some("S256"));
    assert_eq!(get(&q, "connection"), Some("Username-Password-Authentication"));
    assert!(get(&q, "scope").unwrap().split(' ').any(|x| x == "openid"));
    assert!(get(&q, "nonce").is_some_and(|n| n.len() >= 32));

    let back = sign_in(&login_url, "demo@example.com", DEMO_PASSWORD).await;
    assert!(back.starts_with(&format!("{}/callback?", s.gateway.url)), "{back}");
    let resp = callback(&back, &tx).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(location(&resp), "/app/orders?id=7");
    let sid = set_cookie(&resp, "sid=").expect("the session cookie");
    let cleared = resp.headers().get_all("set-cookie").iter().any(|v| {
        let v = v.to_str().unwrap();
        v.starts_with("sid_tx_") && v.contains("Max-Age=0")
    });
    assert!(cleared, "the transaction cookie is cleared");

    // The cookie is a session: the backend sees the user.
    let (status, echo) = json(s.gateway.get("/app/orders").header("cookie", &sid).send().await.unwrap()).await;
    assert_eq!((status, echo["headers"]["x-user-email"].as_str()), (200, Some("demo@example.com")));

    // The tenant saw the code exchange with the verifier of the challenge it was given.
    let exchange = s.calls().into_iter().find(|c| param(c, "grant_type") == Some("authorization_code")).unwrap();
    let verifier = param(&exchange, "code_verifier").unwrap();
    assert_eq!(authgate::login::challenge(verifier), get(&q, "code_challenge").unwrap());

    // The same code again (the old cookie replayed too): the tenant refuses it, never a 5xx.
    let resp = callback(&back, &tx).await;
    assert_oauth_error(resp, 403, "invalid_grant").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_that_is_not_this_browsers_login_is_refused() {
    let s = Stack::start().await;
    let (login_url, tx) = start(&s, "client=website").await;
    let back = sign_in(&login_url, "demo@example.com", DEMO_PASSWORD).await;
    // No transaction cookie, another browser's, or a state that is not the cookie's.
    assert_oauth_error(callback(&back, "other=1").await, 400, "invalid_request").await;
    let (_, other_tx) = start(&s, "client=website").await;
    assert_oauth_error(callback(&back, &other_tx).await, 400, "invalid_request").await;
    let forged = back.replace("state=", "state=x");
    assert_oauth_error(callback(&forged, &tx).await, 400, "invalid_request").await;
    let tampered = format!("{}A", tx);
    assert_oauth_error(callback(&back, &tampered).await, 400, "invalid_request").await;
    // A browser gets the refusal as a page.
    let page = http().get(&forged).header("cookie", &tx).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    // The code is still good for the browser that started the login.
    assert_eq!(callback(&back, &tx).await.status(), 302);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_minted_for_another_nonce_is_refused() {
    let s = Stack::start().await;
    let (login_url, tx) = start(&s, "client=website").await;
    // The attacker's own login at the tenant, with this browser's challenge and state but
    // another nonce: PKCE passes, the nonce does not.
    let other = login_url.replace("nonce=", "nonce=attacker");
    let back = sign_in(&other, "demo@example.com", DEMO_PASSWORD).await;
    assert_oauth_error(callback(&back, &tx).await, 400, "invalid_grant").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenants_errors_and_bad_starts_are_clear_refusals() {
    let s = Stack::start().await;
    let (login_url, tx) = start(&s, "client=website").await;
    // The user cancels at the tenant: access_denied comes back, a 403, never a 5xx.
    let mut form = query_of(&login_url);
    form.push(("cancel".into(), "1".into()));
    let resp = http().post(login_url.split('?').next().unwrap()).form(&form).send().await.unwrap();
    let back = location(&resp);
    assert!(back.contains("error=access_denied"), "{back}");
    assert_oauth_error(callback(&back, &tx).await, 403, "access_denied").await;

    for bad in ["client=nobody", "client=service", "client=website&connection=partners-db", ""] {
        let resp = http().get(format!("{}/authorize?{bad}", s.gateway.url)).send().await.unwrap();
        assert_oauth_error(resp, 400, "invalid_request").await;
    }
    let resp = s.gateway.post("/authorize").send().await.unwrap();
    assert_eq!(resp.status(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_redirects_fall_back_to_the_root() {
    let s = Stack::start().await;
    for evil in ["https%3A%2F%2Fevil.example%2F", "%2F%2Fevil.example", "%2F%5Cevil.example", "javascript%3Aalert(1)"] {
        let (login_url, tx) = start(&s, &format!("client=website&redirect={evil}")).await;
        let back = sign_in(&login_url, "demo@example.com", DEMO_PASSWORD).await;
        let resp = callback(&back, &tx).await;
        assert_eq!((resp.status().as_u16(), location(&resp)), (302, "/".to_string()), "{evil}");
    }
    let (login_url, tx) = start(&s, "client=website&redirect=https%3A%2F%2Fapp.example.com%2Fhome").await;
    let back = sign_in(&login_url, "demo@example.com", DEMO_PASSWORD).await;
    assert_eq!(location(&callback(&back, &tx).await), "https://app.example.com/home", "an allowed origin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_may_run_the_code_exchange_themselves() {
    let s = Stack::start().await;
    // The client talks to the tenant itself (its own PKCE pair), then hands the code over.
    let verifier = "a-verifier-of-the-client-that-is-long-enough-0123456789";
    let challenge = authgate::login::challenge(verifier);
    let redirect = format!("{}/mobile/callback", s.gateway.url);
    let login_url_for = |scope: &str, audience: &str| {
        format!(
            "{}/authorize?response_type=code&client_id=mobile-app&redirect_uri={}&scope={}&audience={}&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256",
            s.tenant.base_url(),
            urlencode(&redirect),
            urlencode(scope),
            urlencode(audience),
        )
    };
    let login_url = login_url_for("openid offline_access", "https://api.test");
    let token_url = format!("{}/oauth/token", s.gateway.url);
    let exchange = |code: String, verifier: &'static str| {
        let form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code),
            ("redirect_uri", redirect.clone()),
            ("code_verifier", verifier.to_string()),
        ];
        let url = token_url.clone();
        async move { http().post(url).header("secret", "mobile-secret").form(&form).send().await.unwrap() }
    };
    let code_of = |back: String| get(&query_of(&back), "code").unwrap().to_string();

    let back = sign_in(&login_url, "demo@example.com", DEMO_PASSWORD).await;
    assert_eq!(get(&query_of(&back), "state"), Some("s1"));
    let resp = exchange(code_of(back), "the-wrong-verifier-0123456789012345678901234567").await;
    assert_oauth_error(resp, 403, "invalid_grant").await;

    let back = sign_in(&login_url, "demo@example.com", DEMO_PASSWORD).await;
    let code = code_of(back);
    let (status, tokens) = json(exchange(code.clone(), verifier).await).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["accessToken"].is_string() && tokens["refreshToken"].is_string(), "the client's shape: {tokens}");
    assert_eq!(claims(tokens["idToken"].as_str().unwrap())["nonce"], "n1");
    assert_oauth_error(exchange(code, verifier).await, 403, "invalid_grant").await;

    // A code for more than the client may have: refused, its refresh token revoked.
    for (scope, audience) in
        [("openid offline_access read:everything", "https://api.test"), ("openid", "https://other.test")]
    {
        let back = sign_in(&login_url_for(scope, audience), "demo@example.com", DEMO_PASSWORD).await;
        assert_oauth_error(exchange(code_of(back), verifier).await, 403, "access_denied").await;
    }
    // Only a client with a redirect_url, and only that redirect_uri.
    let form = [("grant_type", "authorization_code"), ("code", "x"), ("code_verifier", verifier)];
    let resp = http().post(&token_url).header("secret", "service-secret").form(&form).send().await.unwrap();
    assert_oauth_error(resp, 400, "unauthorized_client").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("code_verifier", verifier),
        ("redirect_uri", "https://evil.example/cb"),
    ];
    let resp = http().post(&token_url).header("secret", "mobile-secret").form(&form).send().await.unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_loads_without_a_session_go_to_the_login_and_api_calls_keep_their_401() {
    let s = Stack::start_edited("routes:\n", "routes:\n  login_redirect: true\n  login_client: website\n").await;
    let page = format!("{}/app/page?x=1", s.gateway.url);
    let resp = http().get(&page).header("accept", "text/html,application/xhtml+xml").send().await.unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(location(&resp), "/authorize?client=website&redirect=%2Fapp%2Fpage%3Fx%3D1");
    let api = http().get(&page).header("accept", "application/json").send().await.unwrap();
    assert_oauth_error(api, 401, "invalid_token").await;
    let post = http().post(&page).header("accept", "text/html").send().await.unwrap();
    assert_eq!(post.status(), 401, "only page loads");
    // With a bad token a page load also goes to the login.
    let resp = http().get(&page).header("accept", "text/html").bearer_auth("x.y.z").send().await.unwrap();
    assert_eq!(resp.status(), 302);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_also_ends_the_tenants_session_when_configured() {
    let s = Stack::start_edited(
        "    logout_urls: [https://app.example.com/bye]\n",
        "    logout_urls: [https://app.example.com/bye]\n    tenant_logout: v2\n",
    )
    .await;
    let cookie = s.website_cookie().await;
    let resp = s
        .gateway
        .get("/logout?returnTo=https%3A%2F%2Fapp.example.com%2Fbye")
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert!(resp.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let to = location(&resp);
    assert!(to.starts_with(&format!("{}/v2/logout?", s.tenant.base_url())), "{to}");
    let q = query_of(&to);
    assert_eq!(get(&q, "client_id"), Some("website-app"));
    assert_eq!(get(&q, "returnTo"), Some("https://app.example.com/bye"));
    // The tenant sends the browser on to the allowed returnTo.
    let at_tenant = http().get(&to).send().await.unwrap();
    assert_eq!((at_tenant.status().as_u16(), location(&at_tenant)), (302, "https://app.example.com/bye".to_string()));
    let gone: Value = json(s.gateway.get("/api/x").header("cookie", &cookie).send().await.unwrap()).await.1;
    assert_eq!(gone["error"], "invalid_token");
}
