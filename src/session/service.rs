//! Sessions over the store: every successful login records one (user, client, times, the
//! refresh token sealed); a session is found by the hash of its access token or by its id;
//! ending it deletes it and revokes its token and id on every replica.

use super::seal::Sealer;
use crate::config::{Client, Config, CookieMode};
use crate::http::hex::{from_hex, hex};
use crate::revocations::Revocations;
use crate::store::{report_error, unix_now, Put, Revoked, Rotated, SessionRecord, SessionStore, StoreError};
use crate::tenant_client::Tokens;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// What the store knows of an access token (see `SessionService::lookup_token`).
pub(crate) enum TokenLookup {
    Current(SessionRecord),
    /// Another refresh replaced it (on any replica, perhaps not yet known here as revoked):
    /// the session as it is now.
    Replaced(SessionRecord),
    Unknown,
}

pub(crate) struct SessionService {
    config: Arc<Config>,
    store: Arc<dyn SessionStore>,
    sealer: Arc<Sealer>,
    pub(crate) revocations: Arc<Revocations>,
    /// Opaque cookies: session id hash → its access token, so the guard asks the store once
    /// per session and `OPAQUE_CACHE_TTL`, not per request. Revocations still apply at once.
    /// The token's own hash is kept with it, so checking its revocation costs no digest.
    opaque: moka::sync::Cache<[u8; 32], (Arc<str>, [u8; 32])>,
}

const OPAQUE_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// SHA-256 of a token or session id: how the store and the revocation list know it.
pub(crate) fn digest(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

impl SessionService {
    /// `previous`: the service this one replaces on reload; its sealing key is kept when the
    /// configured key did not change (a random one included), so sealed tokens still open.
    pub(crate) fn new(
        config: Arc<Config>,
        store: Arc<dyn SessionStore>,
        revocations: Arc<Revocations>,
        previous: Option<&SessionService>,
    ) -> Self {
        let key = config.session.encryption_key.clone();
        let sealer = match previous.filter(|p| p.config.session.encryption_key == key) {
            Some(p) => p.sealer.clone(),
            None => Arc::new(Sealer::from_config(key.as_ref().map(|k| k.expose()))),
        };
        let opaque = moka::sync::Cache::builder().max_capacity(100_000).time_to_live(OPAQUE_CACHE_TTL).build();
        SessionService { config, store, sealer, revocations, opaque }
    }

    /// The sealing key (also the browser login's transaction cookies', under their own context).
    pub(crate) fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    pub(crate) fn opaque(&self) -> bool {
        self.config.session.cookie == CookieMode::Opaque
    }

    /// The access token of the session an opaque cookie names; `None`: no live session.
    pub(crate) async fn access_token_for(&self, session_id: &str) -> Result<Option<Arc<str>>, StoreError> {
        let key = digest(session_id);
        if self.revocations.is_revoked(&key) {
            return Ok(None);
        }
        // A refresh (on any replica) replaced and revoked the cached token: read it anew.
        if let Some((t, _)) = self.opaque.get(&key).filter(|(_, hash)| !self.revocations.is_revoked(hash)) {
            return Ok(Some(t));
        }
        let Some(s) = self.store.session_by_id(&hex(&key)).await? else { return Ok(None) };
        let token: Option<Arc<str>> = self.access_token(&s).map(Arc::from);
        if let Some(t) = &token {
            self.opaque.insert(key, (t.clone(), digest(t)));
        }
        Ok(token)
    }

    /// Record a login by `client` that yielded `tokens`; `previous` is the session a refresh
    /// continues (its id is kept, and its refresh token when the tenant did not rotate it).
    /// `None` when it could not be recorded: the login still answers, without server-side
    /// state (logged), unless the cookie must name the session (opaque cookies).
    pub(crate) async fn record(
        &self,
        client: &Client,
        tokens: &Tokens,
        previous: Option<&SessionRecord>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        // Read, not verified: the tokens came from the tenant just now.
        let Some(claims) = crate::jwt::unverified_claims(&tokens.access_token) else {
            return Ok(None);
        };
        let subject = claims.get("sub").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let token_expires = claims.get("exp").and_then(|v| v.as_u64()).unwrap_or(0);
        let now = unix_now();
        let (id, cookie_id) = match previous {
            Some(p) => (p.id.clone(), p.cookie_id.clone()),
            None => {
                let raw = hex(&rand::random::<[u8; 32]>());
                (hex(&digest(&raw)), Some(raw))
            }
        };
        let refresh = match (&tokens.refresh_token, previous) {
            (Some(r), _) => Some(self.sealer.seal(r, &id)),
            (None, Some(p)) => p.refresh_token.clone(),
            (None, None) => None,
        };
        // The tenant's session (`sid` of the id_token), which its back-channel logouts name;
        // a refresh without an id_token keeps the one recorded at login.
        let tenant_sid = tokens
            .id_token
            .as_deref()
            .and_then(crate::jwt::unverified_claims)
            .and_then(|c| c.get("sid").and_then(|v| v.as_str()).map(str::to_string))
            .or_else(|| previous.and_then(|p| p.tenant_sid.clone()));
        let record = SessionRecord {
            tenant_sid,
            subject,
            client: client.name.clone(),
            created: previous.map_or(now, |p| p.created),
            expires: now.saturating_add(self.config.session.duration_seconds),
            token_hash: hex(&digest(&tokens.access_token)),
            refresh_token: refresh,
            access_token: self.opaque().then(|| self.sealer.seal(&tokens.access_token, &id)),
            token_expires,
            id,
            cookie_id,
        };
        if previous.is_some_and(|p| from_hex(&p.id).is_some_and(|h| self.revocations.is_revoked(&h))) {
            return Err(StoreError::Ended);
        }
        // The token a refresh replaces still names the session while it could be shown to a
        // logout (a page that has not seen the new cookie yet): that logout ends it.
        let rotated = previous.map(|p| Rotated { token_hash: &p.token_hash, link_until: self.token_until(p) });
        match self.store.put_session(&record, rotated.as_ref()).await {
            Ok(Put::Written) => {
                if let Some(id) = from_hex(&record.id) {
                    self.opaque.invalidate(&id);
                }
                // The access token this refresh replaces is ended with it: a stolen older
                // token or cookie does not outlive the refresh (nor a later logout).
                if let Some(old) = previous.filter(|p| p.token_hash != record.token_hash) {
                    if let Err(e) = self.revoke(&self.token_revocation(old).into_iter().collect::<Vec<_>>()).await {
                        report_error("revoke the refreshed token", &e);
                    }
                }
                Ok(Some(record))
            }
            Ok(Put::Ended) => Err(StoreError::Ended),
            Ok(Put::Superseded) => Err(StoreError::Superseded),
            Err(e) if !self.opaque() && previous.is_none() => {
                report_error("record session", &e);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The session the cookie or Bearer `credential` names: its current access token (by its
    /// hash), or its id (opaque cookies).
    pub(crate) async fn find(
        &self,
        credential: &str,
        is_session_id: bool,
    ) -> Result<Option<SessionRecord>, StoreError> {
        if self.revocations.is_revoked(&digest(credential)) {
            return Ok(None);
        }
        let found = self.find_unrevoked(credential, is_session_id).await?;
        // A token a refresh replaced still names its session (for a logout), but is not it.
        Ok(found.filter(|s| is_session_id || s.token_hash == hex(&digest(credential))))
    }

    /// What the store knows of an access token shown to a refresh: the session it is the
    /// current token of, or a session that a refresh moved on from it, or nothing.
    pub(crate) async fn lookup_token(&self, token: &str) -> Result<TokenLookup, StoreError> {
        let current = hex(&digest(token));
        Ok(match self.find_unrevoked(token, false).await? {
            Some(s) if s.token_hash == current => TokenLookup::Current(s),
            Some(s) => TokenLookup::Replaced(s),
            None => TokenLookup::Unknown,
        })
    }

    /// Until when a session's current access token must stay revoked: its `exp` plus the
    /// leeway and the grace under which it is still taken (the session's end when unknown).
    fn token_until(&self, s: &SessionRecord) -> u64 {
        self.revoked_until(if s.token_expires > 0 { s.token_expires } else { s.expires })
    }

    /// Whether the session's current token expired longer ago than the refresh grace (and its
    /// leeway): it is no longer refreshed in passing.
    pub(crate) fn past_refresh_grace(&self, s: &SessionRecord) -> bool {
        s.token_expires > 0 && self.revoked_until(s.token_expires) < unix_now()
    }

    /// A token that expires at `exp` is still taken until then (plus the leeway), and shown to
    /// `/oauth/refreshtoken` until the grace has passed too.
    fn revoked_until(&self, exp: u64) -> u64 {
        let c = &self.config;
        exp.saturating_add(c.guard.leeway_seconds).saturating_add(c.session.refresh_expired_grace_seconds)
    }

    fn token_revocation(&self, s: &SessionRecord) -> Option<Revoked> {
        Some(Revoked { hash: from_hex(&s.token_hash)?, until: self.token_until(s) })
    }

    /// A credential's revocation: until its own `exp` (plus leeway and grace) when it is a
    /// token that has one, else for as long as a session lives.
    fn credential_revocation(&self, credential: &str) -> Revoked {
        let exp = crate::jwt::unverified_claims(credential)
            .and_then(|claims| claims.get("exp").and_then(|v| v.as_u64()))
            .unwrap_or_else(|| unix_now().saturating_add(self.config.session.duration_seconds));
        Revoked { hash: digest(credential), until: self.revoked_until(exp) }
    }

    /// Whether new sessions are refused: the revocation list is at its capacity.
    pub(crate) fn refuses_new_sessions(&self) -> bool {
        self.revocations.full()
    }

    pub(crate) fn refresh_token(&self, s: &SessionRecord) -> Option<String> {
        s.refresh_token.as_deref().and_then(|r| self.sealer.open(r, &s.id))
    }

    pub(crate) fn access_token(&self, s: &SessionRecord) -> Option<String> {
        s.access_token.as_deref().and_then(|a| self.sealer.open(a, &s.id))
    }

    /// Revoke here at once, and on the other replicas through the store's feed. What the
    /// store does not take now is published again before each feed read until it does.
    async fn revoke(&self, revoked: &[Revoked]) -> Result<(), StoreError> {
        for r in revoked {
            self.revocations.revoke(*r);
        }
        let published = self.store.publish_revocations(revoked).await;
        if published.is_err() {
            self.revocations.hold_unpublished(revoked);
        }
        published
    }

    /// End `s` on every replica: its token and id are revoked, the session deleted. A refresh
    /// that replaced `s` before it ended has its token revoked too; one after it is refused.
    /// The session as it was when it ended (its refresh token is the one to revoke at the
    /// tenant: a refresh may have rotated it since `s` was read).
    pub(crate) async fn end(&self, s: &SessionRecord) -> Result<SessionRecord, StoreError> {
        let id = from_hex(&s.id).map(|hash| Revoked { hash, until: s.expires });
        self.revoke(&id.into_iter().chain(self.token_revocation(s)).collect::<Vec<_>>()).await?;
        let ended = self.store.delete_session(s).await?;
        if let Some(last) = ended.as_ref().filter(|last| last.token_hash != s.token_hash) {
            self.revoke(&self.token_revocation(last).into_iter().collect::<Vec<_>>()).await?;
        }
        let cookie_id = s.cookie_id.clone();
        Ok(ended.map_or_else(|| s.clone(), |last| SessionRecord { cookie_id, ..last }))
    }

    /// End the session a credential names (a token a refresh replaced names it too); the
    /// credential is revoked here even when the store cannot be reached. A credential without
    /// a session (a token recorded while the store was down) is published as revoked when
    /// `verified`, so other replicas refuse it too.
    pub(crate) async fn end_credential(
        &self,
        credential: &str,
        is_session_id: bool,
        verified: bool,
    ) -> Result<Option<SessionRecord>, StoreError> {
        // Only what verified (or names a session) is remembered as revoked: random Bearers
        // sent to /logout must not fill the list.
        let revocation = self.credential_revocation(credential);
        if verified {
            self.revocations.revoke(revocation);
        }
        let found = match self.find_unrevoked(credential, is_session_id).await {
            Ok(found) => found,
            Err(e) => {
                // The store is down: the other replicas learn of it once it is back.
                if verified {
                    self.revocations.hold_unpublished(&[revocation]);
                }
                return Err(e);
            }
        };
        let ended = match &found {
            // A token a refresh replaced: revoked by that refresh, and here once more on
            // every replica (had the refresh's publication failed).
            Some(s) if !is_session_id && s.token_hash != hex(&revocation.hash) => {
                let ended = match self.end(s).await {
                    Ok(ended) => ended,
                    Err(e) => {
                        // Its session could not be ended: the token shown is still told to the others.
                        self.revocations.hold_unpublished(&[revocation]);
                        return Err(e);
                    }
                };
                self.revoke(&[revocation]).await?;
                Some(ended)
            }
            Some(s) => Some(self.end(s).await?),
            None if verified => {
                self.revoke(&[revocation]).await?;
                None
            }
            None => None,
        };
        Ok(ended)
    }

    /// Whether a token or session id was revoked (a logout, on any replica).
    pub(crate) fn is_revoked(&self, credential: &str) -> bool {
        self.revocations.is_revoked(&digest(credential))
    }

    async fn find_unrevoked(&self, credential: &str, is_session_id: bool) -> Result<Option<SessionRecord>, StoreError> {
        let hash = hex(&digest(credential));
        if !is_session_id {
            return self.store.session_by_token(&hash).await;
        }
        let found = self.store.session_by_id(&hash).await?;
        Ok(found.map(|s| SessionRecord { cookie_id: Some(credential.to_string()), ..s }))
    }

    /// End every session of `subject`; the sessions ended, as they were when they ended (their
    /// refresh tokens are the caller's to revoke at the tenant).
    pub(crate) async fn end_all(&self, subject: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let mut ended = Vec::new();
        for s in self.store.sessions_of(subject).await? {
            ended.push(self.end(&s).await?);
        }
        Ok(ended)
    }

    /// The live sessions of the tenant session `sid` (a back-channel logout naming no user).
    pub(crate) async fn sessions_of_tenant_sid(&self, sid: &str) -> Result<Vec<SessionRecord>, StoreError> {
        self.store.sessions_of_tenant_sid(sid).await
    }

    pub(crate) async fn active_subjects(&self) -> Result<Vec<String>, StoreError> {
        self.store.active_subjects().await
    }
}
