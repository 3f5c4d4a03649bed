//! The tenant's RS256 signing keys: generated at start (and on rotation), published in its JWKS;
//! they sign its tokens, logout tokens (`typ` `logout+jwt`) among them.

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
    pub(crate) decoding: DecodingKey,
    jwk: Value,
}

/// An RSA public key's JWK `n` and `e` (base64url, unpadded).
pub(crate) fn jwk_components(public: &aws_lc_rs::rsa::PublicKey) -> (String, String) {
    let unpadded = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    (
        unpadded(public.modulus().big_endian_without_leading_zero()),
        unpadded(public.exponent().big_endian_without_leading_zero()),
    )
}

impl Signer {
    /// A new 2048-bit key; its `kid` is derived from the modulus.
    pub fn generate() -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let der = pair.as_der().expect("PKCS#8 export");
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec()));
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("a valid key");
        let (n, e) = jwk_components(pair.public_key());
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(n.as_bytes())[..12]);
        let decoding = DecodingKey::from_rsa_components(&n, &e).expect("a valid key");
        let jwk = json!({"alg": "RS256", "kty": "RSA", "use": "sig", "n": n, "e": e, "kid": kid});
        Signer { kid, encoding, decoding, jwk }
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_kid(claims, &self.kid)
    }

    /// Sign under another `kid` (tests forge tokens with it).
    pub fn sign_with_kid(&self, claims: &Value, kid: &str) -> String {
        let header = Header { kid: Some(kid.to_string()), ..Header::new(Algorithm::RS256) };
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("RS256 signing")
    }

    /// Sign with this `typ` in the header (e.g. `logout+jwt`, which OpenID Connect
    /// Back-Channel Logout asks for so a logout token is never taken for an id_token).
    pub fn sign_typed(&self, claims: &Value, typ: &str) -> String {
        let header =
            Header { kid: Some(self.kid.clone()), typ: Some(typ.to_string()), ..Header::new(Algorithm::RS256) };
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("RS256 signing")
    }

    /// The public key's JWKS entry.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }
}
