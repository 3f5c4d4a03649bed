//! The login endpoints the gateway answers itself: `/oauth/token` and `/oauth/refreshtoken`.
//! Plain values in, a `Reply` out: no pingora type here.

mod authorize;

pub(crate) mod grant;
mod passwords_api;
mod refresh;
mod ro;
mod scope;
mod shape;
mod silent;
mod token;

pub use crate::http::body::{body_kind, parse as parse_body, BodyKind, Params};
pub use authorize::challenge;
pub(crate) use authorize::login_redirect;
pub use scope::upstream_scope;

use crate::config::{Client, Config};
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use crate::limits::{Limits, RateInfo};
use crate::tenant_client::{Jwks, TenantClient};
use std::sync::Arc;

pub(crate) use crate::routing::endpoints::Endpoint;

/// Everything the login endpoints need.
pub(crate) struct LoginService {
    pub(crate) config: Arc<Config>,
    pub(crate) tenant: TenantClient,
    pub(crate) jwks: Arc<Jwks>,
    pub(crate) limits: Arc<Limits>,
    pub(crate) sessions: Arc<crate::session::SessionService>,
    /// Re-signs id_tokens as the gateway's, when configured.
    pub(crate) id_tokens: Option<Arc<crate::idtoken::IdTokens>>,
}

impl LoginService {
    /// Record the session of a successful login (see `SessionService::record`); a store that
    /// cannot be reached fails the login only when the cookie must name the session.
    /// A web client's answer to a login whose own shape is not the cookie (`/oauth/ro`, the
    /// Passwords API): the session cookie, never the tokens. `None` for other clients.
    fn web_answer(
        &self,
        client: &Client,
        tokens: &crate::tenant_client::Tokens,
        session: Option<&crate::store::SessionRecord>,
    ) -> Option<Reply> {
        client.website.then(|| {
            shape::cookie_reply(client, &self.config.session, tokens, session.and_then(|s| s.cookie_id.as_deref()))
        })
    }

    /// With `id_token.reissue`, the id_token is replaced by the gateway's first.
    async fn issued(
        &self,
        client: &Client,
        tokens: &mut crate::tenant_client::Tokens,
        previous: Option<&crate::store::SessionRecord>,
    ) -> Result<Option<crate::store::SessionRecord>, ApiError> {
        self.issued_verified(client, tokens, previous, None).await
    }

    /// Tokens the tenant issued that will not be handed out: their refresh token is revoked.
    async fn discard(&self, client: &Client, tokens: &crate::tenant_client::Tokens, client_ip: std::net::IpAddr) {
        if let Some(rt) = &tokens.refresh_token {
            let _ = self.tenant.revoke(client, rt, client_ip).await;
        }
    }

    /// `issued`, for a caller that has verified the id_token already (`id_claims`).
    async fn issued_verified(
        &self,
        client: &Client,
        tokens: &mut crate::tenant_client::Tokens,
        previous: Option<&crate::store::SessionRecord>,
        id_claims: Option<crate::jwt::Claims>,
    ) -> Result<Option<crate::store::SessionRecord>, ApiError> {
        if let (Some(signer), Some(id_token)) = (&self.id_tokens, &tokens.id_token) {
            let claims = match id_claims {
                Some(claims) => claims,
                None => crate::idtoken::IdTokens::verified(id_token, client, &self.jwks, &self.config).await?,
            };
            tokens.id_token = Some(signer.reissue(claims, client));
        }
        if self.sessions.refuses_new_sessions() {
            // Each session (and each refresh) may add revocations; the list is full, and a
            // revocation is never dropped: no new session until entries expire.
            self.discard(client, tokens, std::net::Ipv4Addr::LOCALHOST.into()).await;
            return Err(ApiError::unavailable(
                "The gateway cannot start sessions right now (its revocation list is full); try again later.",
                60,
            ));
        }
        match self.sessions.record(client, tokens, previous).await {
            Ok(session) => Ok(session),
            Err(crate::store::StoreError::Ended) => {
                // A logout won the race: the new tokens are not handed out.
                self.discard(client, tokens, std::net::Ipv4Addr::LOCALHOST.into()).await;
                Err(ApiError::new(401, "invalid_grant", "The session has ended."))
            }
            // Another refresh of the same token came first: its tokens are the session's now.
            // These are not handed out; their refresh token is not revoked (without rotation
            // it is the session's own).
            Err(crate::store::StoreError::Superseded) => Err(superseded()),
            Err(e) => {
                crate::store::report_error("record session", &e);
                Err(ApiError::unavailable(crate::session::STORE_UNAVAILABLE, 1))
            }
        }
    }
}

/// A refresh of a token that another refresh replaced first.
fn superseded() -> ApiError {
    ApiError::new(
        401,
        "invalid_grant",
        "The session was refreshed by another request at the same time: use the newest cookie or token.",
    )
}

/// The outcome of a login call, for the access log.
pub(crate) struct Outcome {
    pub(crate) reply: Reply,
    pub(crate) client: Option<String>,
}

/// The tightest rate limit that applied to a login call so far.
#[derive(Default)]
pub(crate) struct AppliedLimits(Option<RateInfo>);

impl AppliedLimits {
    fn add(&mut self, info: RateInfo) {
        self.0 = RateInfo::tightest(self.0, Some(info));
    }
}

impl LoginService {
    pub(crate) async fn handle(&self, endpoint: Endpoint, req: &Request) -> Outcome {
        let client = self.config.caller(&req.headers);
        let mut applied = AppliedLimits::default();
        let result = match self.limits.check_login(client.map_or("", |c| c.name.as_str()), req.client_ip).await {
            Err(refusal) => Err(refusal),
            Ok(info) => {
                applied.add(info);
                match (client, endpoint) {
                    (None, _) => {
                        if req.headers.contains_key("secret") {
                            crate::audit::secret_refused(
                                crate::routing::endpoints::Route::Login(endpoint).class(),
                                req.client_ip,
                            );
                        }
                        Err(ApiError::invalid_client())
                    }
                    (Some(c), Endpoint::RefreshToken) => refresh::handle(self, c, req).await,
                    (Some(c), form) => self.form_login(form, c, req, &mut applied).await,
                }
            }
        };
        let mut reply = result.unwrap_or_else(ApiError::into_reply);
        if let Some(info) = applied.0 {
            info.stamp(&mut reply.headers);
        }
        Outcome { reply, client: client.map(|c| c.name.clone()) }
    }

    /// The logins whose body is a form or JSON: parsed once, its `client_id` checked, handled.
    async fn form_login(
        &self,
        endpoint: Endpoint,
        client: &Client,
        req: &Request,
        applied: &mut AppliedLimits,
    ) -> Result<Reply, ApiError> {
        let params = read_params(req)?;
        check_client_id(&params, client)?;
        let call = FormCall { svc: self, client, req, params: &params };
        match endpoint {
            Endpoint::Token => token::handle(call, applied).await,
            Endpoint::Ro => ro::handle(call, applied).await,
            Endpoint::PasswordsApi => passwords_api::handle(call, applied).await,
            Endpoint::RefreshToken => refresh::handle(self, client, req).await,
        }
    }
}

/// A login call with a form or JSON body: the service, the client its secret named, the
/// request and its parameters.
#[derive(Clone, Copy)]
pub(crate) struct FormCall<'a> {
    svc: &'a LoginService,
    client: &'a Client,
    req: &'a Request,
    params: &'a Params,
}

/// Who a password attempt is for: the client, the connection, the grant (for the audit trail:
/// `password`, `ro`, `passwords_api`) and the username.
pub(crate) struct Who<'a> {
    pub(crate) client: &'a str,
    pub(crate) connection: &'a str,
    pub(crate) grant: &'static str,
    pub(crate) username: &'a str,
}

/// Run a password attempt's tenant call, record its outcome for brute-force protection, and
/// write it to the audit trail.
async fn attempt(
    svc: &LoginService,
    who: Who<'_>,
    req: &Request,
    call: impl std::future::Future<Output = Result<crate::tenant_client::Tokens, crate::tenant_client::TenantError>>,
) -> Result<crate::tenant_client::Tokens, crate::tenant_client::TenantError> {
    let result = call.await;
    if let Some(success) = token::credential_outcome(&result) {
        svc.limits.record_attempt(who.username, req.client_ip, success).await;
    }
    let (client, connection, ip) = (who.client, Some(who.connection), req.client_ip);
    match &result {
        Ok(tokens) => {
            let user = crate::jwt::unverified_claims(&tokens.access_token)
                .and_then(|c| c.get("sub").and_then(|s| s.as_str()).map(str::to_string));
            crate::audit::login_succeeded(client, connection, who.grant, user.as_deref(), ip);
        }
        Err(e) => {
            let reason = match e {
                crate::tenant_client::TenantError::Rejected(refusal) => refusal.error.as_ref(),
                crate::tenant_client::TenantError::Unreachable => "unreachable",
                crate::tenant_client::TenantError::Timeout => "timeout",
                crate::tenant_client::TenantError::BadAnswer(_) => "bad_answer",
            };
            crate::audit::login_failed(client, connection, who.grant, who.username, reason, ip);
        }
    }
    result
}

/// Parse the body after checking its content type.
fn read_params(req: &Request) -> Result<Params, ApiError> {
    let kind = body_kind(req.header("content-type"))?;
    parse_body(kind, &req.body)
}

/// A `client_id` in the body must be the selected client's.
fn check_client_id(params: &Params, client: &Client) -> Result<(), ApiError> {
    match params.get("client_id") {
        Some(id) if id != client.client_id => Err(ApiError::new(
            401,
            "invalid_client",
            "The client_id is not the one of the application the secret header names.",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod tests;
