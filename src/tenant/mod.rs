//! The Auth0-style tenant: the reqwest client that calls it, and its JWKS cache.

mod client;
pub(crate) mod client_auth;
mod jwks;

pub(crate) use client::{TenantAnswer, TenantClient, TenantError, Tokens};
pub(crate) use jwks::{Jwks, JwksError};
