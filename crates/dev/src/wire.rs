//! The tenant's own reading of what arrives on the wire, written for the tenant and not shared
//! with the gateway: request parameters (form or JSON), grant and assertion names, the PKCE
//! S256 transform, HTML escaping, hex and loopback checks.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Auth0's password-realm grant.
pub(crate) const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";
/// Auth0's passwordless (SMS or email) one-time-code grant.
pub(crate) const PASSWORDLESS_OTP: &str = "http://auth0.com/oauth/grant-type/passwordless/otp";
/// The id_token exchange of `/oauth/ro` (RFC 7523).
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// `client_assertion_type` of `private_key_jwt` (RFC 7523 §2.2).
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Connections whose "password" is a one-time code.
pub(crate) fn is_passwordless(connection: &str) -> bool {
    connection == "sms" || connection == "email"
}

/// Request parameters by name, text only; empty values and JSON `null` are absent.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(HashMap<String, String>);

/// Why a request's parameters could not be read: the `error_description`.
#[derive(Debug)]
pub(crate) struct Unreadable(pub(crate) String);

impl Params {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn add(&mut self, name: String, value: String) -> Result<(), Unreadable> {
        if value.is_empty() {
            return Ok(());
        }
        match self.0.entry(name) {
            std::collections::hash_map::Entry::Occupied(e) => {
                Err(Unreadable(format!("parameter {} is repeated", e.key())))
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(value);
                Ok(())
            }
        }
    }

    /// A query string or form body.
    pub(crate) fn from_form(text: &[u8]) -> Result<Self, Unreadable> {
        std::str::from_utf8(text).map_err(|_| Unreadable("the form is not valid UTF-8".into()))?;
        let mut params = Params::default();
        for (k, v) in form_urlencoded::parse(text) {
            params.add(k.into_owned(), v.into_owned())?;
        }
        Ok(params)
    }

    /// A JSON object's text members (numbers and booleans as text; objects ignored).
    fn from_json(body: &[u8]) -> Result<Self, Unreadable> {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(body).map_err(|_| Unreadable("the body is not a JSON object".into()))?;
        let mut params = Params::default();
        for (k, v) in object {
            match v {
                serde_json::Value::String(s) => params.add(k, s)?,
                serde_json::Value::Bool(b) => params.add(k, b.to_string())?,
                serde_json::Value::Number(n) => params.add(k, n.to_string())?,
                _ => {}
            }
        }
        Ok(params)
    }

    /// A body of the `Content-Type` given: form-urlencoded or JSON.
    pub(crate) fn from_body(content_type: Option<&str>, body: &[u8]) -> Result<Self, Unreadable> {
        let essence = content_type.unwrap_or_default().split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            Self::from_form(body)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Self::from_json(body)
        } else {
            Err(Unreadable("the body must be form-urlencoded or JSON".into()))
        }
    }
}

/// PKCE S256 (RFC 7636 §4.2): BASE64URL(SHA-256(ASCII(verifier))), unpadded.
pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Text safe to put into HTML, in an element or a quoted attribute (`&` first, so nothing
/// is escaped twice).
pub(crate) fn html_escape(text: &str) -> String {
    [("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\"", "&quot;"), ("'", "&#39;")]
        .iter()
        .fold(text.to_string(), |out, (from, to)| out.replace(from, to))
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `url` names this machine: `localhost`, or a loopback address.
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let address = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>();
    host.eq_ignore_ascii_case("localhost") || address.is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_of_both_kinds_read_the_same() {
        let form = Params::from_body(Some("application/x-www-form-urlencoded"), b"a=1&b=x%40y&c=").unwrap();
        let json =
            Params::from_body(Some("application/json; charset=utf-8"), br#"{"a":1,"b":"x@y","c":null}"#).unwrap();
        for p in [form, json] {
            assert_eq!((p.get("a"), p.get("b"), p.get("c")), (Some("1"), Some("x@y"), None));
        }
        assert!(Params::from_body(Some("text/plain"), b"a=1").is_err());
        assert!(Params::from_form(b"a=1&a=2").is_err());
        assert!(Params::from_body(Some("application/json"), b"[1]").is_err());
    }

    #[test]
    fn s256_is_rfc_7636s_example() {
        assert_eq!(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}
