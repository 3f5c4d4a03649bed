//! The tenant's sessions, refresh-token families and back-channel logouts, end to end: a
//! tenant built from settings, its grants called directly or over HTTP, and a small receiver
//! standing in for a client's `backchannel_logout_uri`.

use super::grants::{grant, refresh};
use super::{sessions, users_api, DevTenant, State};
use crate::settings::{ClientAuth, ClientSettings, Password, Secret, Settings, UserSettings};
use crate::wire::Params;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DIRECTORY: &str = "Username-Password-Authentication";
const ANN: &str = "ann@example.com";
const PASSWORD: &str = "pw-of-ann";

fn settings(rotate: bool, reuse_interval: u64) -> Settings {
    let client = |id: &str| ClientSettings {
        client_id: id.into(),
        client_secret: Secret(format!("{id}-secret")),
        auth: ClientAuth::SecretPost,
        redirect_url: None,
        logout_urls: vec![],
        connections: vec![],
        backchannel_logout_uri: None,
    };
    Settings {
        issuer: None,
        audience: "https://api.example.com".into(),
        access_token_ttl_seconds: 300,
        rotate_refresh_tokens: rotate,
        refresh_reuse_interval_seconds: reuse_interval,
        fast_password_hash: true,
        default_directory: DIRECTORY.into(),
        groups_claim: "https://example.com/groups".into(),
        roles_claim: "https://example.com/roles".into(),
        management_scopes: vec![],
        management_requests_per_minute: 60,
        users: vec![UserSettings {
            email: ANN.into(),
            otp: None,
            password: Password::Plain(Secret(PASSWORD.into())),
            connection: DIRECTORY.into(),
            name: "Ann".into(),
            blocked: false,
            mfa: false,
            email_verified: true,
            groups: vec![],
            roles: vec![],
            permissions: vec![],
        }],
        clients: vec![client("app"), client("other")],
        management: None,
    }
}

fn tenant(rotate: bool, reuse_interval: u64) -> DevTenant {
    DevTenant::new(settings(rotate, reuse_interval), "http://127.0.0.1:1").expect("a tenant")
}

fn form(pairs: &[(&str, &str)]) -> Params {
    let text = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    Params::from_form(text.as_bytes()).expect("a form")
}

fn hex_of(t: &DevTenant) -> String {
    t.subject_of(ANN).trim_start_matches("auth0|").to_string()
}

/// A password login of Ann at client `app`, with a refresh token.
fn login(s: &State, hex: &str) -> Value {
    let user = s.user(hex).expect("Ann");
    grant(s, &user, "app", &form(&[("scope", "openid offline_access")]))
}

async fn answer(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("a body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn refreshed(s: &Arc<State>, token: &Value) -> (u16, Value) {
    let token = token.as_str().expect("a refresh token");
    answer(refresh(s, &form(&[("refresh_token", token)]), "app")).await
}

fn sid_of(s: &State, tokens: &Value) -> String {
    let claims = s.verified(tokens["id_token"].as_str().expect("an id_token"), Some("app")).expect("valid");
    claims["sid"].as_str().expect("a sid").to_string()
}

/// A stand-in for a client's back-channel logout endpoint: each post's content type and body.
type Received = Arc<Mutex<Vec<(String, String)>>>;

async fn receiver() -> (String, Received) {
    let received = Received::default();
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let kept = kept.clone();
            async move {
                let kind = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
                kept.lock().unwrap().push((kind.to_string(), body));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (uri, received)
}

/// The deliveries, once there are `n` (or after 5 s).
async fn deliveries(t: &DevTenant, n: usize) -> Vec<(String, String)> {
    for _ in 0..100 {
        if t.backchannel_deliveries().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    t.backchannel_deliveries()
}

/// The claims of a received logout token, checked as a client would.
fn logout_claims(s: &State, body: &str) -> Value {
    let token = form_urlencoded::parse(body.as_bytes()).find(|(k, _)| k == "logout_token").expect("a logout_token").1;
    let header = jsonwebtoken::decode_header(token.as_bytes()).expect("a JWT");
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    s.verified(&token, Some("app")).expect("signed by the tenant, for app")
}

#[tokio::test]
async fn a_login_starts_a_session_that_its_refreshes_keep() {
    let t = tenant(true, 0);
    let (s, hex) = (t.state.clone(), hex_of(&t));
    let first = login(&s, &hex);
    let sid = sid_of(&s, &first);
    assert!(s.sessions.lock().unwrap().contains(&sid));
    let (status, second) = refreshed(&s, &first["refresh_token"]).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(sid_of(&s, &second), sid);
    assert_ne!(sid_of(&s, &login(&s, &hex)), sid, "each login is a session");
    // Access tokens are unchanged: no sid.
    let access = s.verified(second["access_token"].as_str().unwrap(), None).unwrap();
    assert!(access.get("sid").is_none());
}

#[tokio::test]
async fn a_replayed_refresh_token_revokes_its_family() {
    let t = tenant(true, 0);
    let (s, hex) = (t.state.clone(), hex_of(&t));
    let first = login(&s, &hex);
    let other_family = login(&s, &hex);
    let (status, second) = refreshed(&s, &first["refresh_token"]).await;
    assert_eq!(status, 200);
    let (status, body) = refreshed(&s, &first["refresh_token"]).await;
    assert_eq!(status, 403);
    assert_eq!(body, json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}));
    assert_eq!(refreshed(&s, &second["refresh_token"]).await.0, 403, "the whole family is revoked");
    assert_eq!(refreshed(&s, &other_family["refresh_token"]).await.0, 200, "other families live on");
    assert_eq!((t.refresh_grants(), t.refresh_families_revoked()), (2, 1));
}

#[tokio::test]
async fn within_the_reuse_interval_the_latest_retired_token_still_refreshes() {
    let t = tenant(true, 60);
    let (s, hex) = (t.state.clone(), hex_of(&t));
    let first = login(&s, &hex);
    let (_, second) = refreshed(&s, &first["refresh_token"]).await;
    let (status, again) = refreshed(&s, &first["refresh_token"]).await;
    assert_eq!(status, 200, "{again}");
    assert_ne!(again["refresh_token"], second["refresh_token"]);
    assert_eq!(refreshed(&s, &second["refresh_token"]).await.0, 200, "the family lives on");
    // `first` is no longer the family's latest retired token: a replay now.
    assert_eq!(refreshed(&s, &first["refresh_token"]).await.0, 403);
    assert_eq!((t.refresh_grants(), t.refresh_families_revoked()), (3, 1));
}

#[tokio::test]
async fn without_rotation_a_refresh_token_stays_until_its_user_is_blocked() {
    let t = tenant(false, 0);
    let (s, hex) = (t.state.clone(), hex_of(&t));
    let first = login(&s, &hex);
    for _ in 0..2 {
        let (status, body) = refreshed(&s, &first["refresh_token"]).await;
        assert_eq!(status, 200);
        assert!(body.get("refresh_token").is_none());
    }
    s.users.write().unwrap().iter_mut().for_each(|u| u.blocked = true);
    assert_eq!(refreshed(&s, &first["refresh_token"]).await.0, 403);
    assert_eq!(t.refresh_families_revoked(), 0);
}

#[test]
fn logout_tokens_are_what_the_spec_asks_for() {
    let t = tenant(false, 0);
    let token = t.logout_token("app", "auth0|abc", Some("the-sid"));
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!((header.typ.as_deref(), header.kid), (Some("logout+jwt"), Some(t.signer().kid.clone())));
    let claims = t.state.verified(&token, Some("app")).expect("valid for app");
    assert_eq!(claims["aud"], "app");
    assert_eq!((claims["sub"].as_str(), claims["sid"].as_str()), (Some("auth0|abc"), Some("the-sid")));
    assert_eq!(claims["events"], json!({"http://schemas.openid.net/event/backchannel-logout": {}}));
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 120);
    assert!(claims["jti"].is_string() && claims.get("nonce").is_none());
    assert!(t.state.verified(&t.logout_token("app", "auth0|abc", None), Some("app")).unwrap().get("sid").is_none());
}

#[tokio::test]
async fn an_ended_session_sends_one_logout_to_each_client_with_a_uri() {
    let t = tenant(false, 0);
    let (s, hex) = (t.state.clone(), hex_of(&t));
    let (uri, received) = receiver().await;
    t.set_backchannel_logout_uri("app", Some(uri.clone()));
    let sid = sid_of(&s, &login(&s, &hex));
    sessions::end(&s, &sid, Some("someone-else"));
    sessions::end(&s, &sid, None);
    sessions::end(&s, &sid, None);
    assert_eq!(deliveries(&t, 1).await, vec![(uri, "200".to_string())]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(t.backchannel_deliveries().len(), 1, "an ended session sends nothing again");
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].0, "application/x-www-form-urlencoded");
    let claims = logout_claims(&s, &received[0].1);
    assert_eq!((claims["sid"].as_str(), claims["sub"].as_str()), (Some(sid.as_str()), Some(&*format!("auth0|{hex}"))));
}

#[tokio::test]
async fn blocking_a_user_ends_its_sessions_and_revokes_its_refresh_tokens() {
    let t = tenant(true, 60);
    let (s, hex) = (t.state.clone(), hex_of(&t));
    let (uri, received) = receiver().await;
    t.set_backchannel_logout_uri("app", Some(uri));
    let (first, second) = (login(&s, &hex), login(&s, &hex));
    let body = Bytes::from_static(br#"{"blocked": true}"#);
    let resp = users_api::update(AxState(s.clone()), Path(format!("auth0|{hex}")), body).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(deliveries(&t, 2).await.len(), 2);
    let mut sids: Vec<String> =
        received.lock().unwrap().iter().map(|(_, b)| logout_claims(&s, b)["sid"].as_str().unwrap().into()).collect();
    sids.sort();
    let mut expected = vec![sid_of(&s, &first), sid_of(&s, &second)];
    expected.sort();
    assert_eq!(sids, expected);
    assert_eq!(refreshed(&s, &first["refresh_token"]).await.0, 403);
    assert_eq!(t.refresh_families_revoked(), 0, "revoked by the block, not by reuse detection");
}

/// The browser login over HTTP: the code's id_token names the session of the cookie set by
/// `POST /authorize`; `/v2/logout` with that cookie ends it, `/oidc/logout` with a hint too.
#[tokio::test]
async fn logouts_end_the_session_of_the_cookie_or_the_hint() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let t = DevTenant::new(settings(false, 0), &base).unwrap();
    tokio::spawn(t.clone().serve(listener));
    let (uri, _) = receiver().await;
    t.set_backchannel_logout_uri("app", Some(uri));
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWjzbNpA";
    let challenge = crate::wire::s256(verifier);
    let signed_in = http
        .post(format!("{base}/authorize"))
        .form(&[
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", "http://127.0.0.1/cb"),
            ("scope", "openid"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("username", ANN),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 302);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("dev_tenant_session=") && cookie.ends_with("; HttpOnly; Path=/; SameSite=Lax"));
    let sid = cookie["dev_tenant_session=".len()..].split(';').next().unwrap().to_string();
    let back = url::Url::parse(signed_in.headers()["location"].to_str().unwrap()).unwrap();
    let code = back.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let exchanged = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "app"),
            ("client_secret", "app-secret"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1/cb"),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    let tokens: Value = serde_json::from_str(&exchanged.text().await.unwrap()).unwrap();
    assert_eq!(sid_of(&t.state, &tokens), sid);

    for _ in 0..2 {
        let out = http.get(format!("{base}/v2/logout")).header("cookie", format!("a=b; dev_tenant_session={sid}"));
        let out = out.send().await.unwrap();
        assert_eq!(out.status().as_u16(), 200);
        assert!(out.headers()["set-cookie"].to_str().unwrap().starts_with("dev_tenant_session=; Max-Age=0"));
    }
    assert_eq!(deliveries(&t, 1).await.len(), 1, "the cookie's session ended, once");

    // An id_token hint ends its session; an access token as a hint ends nothing.
    let hex = hex_of(&t);
    let tokens = login(&t.state, &hex);
    for hint in [&tokens["access_token"], &tokens["id_token"], &tokens["id_token"]] {
        // A JWT is URL-safe as it is.
        let out = http.get(format!("{base}/oidc/logout?id_token_hint={}", hint.as_str().unwrap()));
        assert_eq!(out.send().await.unwrap().status().as_u16(), 200);
    }
    assert_eq!(deliveries(&t, 2).await.len(), 2);
    assert!(!t.state.sessions.lock().unwrap().contains(&sid_of(&t.state, &tokens)));
}
