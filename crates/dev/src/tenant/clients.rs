//! The dev tenant's side of client authentication: each client must use its configured
//! method. `private_key_jwt` assertions are checked (RS256, `iss` = `sub` = client id, `aud` =
//! the token endpoint, `exp` at most 60 s ahead) and a reused `jti` is refused. The Management
//! API's machine-to-machine client may use either secret method. Each client's
//! `backchannel_logout_uri` (where the tenant posts logout tokens) can change while the tenant
//! serves (a test hook).

use crate::settings::{ClientAuth, ClientSettings, Secret};
use crate::wire::Params;
use crate::wire::ASSERTION_TYPE;
use aws_lc_rs::rsa::KeyPair;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

pub(crate) enum Method {
    Post,
    Basic,
    /// The Management API's machine-to-machine client: `client_secret_post` or `_basic`.
    PostOrBasic,
    PrivateKeyJwt(DecodingKey),
}

pub(crate) struct DevClient {
    pub(crate) id: String,
    pub(crate) secret: Secret,
    pub(crate) method: Method,
    /// The configured browser-login callback (`redirect_url`), accepted as a `redirect_uri`.
    pub(crate) redirect_url: Option<url::Url>,
    /// Where `/v2/logout` and `/oidc/logout` may send the browser back to.
    pub(crate) logout_urls: Vec<String>,
    /// The connections the client may log in with (empty: any).
    pub(crate) connections: Vec<String>,
}

pub(crate) struct Clients {
    clients: Vec<DevClient>,
    /// The token endpoint: the audience of client assertions.
    token_url: String,
    seen_jtis: moka::sync::Cache<String, ()>,
    /// Client id → its `backchannel_logout_uri`. Apart from `clients` because tests change
    /// it while the tenant serves; never held across an await.
    backchannel: RwLock<HashMap<String, String>>,
}

impl Clients {
    pub(crate) fn new(clients: &[ClientSettings], token_url: String) -> Result<Self, String> {
        let backchannel: HashMap<String, String> = clients
            .iter()
            .filter_map(|c| c.backchannel_logout_uri.clone().map(|uri| (c.client_id.clone(), uri)))
            .collect();
        let clients = clients
            .iter()
            .map(|c| {
                let method = match &c.auth {
                    ClientAuth::SecretPost => Method::Post,
                    ClientAuth::SecretBasic => Method::Basic,
                    ClientAuth::PrivateKeyJwt { pem } => Method::PrivateKeyJwt(public_key(pem.expose())?),
                };
                Ok(DevClient {
                    id: c.client_id.clone(),
                    secret: c.client_secret.clone(),
                    method,
                    redirect_url: c.redirect_url.clone(),
                    logout_urls: c.logout_urls.clone(),
                    connections: c.connections.clone(),
                })
            })
            .collect::<Result<_, String>>()?;
        let seen_jtis = moka::sync::Cache::builder().time_to_live(Duration::from_secs(120)).build();
        Ok(Clients { clients, token_url, seen_jtis, backchannel: RwLock::new(backchannel) })
    }

    /// Where client `id` takes back-channel logouts, if it does.
    pub(crate) fn backchannel_uri(&self, id: &str) -> Option<String> {
        self.backchannel.read().expect("not poisoned").get(id).cloned()
    }

    /// Set (or, with `None`, remove) client `id`'s back-channel logout URI; false when there is
    /// no such client.
    #[cfg(any(test, feature = "test-support"))]
    pub(crate) fn set_backchannel_uri(&self, id: &str, uri: Option<String>) -> bool {
        if self.by_id(id).is_none() {
            return false;
        }
        let mut all = self.backchannel.write().expect("not poisoned");
        match uri {
            Some(uri) => all.insert(id.to_string(), uri),
            None => all.remove(id),
        };
        true
    }

    /// Register the Management API client (both secret methods allowed).
    pub(crate) fn add_management(&mut self, id: String, secret: Secret) {
        self.clients.push(DevClient {
            id,
            secret,
            method: Method::PostOrBasic,
            redirect_url: None,
            logout_urls: vec![],
            connections: vec![],
        });
    }

    pub(crate) fn by_id(&self, id: &str) -> Option<&DevClient> {
        self.clients.iter().find(|c| c.id == id)
    }

    /// The client that authenticated this call, or why not (as Auth0 words it).
    pub(crate) fn authenticate(&self, basic: Option<&str>, params: &Params) -> Result<&DevClient, &'static str> {
        if let Some(header) = basic {
            let (id, secret) = decode_basic(header).ok_or("malformed Basic credentials")?;
            let c = self.by_id(&id).ok_or("Unauthorized")?;
            return match c.method {
                Method::Basic | Method::PostOrBasic if c.secret.expose() == secret => Ok(c),
                _ => Err("Unauthorized"),
            };
        }
        if params.get("client_assertion_type") == Some(ASSERTION_TYPE) {
            let assertion = params.get("client_assertion").ok_or("missing client_assertion")?;
            return self.check_assertion(assertion, params.get("client_id"));
        }
        let c = self.by_id(params.get("client_id").unwrap_or_default()).ok_or("Unauthorized")?;
        match c.method {
            Method::Post | Method::PostOrBasic if Some(c.secret.expose()) == params.get("client_secret") => Ok(c),
            _ => Err("Unauthorized"),
        }
    }

    fn check_assertion(&self, assertion: &str, client_id: Option<&str>) -> Result<&DevClient, &'static str> {
        let unverified: serde_json::Value =
            jsonwebtoken::dangerous::insecure_decode(assertion).map_err(|_| "malformed client_assertion")?.claims;
        let id = unverified["iss"].as_str().ok_or("client_assertion has no iss")?;
        if client_id.is_some_and(|c| c != id) {
            return Err("client_id and client_assertion disagree");
        }
        let c = self.by_id(id).ok_or("Unauthorized")?;
        let Method::PrivateKeyJwt(key) = &c.method else { return Err("Unauthorized") };
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&[&self.token_url]);
        v.set_issuer(&[id]);
        v.sub = Some(id.to_string());
        v.leeway = 5;
        v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(assertion, key, &v)
            .map_err(|_| "invalid client_assertion")?
            .claims;
        let now = jsonwebtoken::get_current_timestamp();
        if claims["exp"].as_u64().unwrap_or(u64::MAX) > now + 65 {
            return Err("client_assertion expires too far ahead");
        }
        let jti = claims["jti"].as_str().ok_or("client_assertion has no jti")?.to_string();
        if self.seen_jtis.contains_key(&jti) {
            return Err("client_assertion jti was already used");
        }
        self.seen_jtis.insert(jti, ());
        Ok(c)
    }
}

fn decode_basic(header: &str) -> Option<(String, String)> {
    let (scheme, b64) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let text = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
    let (id, secret) = text.split_once(':')?;
    let dec = |s: &str| form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((dec(id)?, dec(secret)?))
}

/// The public key of an RSA private key in PEM (PKCS#8 or PKCS#1).
fn public_key(pem_text: &str) -> Result<DecodingKey, String> {
    let pem = pem::parse(pem_text).map_err(|e| format!("private key: {e}"))?;
    let pair = KeyPair::from_pkcs8(pem.contents())
        .or_else(|_| KeyPair::from_der(pem.contents()))
        .map_err(|_| "private key: not an RSA key".to_string())?;
    let (n, e) = crate::signer::jwk_components(aws_lc_rs::signature::KeyPair::public_key(&pair));
    DecodingKey::from_rsa_components(&n, &e).map_err(|e| e.to_string())
}
