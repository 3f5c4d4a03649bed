//! The `dev_tenant` block: the embedded demo tenant and its users.

use super::defaults::{
    DEFAULT_DEV_ACCESS_TOKEN_TTL_SECONDS, DEFAULT_DEV_AUDIENCE, DEFAULT_DEV_EMAIL_VERIFIED, DEFAULT_DIRECTORY,
    DEFAULT_MANAGEMENT_REQUESTS_PER_MINUTE, DEFAULT_PHONE_CONNECTION,
};
use super::Problems;
use crate::config::file::FileDevTenant;
use crate::config::model::{DevPassword, DevTenant, DevUser, Secret, MANAGEMENT_SCOPES};

pub(super) fn dev_tenant(
    p: &mut Problems,
    d: FileDevTenant,
    guard_groups_claim: &str,
    guard_roles_claim: &str,
) -> DevTenant {
    let default_directory = d.default_directory.unwrap_or_else(|| DEFAULT_DIRECTORY.to_string());
    let fast_password_hash = match d.password_hash.as_deref() {
        None | Some("standard") => false,
        Some("fast") => true,
        Some(other) => {
            p.push("dev_tenant.password_hash", format!("{other:?} is not standard or fast"));
            false
        }
    };
    let mut users = Vec::new();
    for (i, u) in d.users.into_iter().enumerate() {
        let key = format!("dev_tenant.users[{i}]");
        let otp = u.otp.map(Secret);
        let password = match (u.password, u.password_hash) {
            (Some(pw), None) => DevPassword::Plain(Secret(pw)),
            (None, Some(h)) if h.starts_with("$argon2") => DevPassword::Hash(h),
            (None, Some(_)) => {
                p.push(&format!("{key}.password_hash"), "must be an argon2 PHC string ($argon2id$...)");
                continue;
            }
            // A passwordless user logs in with its one-time code only.
            (None, None) if otp.is_some() => DevPassword::Plain(Secret(String::new())),
            _ => {
                p.push(&key, "needs exactly one of password or password_hash (or an otp)");
                continue;
            }
        };
        let (email, default_conn) = match (u.email, u.phone_number) {
            (Some(e), None) => (e.to_lowercase(), default_directory.clone()),
            (None, Some(phone)) => (phone, DEFAULT_PHONE_CONNECTION.to_string()),
            _ => {
                p.push(&key, "needs exactly one of email or phone_number");
                continue;
            }
        };
        let connection = u.connection.unwrap_or(default_conn);
        if users.iter().any(|o: &DevUser| o.email == email && o.connection == connection) {
            p.push(&format!("{key}.email"), format!("{email:?} is listed twice on connection {connection:?}"));
        }
        users.push(DevUser {
            otp,
            name: u.name.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string()),
            email,
            password,
            connection,
            blocked: u.blocked,
            mfa: u.mfa,
            email_verified: u.email_verified.unwrap_or(DEFAULT_DEV_EMAIL_VERIFIED),
            groups: u.groups,
            roles: u.roles,
            permissions: u.permissions,
        });
    }
    DevTenant {
        issuer: d.issuer,
        audience: d.audience.unwrap_or_else(|| DEFAULT_DEV_AUDIENCE.to_string()),
        access_token_ttl_seconds: d.access_token_ttl_seconds.unwrap_or(DEFAULT_DEV_ACCESS_TOKEN_TTL_SECONDS),
        rotate_refresh_tokens: d.rotate_refresh_tokens,
        refresh_reuse_interval_seconds: d.refresh_reuse_interval_seconds.unwrap_or(0),
        fast_password_hash,
        default_directory,
        groups_claim: d.groups_claim.unwrap_or_else(|| guard_groups_claim.to_string()),
        roles_claim: d.roles_claim.unwrap_or_else(|| guard_roles_claim.to_string()),
        management_scopes: d
            .management_scopes
            .unwrap_or_else(|| MANAGEMENT_SCOPES.iter().map(|s| s.to_string()).collect()),
        management_requests_per_minute: d
            .management_requests_per_minute
            .unwrap_or(DEFAULT_MANAGEMENT_REQUESTS_PER_MINUTE),
        users,
    }
}
