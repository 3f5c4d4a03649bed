//! JWT verification: allow-listed algorithms, signature through the JWKS, `iss`, `aud`, `exp`.

pub(crate) mod signing;

use crate::http::error::ApiError;
use crate::tenant_client::{Jwks, JwksError};
use jsonwebtoken::{decode, decode_header, Algorithm, Validation};
use serde_json::{Map, Value};

/// What a token must satisfy.
#[derive(Debug, Clone)]
pub struct TokenChecks {
    /// Allowed algorithms: never `none`, never HMAC (the keys are public).
    pub algorithms: Vec<Algorithm>,
    pub issuer: String,
    /// Accepted audiences; `None` skips the audience check.
    pub audiences: Option<Vec<String>>,
    pub leeway_seconds: u64,
    /// Accept a token up to this many seconds past its `exp` (the refresh endpoint).
    pub expired_grace_seconds: Option<u64>,
}

impl TokenChecks {
    /// What the guard checks of an access token under `config`.
    pub(crate) fn access_tokens(config: &crate::config::Config) -> Self {
        let g = &config.guard;
        TokenChecks {
            algorithms: g.algorithms.clone(),
            issuer: config.tenant.issuer.clone(),
            audiences: Some(g.audiences.clone()),
            leeway_seconds: g.leeway_seconds,
            expired_grace_seconds: None,
        }
    }

    /// What an id_token from the tenant for `client` must satisfy: the tenant's signature
    /// under the allowed algorithms, its `iss`, `aud` = the client's id, `exp`.
    pub(crate) fn id_tokens(config: &crate::config::Config, client: &crate::config::Client) -> Self {
        TokenChecks { audiences: Some(vec![client.client_id.clone()]), ..Self::access_tokens(config) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's algorithm is not allowed")]
    Algorithm,
    #[error("the token's signing key is unknown")]
    UnknownKey,
    #[error("the signing keys could not be fetched")]
    KeysUnavailable,
    #[error("the token is invalid: {0}")]
    Invalid(&'static str),
    #[error("the token was revoked (logout)")]
    Revoked,
}

pub(crate) type Claims = Map<String, Value>;

/// A JWT's claims, read without any check: only for tokens that came from the tenant, or to
/// pick which checks to make.
pub(crate) fn unverified_claims(token: &str) -> Option<Claims> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub async fn verify(token: &str, jwks: &Jwks, policy: &TokenChecks) -> Result<Claims, VerifyError> {
    let header = decode_header(token).map_err(|_| VerifyError::Malformed)?;
    if !policy.algorithms.contains(&header.alg) {
        return Err(VerifyError::Algorithm);
    }
    let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
    let (key, key_alg) = jwks.key(&kid).await.map_err(|e| match e {
        JwksError::UnknownKid => VerifyError::UnknownKey,
        JwksError::Unavailable => VerifyError::KeysUnavailable,
    })?;
    if key_alg != header.alg {
        return Err(VerifyError::Algorithm);
    }
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&policy.issuer]);
    validation.leeway = policy.leeway_seconds;
    validation.validate_nbf = true;
    match &policy.audiences {
        Some(auds) => validation.set_audience(auds),
        None => validation.validate_aud = false,
    }
    // jsonwebtoken checks `iss` and `aud` only when present: a token without them is refused.
    let required: &[&str] = if policy.audiences.is_some() { &["exp", "iss", "aud"] } else { &["exp", "iss"] };
    validation.set_required_spec_claims(required);
    validation.validate_exp = policy.expired_grace_seconds.is_none();
    let data = decode::<Claims>(token, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind::*;
        VerifyError::Invalid(match e.kind() {
            InvalidSignature => "bad signature",
            ExpiredSignature => "expired",
            InvalidIssuer => "wrong issuer",
            InvalidAudience => "wrong audience",
            ImmatureSignature => "not yet valid",
            MissingRequiredClaim(_) => "missing claim",
            _ => "undecodable",
        })
    })?;
    if let Some(grace) = policy.expired_grace_seconds {
        let exp = data.claims.get("exp").and_then(Value::as_u64).ok_or(VerifyError::Invalid("missing claim"))?;
        if exp.saturating_add(grace).saturating_add(policy.leeway_seconds) < jsonwebtoken::get_current_timestamp() {
            return Err(VerifyError::Invalid("expired beyond the refresh grace"));
        }
    }
    Ok(data.claims)
}

/// A token that did not verify: `503` while the signing keys cannot be had (the caller may
/// retry), `401 invalid_token` for everything else (the reason is logged, never sent).
impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::KeysUnavailable => ApiError::unavailable("The signing keys are not available yet.", 1),
            _ => ApiError::invalid_token("The access token is not valid."),
        }
    }
}
