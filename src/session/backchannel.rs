//! `POST <session.backchannel_logout_path>`: OpenID Connect Back-Channel Logout 1.0. The tenant
//! says a user's session there ended (a logout in another application, the user blocked or
//! deleted, a password reset); every gateway session of that user, or of that tenant session
//! (`sid`), ends on every replica and its tokens are revoked.

use super::SessionEndpoints;
use crate::http::body::{body_kind, parse as parse_body, BodyKind};
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};
use crate::jwt::{verify, Claims, TokenChecks};
use crate::metrics::metrics;
use crate::store::unix_now;

/// The event a logout token must carry (§2.4).
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How old a logout token's `iat` may be: the tenant sends it at once, and may retry for a
/// while; an older one is refused (its `jti` might no longer be remembered).
const MAX_AGE_SECONDS: u64 = 600;

/// Who a logout token names, and for which of our clients (its `aud`).
#[derive(Debug, PartialEq, Eq)]
struct Named {
    subject: Option<String>,
    sid: Option<String>,
    audience: Vec<String>,
}

impl SessionEndpoints {
    pub(crate) async fn backchannel_logout(&self, req: &Request) -> Reply {
        let (outcome, reply) = match self.backchannel_steps(req).await {
            Ok(0) => ("no_session", Reply::empty(200)),
            Ok(_) => ("ended", Reply::empty(200)),
            Err((outcome, e)) => (outcome, e.into_reply()),
        };
        metrics().backchannel_logouts.with_label_values(&[outcome]).inc();
        reply.with_header("cache-control", "no-store")
    }

    /// The number of sessions ended; or the outcome's name and the refusal.
    async fn backchannel_steps(&self, req: &Request) -> Result<usize, (&'static str, ApiError)> {
        let refused = |e: ApiError| ("refused", e);
        let kind = body_kind(req.header("content-type")).map_err(refused)?;
        if kind != BodyKind::Form {
            return Err(refused(ApiError::invalid_request("the logout token comes as a form: logout_token=…")));
        }
        let params = parse_body(kind, &req.body).map_err(refused)?;
        let token = params.require("logout_token").map_err(refused)?;
        let (claims, named) = self.verified_logout_token(token).await.map_err(refused)?;
        // Each token is taken once (§2.6): remembered in the store until it expires.
        let jti = claims.get("jti").and_then(|v| v.as_str()).unwrap_or_default();
        let exp = claims.get("exp").and_then(|v| v.as_u64()).unwrap_or(0);
        let until = exp.saturating_add(self.config.guard.leeway_seconds);
        let key = format!(
            "backchannel:{}",
            crate::http::hex::hex(&super::digest(&format!("{}\n{jti}", self.config.tenant.issuer)))
        );
        let store = self.sessions.store();
        match store.first_sighting(&key, until).await {
            Ok(true) => {}
            Ok(false) => return Err(("replayed", invalid("the logout token was used already"))),
            Err(e) => return Err(("unavailable", super::store_unavailable(e))),
        }
        match self.end_named(&named).await {
            Ok(ended) => Ok(ended),
            Err(e) => {
                // Not done: the tenant's retry of the same token must be taken.
                if let Err(e) = store.forget_sighting(&key).await {
                    crate::store::report_error("forget a back-channel logout token", &e);
                }
                Err(("unavailable", super::store_unavailable(e)))
            }
        }
    }

    /// The claims of a logout token, checked as §2.6 demands: the tenant's signature under the
    /// allowed algorithms, `iss`, `aud` one of our clients' ids, `exp`, a recent `iat`, a
    /// `jti`, the logout event, `sub` and/or `sid`, and no `nonce`.
    async fn verified_logout_token(&self, token: &str) -> Result<(Claims, Named), ApiError> {
        // `typ` is only RECOMMENDED (§2.4): absent, `JWT` or `logout+jwt`; another one (an
        // access token's `at+jwt`) is not a logout token.
        let typ = jsonwebtoken::decode_header(token).ok().and_then(|h| h.typ).map(|t| t.to_ascii_lowercase());
        if typ.as_deref().is_some_and(|t| !["jwt", "logout+jwt"].contains(&t)) {
            return Err(invalid("the token's typ is not logout+jwt"));
        }
        let checks = TokenChecks {
            audiences: Some(self.config.clients.iter().map(|c| c.client_id.clone()).collect()),
            ..TokenChecks::access_tokens(&self.config)
        };
        let claims = verify(token, &self.jwks, &checks).await.map_err(|e| {
            tracing::info!(reason = %e, "back-channel logout refused: the logout token did not verify");
            invalid("the logout token did not verify")
        })?;
        let mut named = logout_claims(&claims, unix_now(), self.config.guard.leeway_seconds)?;
        named.audience = match claims.get("aud") {
            Some(serde_json::Value::String(a)) => vec![a.clone()],
            Some(serde_json::Value::Array(all)) => all.iter().filter_map(|a| a.as_str().map(str::to_string)).collect(),
            _ => vec![],
        };
        Ok((claims, named))
    }

    /// End every session the token names, of the clients it is for (`aud`): the user's (`sub`),
    /// only those of the tenant session `sid` when it names one too (and those recorded with no
    /// `sid`, which may be of it). A `sid` alone names the sessions recorded with it.
    async fn end_named(&self, named: &Named) -> Result<usize, crate::store::StoreError> {
        let sessions = match &named.subject {
            Some(subject) => self.sessions.store().sessions_of(subject).await?,
            None => self.sessions.sessions_of_tenant_sid(named.sid.as_deref().unwrap_or_default()).await?,
        };
        let for_audience = |s: &&crate::store::SessionRecord| {
            self.config.client_by_name(&s.client).is_some_and(|c| named.audience.contains(&c.client_id))
        };
        let of_sid = |s: &&crate::store::SessionRecord| {
            named.sid.is_none() || s.tenant_sid.is_none() || s.tenant_sid == named.sid
        };
        let mut ended = 0;
        for s in sessions.iter().filter(for_audience).filter(of_sid) {
            let _ = self.sessions.end(s).await?;
            ended += 1;
        }
        if ended > 0 {
            tracing::info!(sessions = ended, "back-channel logout: sessions ended");
            let user = named.subject.as_deref().or(sessions.first().map(|s| s.subject.as_str())).unwrap_or_default();
            crate::audit::sessions_ended("backchannel", user, ended, None);
        }
        Ok(ended)
    }
}

fn invalid(description: &'static str) -> ApiError {
    ApiError::invalid_request(description)
}

/// The claims a verified logout token must (and must not) carry, at `now`.
fn logout_claims(claims: &Claims, now: u64, leeway: u64) -> Result<Named, ApiError> {
    let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).filter(|v| !v.is_empty()).map(str::to_string);
    let iat = claims.get("iat").and_then(|v| v.as_u64()).ok_or_else(|| invalid("the logout token has no iat"))?;
    if iat > now.saturating_add(leeway) || iat.saturating_add(MAX_AGE_SECONDS) < now {
        return Err(invalid("the logout token's iat is not recent"));
    }
    if text("jti").is_none() {
        return Err(invalid("the logout token has no jti"));
    }
    let events = claims.get("events").and_then(|v| v.as_object());
    if !events.is_some_and(|e| e.get(LOGOUT_EVENT).is_some_and(|v| v.is_object())) {
        return Err(invalid("the logout token does not carry the back-channel logout event"));
    }
    if claims.contains_key("nonce") {
        return Err(invalid("a logout token must not carry a nonce"));
    }
    let named = Named { subject: text("sub"), sid: text("sid"), audience: vec![] };
    if named.subject.is_none() && named.sid.is_none() {
        return Err(invalid("the logout token names neither sub nor sid"));
    }
    Ok(named)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: serde_json::Value) -> Claims {
        value.as_object().unwrap().clone()
    }

    fn good() -> serde_json::Value {
        json!({"iat": 1000, "jti": "j1", "sub": "auth0|u", "sid": "s1", "events": {LOGOUT_EVENT: {}}})
    }

    #[test]
    fn a_logout_token_names_its_user_and_session() {
        let named = logout_claims(&claims(good()), 1000, 60).unwrap();
        assert_eq!(named, Named { subject: Some("auth0|u".into()), sid: Some("s1".into()), audience: vec![] });
        let mut only_sid = good();
        only_sid.as_object_mut().unwrap().remove("sub");
        assert_eq!(logout_claims(&claims(only_sid), 1000, 60).unwrap().subject, None);
    }

    #[test]
    fn what_the_spec_forbids_or_requires_is_refused() {
        let cases: [(&str, serde_json::Value); 7] = [
            ("nonce", json!({"nonce": "n"})),
            ("no event", json!({"events": {}})),
            ("event not an object", json!({"events": {LOGOUT_EVENT: "yes"}})),
            ("no jti", json!({"jti": null})),
            ("old", json!({"iat": 1000 - MAX_AGE_SECONDS - 1})),
            ("future", json!({"iat": 1000 + 61})),
            ("nobody", json!({"sub": null, "sid": null})),
        ];
        for (name, change) in cases {
            let mut c = good();
            for (k, v) in change.as_object().unwrap() {
                match v {
                    serde_json::Value::Null => c.as_object_mut().unwrap().remove(k),
                    v => c.as_object_mut().unwrap().insert(k.clone(), v.clone()),
                };
            }
            let refused = logout_claims(&claims(c), 1000, 60).unwrap_err();
            assert_eq!((refused.status, refused.error.as_ref()), (400, "invalid_request"), "{name}");
        }
    }
}
