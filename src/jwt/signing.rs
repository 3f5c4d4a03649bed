//! The gateway's own RS256 signing key for re-issued id_tokens (from a PEM file or an
//! environment variable), and its JWKS entry. (The dev tenant has keys of its own.)

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub(crate) struct Signer {
    pub(crate) kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

/// An RSA public key's JWK components `n` and `e` (base64url, no padding): the one place an
/// RSA key becomes a JWK.
pub(crate) fn rsa_components(public: &aws_lc_rs::rsa::PublicKey) -> (String, String) {
    let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
    let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
    (n, e)
}

impl Signer {
    #[cfg(test)]
    pub(crate) fn generate() -> Self {
        Self::from_pair(KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key generation"))
    }

    /// From an RSA private key in PEM (`PRIVATE KEY`, PKCS#8, or `RSA PRIVATE KEY`, PKCS#1).
    pub(crate) fn from_pem(text: &str) -> Result<Self, String> {
        let block = pem::parse(text.trim()).map_err(|e| format!("not a PEM key: {e}"))?;
        let pair = match block.tag() {
            "PRIVATE KEY" => KeyPair::from_pkcs8(block.contents()),
            "RSA PRIVATE KEY" => KeyPair::from_der(block.contents()),
            other => return Err(format!("a PEM {other:?} is not an RSA private key")),
        }
        .map_err(|_| "not an RSA private key".to_string())?;
        if pair.public_modulus_len() < 256 {
            return Err("the RSA key must have at least 2048 bits".to_string());
        }
        Ok(Self::from_pair(pair))
    }

    fn from_pair(pair: KeyPair) -> Self {
        let der = pair.as_der().expect("PKCS#8 export");
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec()));
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("a valid key");
        let (n, e) = rsa_components(pair.public_key());
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(n.as_bytes())[..12]);
        let jwk = json!({"alg": "RS256", "kty": "RSA", "use": "sig", "n": n, "e": e, "kid": kid});
        Signer { kid, encoding, jwk }
    }

    pub(crate) fn sign(&self, claims: &Value) -> String {
        self.sign_with_kid(claims, &self.kid)
    }

    /// Sign under another `kid` (tests forge tokens with it).
    pub(crate) fn sign_with_kid(&self, claims: &Value, kid: &str) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("RS256 signing")
    }

    /// The public key's JWKS entry.
    pub(crate) fn jwk(&self) -> &Value {
        &self.jwk
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::KeySize;
    use jsonwebtoken::DecodingKey;

    #[test]
    fn a_pem_key_signs_what_its_jwk_verifies() {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pair.as_der().unwrap().as_ref().to_vec()));
        let s = Signer::from_pem(&pem).unwrap();
        let token = s.sign(&json!({"sub": "x"}));
        let mut v = jsonwebtoken::Validation::new(Algorithm::RS256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let d = DecodingKey::from_jwk(&serde_json::from_value(s.jwk().clone()).unwrap()).unwrap();
        assert!(jsonwebtoken::decode::<Value>(&token, &d, &v).is_ok());
        assert!(Signer::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----").is_err());
        assert!(Signer::from_pem("garbage").is_err());
    }
}
