//! The dev tenant's users: passwords kept only as argon2 hashes.

use crate::config::{DevPassword, DevUser, Secret};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub connection: String,
    pub blocked: bool,
    pub mfa: bool,
    pub email_verified: bool,
    pub groups: Vec<String>,
    hash: String,
    otp: Option<Secret>,
}

/// Argon2id: the library default (19 MiB, 2 passes), or a fast setting for benchmarks.
pub fn hasher(fast: bool) -> Argon2<'static> {
    let params = if fast { Params::new(64, 1, 1, None) } else { Params::new(19 * 1024, 2, 1, None) };
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.expect("valid argon2 parameters"))
}

impl User {
    pub fn from_config(u: &DevUser, argon: &Argon2<'static>) -> Result<Self, String> {
        let hash = match &u.password {
            // A passwordless user has no password: no hash, and nothing ever matches it.
            DevPassword::Plain(pw) if pw.expose().is_empty() => String::new(),
            DevPassword::Plain(pw) => argon
                .hash_password(pw.expose().as_bytes(), &SaltString::generate(&mut OsRng))
                .map_err(|e| format!("hashing the password of {}: {e}", u.email))?
                .to_string(),
            DevPassword::Hash(h) => {
                PasswordHash::new(h).map_err(|e| format!("password_hash of {}: {e}", u.email))?;
                h.clone()
            }
        };
        let id = hex_id(&u.connection, &u.email);
        Ok(User {
            id,
            email: u.email.clone(),
            name: u.name.clone(),
            connection: u.connection.clone(),
            blocked: u.blocked,
            mfa: u.mfa,
            email_verified: u.email_verified,
            groups: u.groups.clone(),
            hash,
            otp: u.otp.clone(),
        })
    }

    /// A passwordless user's one-time code (fixed in the configuration: demo only).
    pub fn otp_matches(&self, code: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.otp.as_ref().is_some_and(|o| bool::from(o.expose().as_bytes().ct_eq(code.as_bytes())))
    }

    /// Check a password against the stored hash (CPU heavy: call off the async threads).
    pub fn password_matches(&self, password: &str) -> bool {
        PasswordHash::new(&self.hash)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    }
}

fn hex_id(connection: &str, email: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{connection}\0{email}").as_bytes());
    d[..12].iter().map(|b| format!("{b:02x}")).collect()
}
