//! The dev tenant's RS256 signing key, generated at start, and its JWKS entry.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub struct Signer {
    pub kid: String,
    encoding: EncodingKey,
    pub decoding: DecodingKey,
    jwk: Value,
}

impl Signer {
    pub fn generate() -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let der = pair.as_der().expect("PKCS#8 export");
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec()));
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("generated key is valid");
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(n.as_bytes())[..12]);
        let decoding = DecodingKey::from_rsa_components(&n, &e).expect("generated key is valid");
        let jwk = json!({"alg": "RS256", "kty": "RSA", "use": "sig", "n": n, "e": e, "kid": kid});
        Signer { kid, encoding, decoding, jwk }
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_kid(claims, &self.kid)
    }

    /// Sign under another `kid` (tests forge tokens with it).
    pub fn sign_with_kid(&self, claims: &Value, kid: &str) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("RS256 signing")
    }

    pub fn jwk(&self) -> &Value {
        &self.jwk
    }
}
