//! How the gateway proves to the tenant that it is a client: `client_secret_post`,
//! `client_secret_basic`, or `private_key_jwt` (a short-lived RS256 `client_assertion`).

use crate::config::{Client, ClientAuth};
use jsonwebtoken::{Algorithm, Header};
use serde_json::json;

pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A tenant call's form with the client's credentials in place.
pub(crate) struct Authenticated {
    pub(crate) form: Vec<(String, String)>,
    /// `(user, password)` for HTTP Basic, when that is the method.
    pub(crate) basic: Option<(String, String)>,
}

/// The form with the client's credentials added, and the Basic credentials when that is the
/// method. `audience` is the tenant's token endpoint (the assertion's `aud`).
pub(crate) fn authenticate(client: &Client, audience: &str, form: &[(&str, &str)]) -> Authenticated {
    let mut pairs: Vec<(String, String)> = form.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    pairs.push(("client_id".into(), client.client_id.clone()));
    let basic = match &client.auth {
        ClientAuth::SecretPost => {
            pairs.push(("client_secret".into(), client.client_secret.expose().to_string()));
            None
        }
        ClientAuth::SecretBasic => {
            // RFC 6749 §2.3.1: both parts form-urlencoded before Base64.
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            Some((enc(&client.client_id), enc(client.client_secret.expose())))
        }
        ClientAuth::PrivateKeyJwt { key, .. } => {
            pairs.push(("client_assertion_type".into(), ASSERTION_TYPE.into()));
            pairs.push(("client_assertion".into(), assertion(&client.client_id, audience, key)));
            None
        }
    };
    Authenticated { form: pairs, basic }
}

/// `iss` = `sub` = the client id, `aud` = the token endpoint, a unique `jti`, `exp` 60 s ahead.
pub(crate) fn assertion(client_id: &str, audience: &str, key: &jsonwebtoken::EncodingKey) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({
        "iss": client_id, "sub": client_id, "aud": audience,
        "jti": uuid::Uuid::new_v4().to_string(), "iat": now, "exp": now + 60,
    });
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, key).expect("RS256 signing with a checked key")
}
