//! Browser login (Mia's `/authorize`, Auth0's authorization-code flow with PKCE): `GET
//! /authorize` sends the browser to the tenant's login page with a state, a nonce and an S256
//! code challenge, all bound to the browser by a short-lived sealed HttpOnly cookie; the
//! callback checks that cookie and the state, exchanges the code, verifies the id_token
//! (signature, `iss`, `aud`, `exp`, `nonce`), records the session, sets the session cookie and
//! redirects to the saved place (a gateway path or an allowed origin; anything else is `/`).
//! Also the `authorization_code` grant of `/oauth/token`, and the `login_redirect` answer.

use super::{scope::upstream_scope, shape, LoginService, Params};
use crate::config::{Client, Config, Routes};
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a browser has to log in at the tenant.
pub(crate) const LOGIN_SECONDS: u64 = 600;
/// The longest `state` a caller may set (`authorize_state_required`).
const MAX_STATE: usize = 512;

/// What the callback must find again: sealed in the transaction cookie.
#[derive(Serialize, Deserialize)]
struct Transaction {
    client: String,
    state: String,
    nonce: String,
    verifier: String,
    redirect: String,
    exp: u64,
}

fn random() -> String {
    B64.encode(rand::random::<[u8; 32]>())
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// The PKCE S256 challenge of a verifier.
pub fn challenge(verifier: &str) -> String {
    B64.encode(Sha256::digest(verifier.as_bytes()))
}

/// One transaction cookie per login in progress (two tabs do not overwrite each other): its
/// name carries a digest of the state.
fn transaction_cookie_name(config: &Config, state: &str) -> String {
    let digest = Sha256::digest(state.as_bytes());
    let short = crate::http::hex::hex(&digest[..6]);
    format!("{}_tx_{short}", config.session.cookie_name)
}

/// Scoped to the callback's path: the backend never gets it, and abandoned logins' cookies go
/// nowhere else.
fn transaction_cookie(name: &str, value: &str, max_age: u64, path: &str) -> String {
    cookie::Cookie::build((name, value))
        .http_only(true)
        .secure(true)
        .path(path.to_string())
        .same_site(cookie::SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(max_age as i64))
        .build()
        .to_string()
}

/// Where a browser may be sent after logging in: a path on the gateway (not `//host`), or a
/// URL whose origin the client allows; anything else is `/` (no open redirect).
pub(crate) fn safe_redirect(client: &Client, asked: Option<&str>) -> String {
    let Some(asked) = asked.filter(|a| !a.is_empty() && a.len() <= 2048) else { return "/".into() };
    let clean = !asked.bytes().any(|b| b.is_ascii_control() || b == b'\\' || b == b' ');
    if clean && asked.starts_with('/') && !asked.starts_with("//") {
        let path = asked.split(['?', '#']).next().unwrap_or_default();
        if crate::routing::path::normalize(path, Default::default()).is_ok_and(|n| n == path) {
            return asked.to_string();
        }
        return "/".into();
    }
    match url::Url::parse(asked) {
        Ok(u)
            if clean
                && matches!(u.scheme(), "http" | "https")
                && client.allowed_origins.contains(&u.origin().ascii_serialization()) =>
        {
            u.to_string()
        }
        _ => "/".into(),
    }
}

fn query_params(query: Option<&str>) -> Params {
    super::parse_body(super::BodyKind::Form, query.unwrap_or_default().as_bytes()).unwrap_or_default()
}

/// A refusal of the browser flow: `{"error","error_description"}`, or the same as a small
/// HTML page for a browser.
fn browser_refusal(e: ApiError, req: &Request) -> Reply {
    let html = req.header("accept").is_some_and(|a| a.contains("text/html"));
    if !html {
        return e.into_reply();
    }
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Login failed</title></head><body>\
         <h1>Login failed</h1><p id=\"error\">{}</p><p id=\"description\">{}</p><p><a href=\"/\">Back</a></p>\
         </body></html>",
        crate::http::exchange::html_escape(&e.error),
        crate::http::exchange::html_escape(&e.description)
    );
    let mut reply = Reply::html(e.status, page);
    reply.headers.extend(e.headers);
    reply
}

impl LoginService {
    /// `GET /authorize?client=<name>&redirect=…[&connection=…][&state=…]`.
    pub(crate) async fn authorize(&self, query: Option<&str>, req: &Request) -> Reply {
        let rate = match self.limits.check_session_endpoint(req.client_ip).await {
            Ok(rate) => rate,
            Err(refusal) => return browser_refusal(refusal, req),
        };
        let mut reply = self.authorize_steps(&query_params(query)).unwrap_or_else(|e| browser_refusal(e, req));
        rate.stamp(&mut reply.headers);
        reply
    }

    fn authorize_steps(&self, params: &Params) -> Result<Reply, ApiError> {
        let config = &self.config;
        let client = params
            .get("client")
            .and_then(|name| config.client_by_name(name))
            .or_else(|| params.get("client_id").and_then(|id| config.client_by_id(id)))
            .ok_or_else(|| ApiError::invalid_request("client names no configured client"))?;
        let redirect_uri = client
            .redirect_url
            .as_ref()
            .ok_or_else(|| ApiError::invalid_request("this client has no redirect_url: it cannot log in here"))?;
        let state = match (client.authorize_state_required, params.get("state")) {
            (true, Some(s)) if !s.is_empty() && s.len() <= MAX_STATE => s.to_string(),
            (true, _) => return Err(ApiError::invalid_request("state is required for this client (1-512 bytes)")),
            (false, _) => random(),
        };
        let connection = match params.get("connection") {
            Some(c) if client.connections.iter().any(|x| x == c) => Some(c),
            Some(_) => return Err(ApiError::invalid_request("connection is not enabled for this client")),
            None => client.default_connection.as_deref(),
        };
        let tx = Transaction {
            client: client.name.clone(),
            state: state.clone(),
            nonce: random(),
            verifier: random(),
            redirect: safe_redirect(client, params.get("redirect")),
            exp: now() + LOGIN_SECONDS,
        };
        let scope = upstream_scope(None, client);
        let mut location = config.tenant.authorize_url.clone();
        {
            let mut q = location.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &client.client_id)
                .append_pair("redirect_uri", redirect_uri.as_str())
                .append_pair("scope", &scope)
                .append_pair("state", &state)
                .append_pair("nonce", &tx.nonce)
                .append_pair("code_challenge", &challenge(&tx.verifier))
                .append_pair("code_challenge_method", "S256");
            if let Some(a) = &client.audience {
                q.append_pair("audience", a);
            }
            if let Some(c) = connection {
                q.append_pair("connection", c);
            }
        }
        let sealed = self.sessions.sealer().seal(&serde_json::to_string(&tx).expect("serializes"), "authorize");
        let cookie =
            transaction_cookie(&transaction_cookie_name(config, &state), &sealed, LOGIN_SECONDS, redirect_uri.path());
        Ok(Reply::empty(302).with_header("location", location.to_string()).with_header("set-cookie", cookie))
    }

    /// `GET <callback>?code=…&state=…` (or `?error=…&error_description=…&state=…`).
    pub(crate) async fn callback(&self, path: &str, query: Option<&str>, req: &Request) -> Reply {
        let rate = match self.limits.check_session_endpoint(req.client_ip).await {
            Ok(rate) => rate,
            Err(refusal) => return browser_refusal(refusal, req),
        };
        let params = query_params(query);
        let state = params.get("state").unwrap_or_default();
        let cookie_name = transaction_cookie_name(&self.config, state);
        let clear = transaction_cookie(&cookie_name, "", 0, path);
        let mut reply = match self.callback_steps(path, &params, &cookie_name, req).await {
            Ok(reply) => reply,
            Err(e) => browser_refusal(e, req),
        };
        reply.headers.push(("set-cookie", clear));
        rate.stamp(&mut reply.headers);
        reply
    }

    async fn callback_steps(
        &self,
        path: &str,
        params: &Params,
        cookie_name: &str,
        req: &Request,
    ) -> Result<Reply, ApiError> {
        let lost =
            || ApiError::invalid_request("This login was not started in this browser, or it expired: start again.");
        let tx = self.transaction(req, cookie_name).ok_or_else(lost)?;
        let expected_client = self.config.routes.callbacks.iter().find(|(p, _)| p == path).map(|(_, c)| c.as_str());
        let same_state = bool::from(subtle::ConstantTimeEq::ct_eq(
            tx.state.as_bytes(),
            params.get("state").unwrap_or_default().as_bytes(),
        ));
        if !same_state || tx.exp < now() || expected_client != Some(tx.client.as_str()) {
            return Err(lost());
        }
        let client = self.config.client_by_name(&tx.client).ok_or_else(lost)?;
        if let Some(error) = params.get("error") {
            let status = if error == "access_denied" { 403 } else { 400 };
            let description = params.get("error_description").unwrap_or("The login was not completed.");
            let description: String = description.chars().take(300).collect();
            let error: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
            return Err(ApiError::new(status, error, description));
        }
        let code = params.require("code")?;
        let redirect_uri = client.redirect_url.as_ref().ok_or_else(lost)?.to_string();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", tx.verifier.as_str()),
        ];
        let mut tokens = self.tenant.token(client, &form, req.client_ip).await?;
        let id_claims = self.check_id_token(client, tokens.id_token.as_deref(), &tx.nonce).await?;
        let session = self.issued_verified(client, &mut tokens, None, Some(id_claims)).await?;
        let user = session.as_ref().map(|s| s.subject.as_str());
        crate::audit::login_succeeded(&client.name, None, "browser", user, req.client_ip);
        let id = session.as_ref().and_then(|s| s.cookie_id.as_deref());
        let mut reply = shape::cookie_reply(client, &self.config.session, &tokens, id);
        reply.status = 302;
        reply.headers.push(("location", safe_redirect(client, Some(&tx.redirect))));
        Ok(reply)
    }

    fn transaction(&self, req: &Request, cookie_name: &str) -> Option<Transaction> {
        let sealed = req
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|h| cookie::Cookie::split_parse(h).filter_map(Result::ok))
            .find(|c| c.name() == cookie_name)?
            .value()
            .to_string();
        serde_json::from_str(&self.sessions.sealer().open(&sealed, "authorize")?).ok()
    }

    /// The id_token of a browser login: the tenant's signature, `iss`, `aud` = the client,
    /// `exp`, and the `nonce` this browser was given: its claims.
    async fn check_id_token(
        &self,
        client: &Client,
        id_token: Option<&str>,
        nonce: &str,
    ) -> Result<crate::jwt::Claims, ApiError> {
        let refused = || ApiError::bad_gateway("The identity provider's id_token did not verify.");
        let id_token = id_token.ok_or_else(refused)?;
        let claims = crate::idtoken::IdTokens::verified(id_token, client, &self.jwks, &self.config)
            .await
            .map_err(|_| refused())?;
        let same_nonce = claims
            .get("nonce")
            .and_then(|n| n.as_str())
            .is_some_and(|n| bool::from(subtle::ConstantTimeEq::ct_eq(n.as_bytes(), nonce.as_bytes())));
        if !same_nonce {
            tracing::warn!("browser login: the id_token's nonce is not this browser's");
            return Err(ApiError::new(400, "invalid_grant", "The login's nonce does not match: start again."));
        }
        Ok(claims)
    }
}

/// `POST /oauth/token` with `grant_type=authorization_code`, for clients that run the browser
/// flow themselves: the code (with its PKCE `code_verifier`) is exchanged at the tenant and
/// answered in the client's shape. Only for a client with a `redirect_url`, which is the only
/// `redirect_uri` taken; the tokens must be for the client's audience and scopes, as a
/// password login's are (the authorization request was the caller's, not the gateway's).
pub(crate) async fn code_grant(
    svc: &LoginService,
    client: &Client,
    params: &Params,
    req: &Request,
) -> Result<Reply, ApiError> {
    let redirect_uri = client.redirect_url.as_ref().map(url::Url::as_str).ok_or_else(|| {
        ApiError::new(400, "unauthorized_client", "This client has no redirect_url: it cannot use authorization codes.")
    })?;
    if params.get("redirect_uri").is_some_and(|r| r != redirect_uri) {
        return Err(ApiError::invalid_request("redirect_uri must be the client's redirect_url"));
    }
    let code = params.require("code")?;
    let verifier = params.require("code_verifier")?;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    let mut tokens = svc.tenant.token(client, &form, req.client_ip).await?;
    if let Err(refusal) = within_client(client, &tokens) {
        svc.discard(client, &tokens, req.client_ip).await;
        return Err(refusal);
    }
    let session = svc.issued(client, &mut tokens, None).await?;
    let user = session.as_ref().map(|s| s.subject.as_str());
    crate::audit::login_succeeded(&client.name, None, "authorization_code", user, req.client_ip);
    let scope = tokens.scope.clone().unwrap_or_default();
    let asked = shape::Asked {
        caller_scope: None,
        sent_scope: &scope,
        sent_refresh_token: None,
        session_id: session.as_ref().and_then(|s| s.cookie_id.as_deref()),
    };
    Ok(shape::token_reply(client, &svc.config.session, &tokens, &asked, time::OffsetDateTime::now_utc()))
}

/// The tokens of a code the caller obtained: their audience must be the client's (when it has
/// one) and their scopes among the client's (plus `openid`); never `website`.
fn within_client(client: &Client, tokens: &crate::tenant_client::Tokens) -> Result<(), ApiError> {
    let refused = |why: &'static str| {
        tracing::warn!(client = client.name.as_str(), why, "code grant: tokens outside the client's configuration");
        ApiError::new(403, "access_denied", "The authorization code was issued for more than this client may have.")
    };
    let claims = crate::jwt::unverified_claims(&tokens.access_token).unwrap_or_default();
    if let Some(audience) = &client.audience {
        let matches = match claims.get("aud") {
            Some(serde_json::Value::String(a)) => a == audience,
            Some(serde_json::Value::Array(all)) => all.iter().any(|a| a.as_str() == Some(audience.as_str())),
            _ => false,
        };
        if !matches {
            return Err(refused("audience"));
        }
    }
    let scope = tokens.scope.as_deref().or_else(|| claims.get("scope").and_then(|s| s.as_str())).unwrap_or_default();
    let allowed = |s: &str| s == "openid" || client.scopes.iter().any(|c| c == s);
    if !scope.split_whitespace().all(allowed) {
        return Err(refused("scope"));
    }
    Ok(())
}

/// `routes.login_redirect`: a browser page load (GET, `Accept: text/html`) refused for want of
/// a session goes to `/authorize` instead; API calls keep their `401`.
pub(crate) fn login_redirect(routes: &Routes, method: &str, accept: Option<&str>, original_uri: &str) -> Option<Reply> {
    let client = routes.login_client.as_deref()?;
    let page_load = crate::http::exchange::is_page_load(method, accept);
    if !page_load {
        return None;
    }
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("client", client)
        .append_pair("redirect", original_uri)
        .finish();
    Some(Reply::empty(302).with_header("location", format!("{}?{query}", crate::routing::endpoints::AUTHORIZE_PATH)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(origins: &[&str]) -> Client {
        let mut c = crate::config::parse(
            "backend: {url: 'http://127.0.0.1:1'}\ntenant: {url: 'http://127.0.0.1:2'}\nguard: {audiences: [a]}\n\
             clients: {web: {secret: web-secret-1, client_id: w, client_secret: s, connections: [db]}}\n",
            "test",
            &|_| None,
        )
        .unwrap()
        .clients
        .remove(0);
        c.allowed_origins = origins.iter().map(|o| o.to_string()).collect();
        c
    }

    #[test]
    fn redirects_stay_on_the_gateway_or_an_allowed_origin() {
        let c = client(&["https://app.example.com"]);
        assert_eq!(safe_redirect(&c, Some("/orders?id=1")), "/orders?id=1");
        assert_eq!(safe_redirect(&c, Some("https://app.example.com/x")), "https://app.example.com/x");
        for evil in [
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example/",
            "https://app.example.com.evil.example/",
            "javascript:alert(1)",
            "blob:https://app.example.com/1b4f",
            "/a/../../x",
            "/%2e%2e/x",
            "\t/x",
            "https://app.example.com@evil.example/",
            "",
        ] {
            assert_eq!(safe_redirect(&c, Some(evil)), "/", "{evil:?}");
        }
        assert_eq!(safe_redirect(&c, None), "/");
    }

    #[test]
    fn the_challenge_is_s256() {
        // base64url(SHA-256(verifier)) without padding, as Python's hashlib and base64 compute it.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWjzbNpA"),
            "G6VDARofrGQBaDFKEudvHX5m5BZBGSxXChxMqxpL-wY"
        );
    }

    #[test]
    fn only_page_loads_are_redirected() {
        let routes = Routes {
            default: crate::config::Policy::Authenticated,
            strictness: Default::default(),
            rules: vec![],
            user_management: false,
            login_client: Some("web".into()),
            forward_auth: false,
            callbacks: vec![],
            backchannel_logout: None,
            default_login_redirect: true,
        };
        let r = login_redirect(&routes, "GET", Some("text/html,application/xhtml+xml"), "/app?x=1&y=2").unwrap();
        assert_eq!(r.status, 302);
        let location = &r.headers.iter().find(|(n, _)| *n == "location").unwrap().1;
        assert_eq!(location, "/authorize?client=web&redirect=%2Fapp%3Fx%3D1%26y%3D2");
        assert!(login_redirect(&routes, "GET", Some("application/json"), "/app").is_none());
        assert!(login_redirect(&routes, "POST", Some("text/html"), "/app").is_none());
        assert!(login_redirect(&routes, "HEAD", Some("text/html"), "/app").is_none(), "/authorize answers GET only");
        assert!(login_redirect(&Routes { login_client: None, ..routes }, "GET", Some("text/html"), "/").is_none());
    }
}
