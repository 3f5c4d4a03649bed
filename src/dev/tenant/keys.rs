//! The dev tenant's RS256 signing key, generated at start, and its JWKS entry (the same
//! signer the gateway uses for its own id_tokens).

pub use crate::signing::Signer;
