//! The Auth0-style tenant: the reqwest client that calls it, and its JWKS cache.

mod client;
pub(crate) mod client_auth;
mod jwks;

pub(crate) use client::{TenantAnswer, TenantClient, TenantError, Tokens};
pub(crate) use jwks::{Jwks, JwksError};

/// The longest token lifetime believed from a tenant (ten years): a larger `expires_in` is
/// clamped to it, so no date overflows.
pub(crate) const MAX_EXPIRES_IN: u64 = 10 * 365 * 86_400;
