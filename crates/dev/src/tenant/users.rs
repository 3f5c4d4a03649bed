//! The dev tenant's users: passwords kept only as argon2 hashes, profiles as the Management
//! API shows them.

use super::connections::provider;
use crate::settings::{Password as DevPassword, Secret, UserSettings as DevUser};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde_json::{json, Map, Value};

#[derive(Clone)]
pub(crate) struct User {
    /// The hex part of the user id (`auth0|<id>`).
    pub(crate) id: String,
    /// Login name of database and `email` users; empty for an `sms` user created without one.
    pub(crate) email: String,
    pub(crate) phone_number: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) name: String,
    pub(crate) nickname: String,
    pub(crate) given_name: Option<String>,
    pub(crate) family_name: Option<String>,
    pub(crate) picture: Option<String>,
    pub(crate) connection: String,
    pub(crate) blocked: bool,
    pub(crate) mfa: bool,
    pub(crate) email_verified: bool,
    pub(crate) app_metadata: Map<String, Value>,
    pub(crate) user_metadata: Map<String, Value>,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    /// PHC string, or empty: no password (nothing ever matches it).
    pub(crate) hash: String,
    otp: Option<Secret>,
    /// RBAC roles and permissions (Auth0 keeps them apart from the profile).
    pub(crate) roles: Vec<String>,
    pub(crate) permissions: Vec<String>,
}

/// Argon2id: the library default (19 MiB, 2 passes), or a fast setting for benchmarks.
pub(crate) fn hasher(fast: bool) -> Argon2<'static> {
    let params = if fast { Params::new(64, 1, 1, None) } else { Params::new(19 * 1024, 2, 1, None) };
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.expect("valid argon2 parameters"))
}

/// A PHC string for `password` (CPU heavy: call off the async threads).
pub(crate) fn hash_password(argon: &Argon2<'static>, password: &str) -> Result<String, String> {
    argon
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing a password: {e}"))
}

/// Check a password against a stored hash (CPU heavy: call off the async threads).
pub(crate) fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok()).unwrap_or(false)
}

/// Now, as RFC 3339 (the Management API's `created_at`/`updated_at`).
pub(crate) fn timestamp() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl User {
    /// A new user of `connection` known by `email` (or, for an `sms` user, `phone_number`),
    /// with Auth0's defaults: `name` is the login name, `nickname` its local part.
    pub(crate) fn new(connection: &str, email: &str, phone_number: Option<&str>) -> Self {
        let login = if email.is_empty() { phone_number.unwrap_or_default() } else { email };
        let now = timestamp();
        User {
            id: hex_id(connection, login),
            email: email.to_string(),
            phone_number: phone_number.map(str::to_string),
            username: None,
            name: login.to_string(),
            nickname: login.split('@').next().unwrap_or_default().to_string(),
            given_name: None,
            family_name: None,
            picture: None,
            connection: connection.to_string(),
            blocked: false,
            mfa: false,
            email_verified: false,
            app_metadata: Map::new(),
            user_metadata: Map::new(),
            created_at: now.clone(),
            updated_at: now,
            hash: String::new(),
            otp: None,
            roles: Vec::new(),
            permissions: Vec::new(),
        }
    }

    pub(crate) fn from_config(u: &DevUser, argon: &Argon2<'static>) -> Result<Self, String> {
        let hash = match &u.password {
            // A passwordless user has no password: no hash, and nothing ever matches it.
            DevPassword::Plain(pw) if pw.expose().is_empty() => String::new(),
            DevPassword::Plain(pw) => {
                hash_password(argon, pw.expose()).map_err(|e| format!("hashing the password of {}: {e}", u.email))?
            }
            DevPassword::Hash(h) => {
                PasswordHash::new(h).map_err(|e| format!("password_hash of {}: {e}", u.email))?;
                h.clone()
            }
        };
        let phone = (u.connection == "sms").then_some(u.email.as_str());
        let mut user = User::new(&u.connection, &u.email, phone);
        user.name = u.name.clone();
        user.blocked = u.blocked;
        user.mfa = u.mfa;
        user.email_verified = u.email_verified;
        if !u.groups.is_empty() {
            user.app_metadata.insert("groups".into(), json!(u.groups));
        }
        user.hash = hash;
        user.otp = u.otp.clone();
        user.roles = u.roles.clone();
        user.permissions = u.permissions.clone();
        Ok(user)
    }

    /// `auth0|<hex id>`.
    pub(crate) fn user_id(&self) -> String {
        format!("auth0|{}", self.id)
    }

    /// Whether this user logs in as `login` (already lower-cased): the email or phone number.
    pub(crate) fn is_named(&self, login: &str) -> bool {
        self.email.to_lowercase() == login || self.phone_number.as_deref().is_some_and(|p| p.to_lowercase() == login)
    }

    /// The groups claim: `app_metadata.groups` when it is an array (its string elements).
    pub(crate) fn groups(&self) -> Vec<&str> {
        match self.app_metadata.get("groups") {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// A passwordless user's one-time code (fixed in the configuration: demo only).
    pub(crate) fn otp_matches(&self, code: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.otp.as_ref().is_some_and(|o| bool::from(o.expose().as_bytes().ct_eq(code.as_bytes())))
    }

    /// Set the profile fields present in `fields` (already type-checked). Metadata objects
    /// are merged shallowly: a key set to null is removed, an empty object (or null) clears.
    pub(crate) fn apply(&mut self, fields: &Map<String, Value>) {
        let text = |v: &Value| v.as_str().map(str::to_string);
        for (key, value) in fields {
            match key.as_str() {
                "email" => self.email = text(value).unwrap_or_default(),
                "phone_number" => self.phone_number = text(value),
                "username" => self.username = text(value),
                "name" => self.name = text(value).unwrap_or_default(),
                "nickname" => self.nickname = text(value).unwrap_or_default(),
                "given_name" => self.given_name = text(value),
                "family_name" => self.family_name = text(value),
                "picture" => self.picture = text(value),
                "connection" => self.connection = text(value).unwrap_or_default(),
                "email_verified" => self.email_verified = value.as_bool().unwrap_or_default(),
                "blocked" => self.blocked = value.as_bool().unwrap_or_default(),
                "app_metadata" => merge(&mut self.app_metadata, value),
                "user_metadata" => merge(&mut self.user_metadata, value),
                _ => {}
            }
        }
    }

    /// The user as the Management API shows it.
    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({
            "user_id": self.user_id(),
            "email_verified": self.email_verified,
            "name": self.name,
            "nickname": self.nickname,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "identities": [{
                "connection": self.connection,
                "user_id": self.id,
                "provider": provider(&self.connection),
                "isSocial": false,
            }],
            "app_metadata": self.app_metadata,
            "user_metadata": self.user_metadata,
            "blocked": self.blocked,
        });
        let optional = [
            ("email", (!self.email.is_empty()).then_some(&self.email)),
            ("username", self.username.as_ref()),
            ("phone_number", self.phone_number.as_ref()),
            ("given_name", self.given_name.as_ref()),
            ("family_name", self.family_name.as_ref()),
            ("picture", self.picture.as_ref()),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                v[key] = json!(value);
            }
        }
        v
    }
}

fn merge(into: &mut Map<String, Value>, patch: &Value) {
    match patch {
        Value::Object(fields) if !fields.is_empty() => {
            for (key, value) in fields {
                if value.is_null() {
                    into.remove(key);
                } else {
                    into.insert(key.clone(), value.clone());
                }
            }
        }
        _ => into.clear(),
    }
}

/// JSON Schema's name of a value's type, for validation messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The type a profile property must have (`None`: not a profile property). Optional string
/// properties may be null (unset); metadata may be null (cleared).
pub(crate) fn check_type(field: &str, value: &Value) -> Option<Result<(), String>> {
    let ok = match field {
        "email" | "name" | "nickname" | "connection" | "password" | "user_id" | "password_hash" => value.is_string(),
        "phone_number" | "username" | "given_name" | "family_name" | "picture" => value.is_string() || value.is_null(),
        "email_verified" | "blocked" | "verify_email" => value.is_boolean(),
        "app_metadata" | "user_metadata" => value.is_object() || value.is_null(),
        _ => return None,
    };
    let expected = match field {
        "email_verified" | "blocked" | "verify_email" => "boolean",
        "app_metadata" | "user_metadata" => "object",
        _ => "string",
    };
    Some(if ok { Ok(()) } else { Err(format!("Expected type {expected} but found type {}", type_name(value))) })
}

pub(crate) fn hex_id(connection: &str, email: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{connection}\0{email}").as_bytes());
    crate::wire::hex(&d[..12])
}
