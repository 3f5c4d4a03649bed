//! Token verification against the tenant's keys.

pub mod jwt;
