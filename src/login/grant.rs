//! The grant types the gateway and the dev tenant speak, named once.

/// Auth0's password grant against a named connection (`realm`).
pub(crate) const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";
/// Auth0's passwordless (SMS or email) one-time-code grant.
pub(crate) const PASSWORDLESS_OTP: &str = "http://auth0.com/oauth/grant-type/passwordless/otp";
/// `/oauth/ro`'s id_token exchange (RFC 7523).
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Whether `realm` is a passwordless connection (`sms`, `email`): its "password" is a
/// one-time code.
pub(crate) fn is_passwordless(realm: &str) -> bool {
    matches!(realm, "sms" | "email")
}

/// The tenant form of a username and secret against `realm`: the passwordless OTP grant with
/// the secret as `otp` for a passwordless realm, else the password-realm grant with `password`.
pub(crate) fn realm_form<'a>(
    realm: &'a str,
    username: &'a str,
    secret: &'a str,
    scope: &'a str,
) -> Vec<(&'static str, &'a str)> {
    let (grant, secret_field) =
        if is_passwordless(realm) { (PASSWORDLESS_OTP, "otp") } else { (PASSWORD_REALM, "password") };
    vec![("grant_type", grant), ("realm", realm), ("username", username), (secret_field, secret), ("scope", scope)]
}
