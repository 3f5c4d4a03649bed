//! The dev tenant's browser login, Auth0's authorization-code flow with PKCE: `GET /authorize`
//! checks the request and shows a login form; `POST /authorize` (the form) checks the user and
//! sends the browser back to the `redirect_uri` with a single-use code (or an `error`);
//! `grant_type=authorization_code` on `/oauth/token` exchanges the code (its client,
//! `redirect_uri` and S256 `code_verifier` checked). A successful sign-in starts a tenant
//! session (`sessions`), named in the code's id_token (`sid`) and in a `dev_tenant_session`
//! cookie, as Auth0 sets its own; the session is not used for single sign-on: every
//! `/authorize` shows the form. `/v2/logout` (with that cookie) and `/oidc/logout` (with an
//! `id_token_hint`) end the session, which sends the back-channel logouts; both send the
//! browser back to one of the client's `logout_urls` only.

use super::clients::{DevClient, Method};
use super::common::{now, oauth_error, params_of, random_token};
use super::grants::{check_user, grant_scoped, Login, UserRefusal};
use super::users::User;
use super::{header_pairs, sessions, Recorded, State};
use crate::wire::Params;
use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use std::sync::Arc;
use url::Url;

type St = AxState<Arc<State>>;

/// How long a code waits for its exchange, in seconds.
const CODE_SECONDS: u64 = 60;

/// The authorization request's parameters, carried by the form as hidden fields (the tenant
/// reads no others).
const CARRIED: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "audience",
    "state",
    "nonce",
    "connection",
    "code_challenge",
    "code_challenge_method",
];

/// The tenant's session cookie (Auth0 names its own `auth0`).
const SESSION_COOKIE: &str = "dev_tenant_session";

const NO_MFA: &str = "Multifactor authentication is not supported by the dev tenant";

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}\
    main{max-width:22rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0003}\
    label{display:block;margin-top:1rem;font-size:.9rem}\
    input{width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem}\
    button{margin:1.25rem .5rem 0 0;padding:.5rem 1rem}\
    .error{color:#b00020}";

/// A code waiting for its exchange at `/oauth/token`.
pub(super) struct CodeGrant {
    /// The hex id of the user (`auth0|<id>`).
    user: String,
    client_id: String,
    /// As the authorization request sent it: the exchange must send the same.
    redirect_uri: String,
    /// The PKCE S256 challenge.
    challenge: String,
    nonce: Option<String>,
    scope: String,
    audience: String,
    issued_at: u64,
    /// The tenant session the sign-in started.
    sid: String,
}

impl CodeGrant {
    fn expired(&self, now: u64) -> bool {
        now > self.issued_at + CODE_SECONDS
    }
}

pub(super) fn router() -> axum::Router<Arc<State>> {
    axum::Router::new()
        .route("/authorize", get(login_page).post(sign_in))
        .route("/v2/logout", get(v2_logout))
        .route("/oidc/logout", get(oidc_logout))
}

/// An authorization request that passed the checks.
struct Checked<'a> {
    client_id: &'a str,
    redirect_uri: &'a str,
    /// `redirect_uri` parsed: where the browser goes back to.
    back: Url,
    challenge: &'a str,
    state: Option<&'a str>,
}

/// The request's checks, or why it is refused: shown on a page, never sent to the
/// `redirect_uri` (which may be the problem).
fn check<'a>(s: &State, params: &'a Params) -> Result<Checked<'a>, String> {
    if params.get("response_type") != Some("code") {
        return Err("response_type must be code: the dev tenant supports the authorization-code flow only".into());
    }
    let client_id = params.get("client_id").ok_or("Missing required parameter: client_id")?;
    let client = s.clients.by_id(client_id).ok_or_else(|| format!("Unknown client: {client_id}"))?;
    if matches!(client.method, Method::PostOrBasic) {
        return Err("The Management API client cannot log users in".into());
    }
    let redirect_uri = params.get("redirect_uri").ok_or("Missing required parameter: redirect_uri")?;
    let back = acceptable_redirect(client, redirect_uri)
        .ok_or_else(|| format!("redirect_uri is not allowed for this client: {redirect_uri}"))?;
    if params.get("code_challenge_method").is_some_and(|m| m != "S256") {
        return Err("code_challenge_method must be S256 (plain is not supported)".into());
    }
    let challenge = params
        .get("code_challenge")
        .filter(|c| is_s256_challenge(c))
        .ok_or("A code_challenge is required: PKCE S256, 43 base64url characters")?;
    let enabled = |c: &&str| client.connections.is_empty() || client.connections.iter().any(|x| x.as_str() == *c);
    if let Some(c) = params.get("connection").filter(|c| !enabled(c)) {
        return Err(format!("connection is not enabled for this client: {c}"));
    }
    Ok(Checked { client_id, redirect_uri, back, challenge, state: params.get("state") })
}

/// `redirect_uri` parsed, when the client may be sent there: its configured `redirect_url`
/// exactly, or any plain `http://` URL on a loopback host (a dev convenience, as Auth0 allows
/// localhost callbacks for development: the test stacks run the gateway on a random port).
/// Never with a fragment or credentials.
fn acceptable_redirect(client: &DevClient, redirect_uri: &str) -> Option<Url> {
    let url = Url::parse(redirect_uri).ok()?;
    let configured = client.redirect_url.as_ref().is_some_and(|u| u.as_str() == redirect_uri);
    let clean = url.fragment().is_none() && url.username().is_empty() && url.password().is_none();
    (clean && (configured || is_loopback_http(&url))).then_some(url)
}

fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http" && crate::wire::is_loopback(url)
}

/// What an S256 challenge looks like: BASE64URL (no padding) of 32 bytes.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// BASE64URL(SHA-256(verifier)), no padding (RFC 7636 S256): the gateway's own.
use crate::wire::s256;

/// A well-formed verifier (43 to 128 unreserved characters) whose S256 is the challenge.
fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    use subtle::ConstantTimeEq;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed && bool::from(s256(verifier).as_bytes().ct_eq(challenge.as_bytes()))
}

/// `GET /authorize`: the login form, or a page saying why the request is refused.
async fn login_page(AxState(s): St, RawQuery(query): RawQuery) -> Response {
    let params = match Params::from_form(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return refusal(&e.0),
    };
    match check(&s, &params) {
        Ok(_) => login_form(&params, None),
        Err(why) => refusal(&why),
    }
}

/// `POST /authorize`: the form's answer. Cancelled, or the user checked: back to the client
/// with a code or an error. A wrong password shows the form again.
async fn sign_in(AxState(s): St, headers: HeaderMap, body: Bytes) -> Response {
    let params = match params_of(&headers, &body) {
        Ok(p) => p,
        Err(e) => return refusal(&e.0),
    };
    record(&s, &headers, &params);
    let checked = match check(&s, &params) {
        Ok(c) => c,
        Err(why) => return refusal(&why),
    };
    if params.get("cancel").is_some() {
        return back_to(&checked, &[("error", "access_denied"), ("error_description", "The user cancelled the login")]);
    }
    let (Some(username), Some(password)) = (params.get("username"), params.get("password")) else {
        return login_form(&params, Some("Enter your email and password."));
    };
    let connection = params.get("connection").unwrap_or(&s.default_directory);
    match check_user(&s, connection, username, password, false).await {
        Ok(user) => {
            let sid = sessions::start(&s, &user.id, None);
            let code = new_code(&s, &checked, &params, &user, &sid);
            let mut answer = back_to(&checked, &[("code", code.as_str())]);
            let cookie = format!("{SESSION_COOKIE}={sid}; HttpOnly; Path=/; SameSite=Lax");
            // A sid is base64url: always a valid header value.
            if let Ok(cookie) = HeaderValue::from_str(&cookie) {
                answer.headers_mut().append(header::SET_COOKIE, cookie);
            }
            answer
        }
        Err(UserRefusal::Wrong) => login_form(&params, Some("Wrong email or password.")),
        Err(UserRefusal::UnknownConnection) => refusal("connection is disabled or does not exist"),
        Err(UserRefusal::Blocked) => {
            back_to(&checked, &[("error", "unauthorized"), ("error_description", "user is blocked")])
        }
        Err(UserRefusal::Mfa) => back_to(&checked, &[("error", "access_denied"), ("error_description", NO_MFA)]),
    }
}

/// Keep a form post for tests: the request's parameters, the username and `cancel`; never the
/// password.
fn record(s: &State, headers: &HeaderMap, params: &Params) {
    if s.recorder.is_none() {
        return;
    }
    let kept = CARRIED
        .iter()
        .chain(&["username", "cancel"])
        .filter_map(|&name| params.get(name).map(|v| (name.to_string(), v.to_string())))
        .collect();
    let headers = header_pairs(headers);
    s.record(Recorded { path: "/authorize".into(), query: String::new(), headers, params: kept });
}

/// A new single-use code for `user` in session `sid`, kept with what its exchange must match.
/// Expired codes are dropped on the way.
fn new_code(s: &State, checked: &Checked<'_>, params: &Params, user: &User, sid: &str) -> String {
    let code = random_token();
    let issued_at = now();
    let grant = CodeGrant {
        user: user.id.clone(),
        client_id: checked.client_id.to_string(),
        redirect_uri: checked.redirect_uri.to_string(),
        challenge: checked.challenge.to_string(),
        nonce: params.get("nonce").map(str::to_string),
        scope: params.get("scope").unwrap_or("openid").to_string(),
        audience: params.get("audience").unwrap_or(&s.audience).to_string(),
        issued_at,
        sid: sid.to_string(),
    };
    let mut codes = s.codes.lock().expect("not poisoned");
    codes.retain(|_, g| !g.expired(issued_at));
    codes.insert(code.clone(), grant);
    code
}

/// `302` to the request's `redirect_uri` (its own query kept) with `pairs` and the request's
/// `state` added.
fn back_to(checked: &Checked<'_>, pairs: &[(&str, &str)]) -> Response {
    let mut to = checked.back.clone();
    {
        let mut query = to.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
        if let Some(state) = checked.state {
            query.append_pair("state", state);
        }
    }
    found(to.as_str())
}

fn found(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to), (header::CACHE_CONTROL, "no-store")]).into_response()
}

/// `grant_type=authorization_code` from the authenticated `client_id`: the code is single use
/// (gone even when the exchange fails), must be the client's, unexpired, asked with the same
/// `redirect_uri` and the PKCE verifier of its challenge, and its session still on (the client
/// takes part in it from now). The tokens are the password grant's, the id_token carrying the
/// authorization request's `nonce` and the session's `sid`.
pub(super) fn code_grant(s: &State, params: &Params, client_id: &str) -> Response {
    let Some(code) = params.get("code") else {
        return oauth_error(400, "invalid_request", "Missing required parameter: code");
    };
    let taken = s.codes.lock().expect("not poisoned").remove(code);
    let Some(grant) = taken.filter(|g| !g.expired(now()) && g.client_id == client_id) else {
        return invalid_code();
    };
    if params.get("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return oauth_error(403, "invalid_grant", "redirect_uri does not match the one of the authorization request");
    }
    if !params.get("code_verifier").is_some_and(|v| verifier_matches(v, &grant.challenge)) {
        return oauth_error(403, "invalid_grant", "Failed to verify code verifier");
    }
    // The user may have been deleted or blocked through the Management API since.
    match s.user(&grant.user) {
        Some(u) if u.blocked => oauth_error(401, "unauthorized", "user is blocked"),
        // Logged out before the exchange: the code's login is over.
        Some(_) if !sessions::join(s, &grant.sid, client_id) => invalid_code(),
        Some(u) => {
            let login = Login { sid: Some(&grant.sid), nonce: grant.nonce.as_deref() };
            Json(grant_scoped(s, &u, client_id, &grant.scope, &grant.audience, login)).into_response()
        }
        None => invalid_code(),
    }
}

fn invalid_code() -> Response {
    oauth_error(403, "invalid_grant", "Invalid authorization code")
}

/// `GET /v2/logout?client_id=&returnTo=` (Auth0's logout): ends the session of the
/// `dev_tenant_session` cookie, and clears it.
async fn v2_logout(AxState(s): St, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    if let Some(sid) = session_cookie(&headers) {
        sessions::end(&s, sid, None);
    }
    let mut answer = logout(&s, &query_params(query.as_deref()), "returnTo");
    let cleared = HeaderValue::from_static("dev_tenant_session=; Max-Age=0; HttpOnly; Path=/; SameSite=Lax");
    answer.headers_mut().append(header::SET_COOKIE, cleared);
    answer
}

/// `GET /oidc/logout?client_id=&post_logout_redirect_uri=&id_token_hint=` (the OIDC
/// `end_session_endpoint`): ends the session the hint names.
async fn oidc_logout(AxState(s): St, RawQuery(query): RawQuery) -> Response {
    let params = query_params(query.as_deref());
    if let Some(hint) = params.get("id_token_hint") {
        end_hinted(&s, hint);
    }
    logout(&s, &params, "post_logout_redirect_uri")
}

fn query_params(query: Option<&str>) -> Params {
    Params::from_form(query.unwrap_or_default().as_bytes()).unwrap_or_default()
}

/// The `dev_tenant_session` cookie's value, if the browser sent one.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// End the session an id_token of this tenant names (its `sid`, when it is its user's), or
/// every session of its user when it names none. Anything else ends nothing.
fn end_hinted(s: &State, hint: &str) {
    let Some(claims) = s.verified(hint, None) else { return };
    // An id_token's audience is one client; an access token's is an API (or several).
    if claims["aud"].as_str().is_none_or(|aud| s.clients.by_id(aud).is_none()) {
        return;
    }
    let Some(user) = claims["sub"].as_str().and_then(|sub| sub.strip_prefix("auth0|")) else { return };
    match claims["sid"].as_str() {
        Some(sid) => sessions::end(s, sid, Some(user)),
        None => sessions::end_user(s, user),
    }
}

/// Back to the URL named by `back_name` when it is one of the client's `logout_urls`, else a
/// page.
fn logout(s: &State, params: &Params, back_name: &str) -> Response {
    let client = params.get("client_id").and_then(|id| s.clients.by_id(id));
    let listed = |back: &&str| client.is_some_and(|c| c.logout_urls.iter().any(|u| u.as_str() == *back));
    // Parsed again: the Location header gets the URL percent-encoded.
    match params.get(back_name).filter(listed).and_then(|back| Url::parse(back).ok()) {
        Some(to) => found(to.as_str()),
        None => html(StatusCode::OK, page("Logged out", "<h1>You are logged out.</h1>")),
    }
}

/// A whole page around `body` (already HTML).
fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · dev tenant</title><style>{style}</style></head>\n\
         <body><main>\n{body}\n</main></body></html>\n",
        title = crate::wire::html_escape(title),
        style = STYLE,
    )
}

fn html(status: StatusCode, document: String) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    ];
    (status, headers, document).into_response()
}

/// `400` and a page saying why.
fn refusal(why: &str) -> Response {
    let body = format!("<h1>Login refused</h1>\n<p class=\"error\" id=\"error\">{}</p>", crate::wire::html_escape(why));
    html(StatusCode::BAD_REQUEST, page("Login refused", &body))
}

fn login_form(params: &Params, message: Option<&str>) -> Response {
    html(StatusCode::OK, page("Sign in", &form_html(params, message)))
}

/// The login form: the request's parameters as hidden fields, the username kept after a
/// failed attempt (never the password). "Sign in" comes first, so Enter submits without
/// `cancel`; Cancel skips the browser's field validation.
fn form_html(params: &Params, message: Option<&str>) -> String {
    let hidden: String = CARRIED
        .iter()
        .filter_map(|&name| {
            params
                .get(name)
                .map(|v| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n", crate::wire::html_escape(v)))
        })
        .collect();
    let message = message
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>\n", crate::wire::html_escape(m)))
        .unwrap_or_default();
    format!(
        "<h1>Sign in</h1>\n<p>to continue to <strong>{client}</strong></p>\n{message}\
         <form method=\"post\" action=\"/authorize\">\n{hidden}\
         <label for=\"username\">Email</label>\n\
         <input id=\"username\" name=\"username\" type=\"text\" inputmode=\"email\" autocomplete=\"username\" \
         required autofocus value=\"{username}\">\n\
         <label for=\"password\">Password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\n\
         <button type=\"submit\">Sign in</button>\n\
         <button type=\"submit\" name=\"cancel\" value=\"1\" formnovalidate>Cancel</button>\n\
         </form>",
        client = crate::wire::html_escape(params.get("client_id").unwrap_or_default()),
        username = crate::wire::html_escape(params.get("username").unwrap_or_default()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Secret;

    fn form(query: &str) -> Params {
        Params::from_form(query.as_bytes()).unwrap()
    }

    #[test]
    fn reflected_text_is_escaped() {
        assert_eq!(
            crate::wire::html_escape(r#"<a href="x" onclick='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(crate::wire::html_escape("plain été"), "plain été");
    }

    #[test]
    fn the_form_reflects_nothing_unescaped() {
        let params = form("client_id=%3Cscript%3E&state=%22%3E%3Cimg%20src%3Dx%3E&username=a%27b&password=secret");
        let html = form_html(&params, Some("Wrong email or password."));
        assert!(!html.contains("<script>") && !html.contains("<img"), "{html}");
        assert!(html.contains(r#"name="state" value="&quot;&gt;&lt;img src=x&gt;""#), "{html}");
        assert!(html.contains("<strong>&lt;script&gt;</strong>"), "{html}");
        assert!(html.contains(r#"value="a&#39;b""#), "{html}");
        assert!(html.contains("Wrong email or password."), "{html}");
        assert!(!html.contains("secret"), "the password is never reflected: {html}");
        // The first submit button signs in (Enter); only Cancel carries `cancel`.
        let sign_in = html.find("<button type=\"submit\">Sign in</button>").unwrap();
        assert!(sign_in < html.find("name=\"cancel\"").unwrap());
    }

    #[test]
    fn pkce_is_s256() {
        // base64url(SHA-256(verifier)) without padding, as Python's hashlib and base64 compute it.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWjzbNpA";
        let challenge = "G6VDARofrGQBaDFKEudvHX5m5BZBGSxXChxMqxpL-wY";
        assert_eq!(s256(verifier), challenge);
        assert!(is_s256_challenge(challenge));
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWjzbNpB", challenge));
        assert!(!verifier_matches(challenge, challenge), "plain is not S256");
        assert!(!verifier_matches("short", &s256("short")), "a verifier has 43 characters at least");
        assert!(!is_s256_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c="));
    }

    #[test]
    fn only_the_configured_callback_or_loopback_http_is_a_redirect_uri() {
        let client = DevClient {
            id: "c".into(),
            secret: Secret("s".into()),
            method: Method::Post,
            redirect_url: Some(Url::parse("https://app.example.com/callback").unwrap()),
            logout_urls: vec![],
            connections: vec![],
        };
        for ok in [
            "https://app.example.com/callback",
            "http://127.0.0.1:8080/callback",
            "http://localhost/cb?x=1",
            "http://[::1]:3000/cb",
        ] {
            assert!(acceptable_redirect(&client, ok).is_some(), "{ok}");
        }
        for bad in [
            "https://app.example.com/callback/",
            "https://evil.example/callback",
            "https://127.0.0.1/cb",
            "http://127.0.0.1.evil.example/cb",
            "http://localhost.evil.example/cb",
            "http://user@127.0.0.1/cb",
            "http://127.0.0.1/cb#x",
            "javascript:alert(1)",
            "not a url",
        ] {
            assert!(acceptable_redirect(&client, bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_browser_goes_back_with_the_state_and_the_callbacks_own_query() {
        let checked = Checked {
            client_id: "c",
            redirect_uri: "http://127.0.0.1/cb?x=1",
            back: Url::parse("http://127.0.0.1/cb?x=1").unwrap(),
            challenge: "",
            state: Some("a b&c"),
        };
        let resp = back_to(&checked, &[("code", "K")]);
        assert_eq!(resp.status(), StatusCode::FOUND);
        assert_eq!(resp.headers()[header::LOCATION].to_str().unwrap(), "http://127.0.0.1/cb?x=1&code=K&state=a+b%26c");
    }

    #[test]
    fn codes_live_a_minute() {
        let grant = CodeGrant {
            user: "u".into(),
            client_id: "c".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            challenge: String::new(),
            nonce: None,
            scope: "openid".into(),
            audience: "a".into(),
            issued_at: 100,
            sid: "s".into(),
        };
        assert!(!grant.expired(160));
        assert!(grant.expired(161));
    }
}
