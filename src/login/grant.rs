//! The grant types the gateway and the dev tenant speak, named once.

/// Auth0's password grant against a named connection (`realm`).
pub(crate) const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";
/// Auth0's passwordless (SMS or email) one-time-code grant.
pub(crate) const PASSWORDLESS_OTP: &str = "http://auth0.com/oauth/grant-type/passwordless/otp";
/// `/oauth/ro`'s id_token exchange (RFC 7523).
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
