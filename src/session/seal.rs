//! Secrets at rest: refresh (and, with opaque cookies, access) tokens kept in sessions are
//! sealed with AES-256-GCM under `session.encryption_key`, a random 96-bit nonce each, and
//! bound to the session id as associated data (a sealed value moved to another session does
//! not open).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;

pub(crate) struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    /// From 32 key bytes.
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Sealer { key: LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte key")) }
    }

    /// From the configuration's base64 key, or a random key (one process, nothing outlives it).
    pub(crate) fn from_config(key: Option<&str>) -> Self {
        let bytes: [u8; 32] = key
            .and_then(|k| base64::engine::general_purpose::STANDARD.decode(k).ok())
            .and_then(|b| b.try_into().ok())
            .unwrap_or_else(rand::random);
        Sealer::new(&bytes)
    }

    pub(crate) fn seal(&self, plaintext: &str, context: &str) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut data = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .expect("sealing cannot fail for in-memory data");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&data);
        B64.encode(out)
    }

    /// `None` when the value was not sealed by this key for this context.
    pub(crate) fn open(&self, sealed: &str, context: &str) -> Option<String> {
        let bytes = B64.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let mut data = rest.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self.key.open_in_place(nonce, Aad::from(context.as_bytes()), &mut data).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let s = Sealer::new(&[7; 32]);
        let sealed = s.seal("refresh-token-value", "session-1");
        assert!(!sealed.contains("refresh"));
        assert_ne!(sealed, s.seal("refresh-token-value", "session-1"), "a fresh nonce each time");
        assert_eq!(s.open(&sealed, "session-1").as_deref(), Some("refresh-token-value"));
        assert_eq!(s.open(&sealed, "session-2"), None, "bound to its session");
        assert_eq!(Sealer::new(&[8; 32]).open(&sealed, "session-1"), None, "another key");
        let mut tampered = sealed.into_bytes();
        tampered[20] ^= 1;
        assert_eq!(s.open(std::str::from_utf8(&tampered).unwrap_or(""), "session-1"), None);
    }
}
