//! Silent refresh (`session.silent_refresh`): the guard asks, for a backend request whose
//! session token is about to expire (or expired within the grace), and the session is refreshed
//! in passing under its lease, as `/oauth/refreshtoken` would with the cookie.

use super::refresh::cookie_session;
use super::token::{refresh_tokens, Refresh};
use super::LoginService;
use crate::guard::{Renewed, SilentRefresh};
use crate::http::error::ApiError;
use crate::session::session_cookie;
use std::net::IpAddr;

#[async_trait::async_trait]
impl SilentRefresh for LoginService {
    async fn refresh_cookie(&self, cookie: &str, client_ip: IpAddr) -> Result<Renewed, ApiError> {
        let (session, shown) = cookie_session(self, cookie).await?;
        let ended = || ApiError::invalid_token("The session cannot be refreshed: log in again.");
        // Only a web client's session rides in a cookie: another client's token shown as a cookie
        // does not get its session refreshed (nor its refresh token rotated away).
        let client = self.config.client_by_name(&session.client).filter(|c| c.website).ok_or_else(ended)?;
        // A token left unused past the refresh grace is not brought back in passing.
        if self.sessions.past_refresh_grace(&session) {
            return Err(ended());
        }
        let refresh_token = self.sessions.refresh_token(&session).ok_or_else(ended)?;
        let refresh = Refresh::of_session(&session, &refresh_token, shown);
        let refreshed = refresh_tokens(self, client, &refresh, client_ip).await?;
        let value = match self.sessions.opaque() {
            true => refreshed.cookie_id.unwrap_or_else(|| cookie.to_string()),
            false => refreshed.tokens.access_token.clone(),
        };
        Ok(Renewed {
            set_cookie: session_cookie(&self.config.session, &value, client.same_site),
            cookie_value: value,
            access_token: refreshed.tokens.access_token,
        })
    }
}
