//! The Auth0-style tenant: the reqwest client that calls it, and its JWKS cache.

mod client;
pub mod client_auth;
mod jwks;

pub use client::{ManagementAnswer, TenantClient, TenantError, Tokens};
pub use jwks::{Jwks, JwksError};
