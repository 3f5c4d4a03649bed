//! One refresh of a session at a time, fleet-wide: a short lease in the store decides which
//! caller calls the tenant; the others wait for its outcome and are handed the same tokens.
//! With refresh-token rotation a second call with the same refresh token would be a reuse,
//! and the tenant would end the whole family (every tab, every device of that login).

use super::service::{digest, SessionService};
use crate::http::hex::hex;
use crate::store::{report_error, SessionRecord, StoreError};
use crate::tenant_client::Tokens;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How a caller shows it may have the new tokens of a session's refresh.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Proof<'a> {
    /// The session's cookie: it named the session's token the refresh replaced.
    Cookie,
    /// A Bearer refresh: the access token it showed was the one replaced, and the refresh
    /// token it sent the one that was used.
    RefreshToken(&'a str),
}

/// A refresh's outcome, kept sealed under the session for `session.refresh_reuse_seconds`.
#[derive(Serialize, Deserialize)]
struct Outcome {
    /// Hex SHA-256 of the access token replaced, and of the refresh token used.
    from: String,
    refresh_from: String,
    tokens: Tokens,
}

/// The refresh lease of a session, held by this caller; `session` is the record as it was
/// once the lease was taken (the one to continue).
pub(crate) struct Lease {
    holder: String,
    pub(crate) session: SessionRecord,
}

/// Whose turn it is to refresh.
pub(crate) enum Turn {
    /// This caller's: it calls the tenant, then `finish_refresh`.
    Mine(Box<Lease>),
    /// Another caller refreshed the same session just now: its tokens.
    Joined(Tokens),
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TurnError {
    Store(StoreError),
    /// The session moved on from the token shown, and its outcome is not this caller's.
    Superseded,
    Ended,
    /// Another caller held the lease for longer than it may (its tenant call timed out).
    Busy,
}

impl From<StoreError> for TurnError {
    fn from(e: StoreError) -> Self {
        TurnError::Store(e)
    }
}

/// How often a waiting caller looks for the outcome: at first, then twice as long each time up
/// to `POLL_MAX`.
const POLL: Duration = Duration::from_millis(20);
const POLL_MAX: Duration = Duration::from_millis(160);

impl SessionService {
    /// How long a lease lasts: its holder's whole turn at its slowest (the refresh call, then
    /// perhaps a JWKS fetch for the id_token), and a second for the store's writes.
    fn lease_ttl(&self) -> Duration {
        let t = &self.config().tenant;
        2 * (t.connect_timeout + t.request_timeout) + Duration::from_secs(1)
    }

    /// Take the refresh of `session` (found by the caller, whose credential's token hashes
    /// to `shown`), or wait for the caller that has it and join its outcome.
    pub(crate) async fn refresh_turn(
        &self,
        session: &SessionRecord,
        shown: &str,
        proof: Proof<'_>,
    ) -> Result<Turn, TurnError> {
        let holder = hex(&rand::random::<[u8; 16]>());
        let ttl = self.lease_ttl();
        let deadline = Instant::now() + ttl;
        let mut poll = POLL;
        loop {
            // The lease first: the common case (nobody else refreshing) asks the store no more.
            if self.store().take_lease(&session.id, &holder, ttl).await? {
                // Another refresh may have finished between the caller's read and this lease.
                let current = self.store().session_by_id(&session.id).await;
                let moved = match current {
                    Ok(Some(c)) if c.token_hash == shown => {
                        let session = SessionRecord { cookie_id: session.cookie_id.clone(), ..c };
                        return Ok(Turn::Mine(Box::new(Lease { holder, session })));
                    }
                    Ok(Some(_)) => TurnError::Superseded,
                    Ok(None) => TurnError::Ended,
                    Err(e) => TurnError::Store(e),
                };
                self.release(&session.id, &holder).await;
                if let Some(tokens) = self.joinable(&session.id, shown, proof).await? {
                    return Ok(Turn::Joined(tokens));
                }
                return Err(moved);
            }
            if let Some(tokens) = self.joinable(&session.id, shown, proof).await? {
                return Ok(Turn::Joined(tokens));
            }
            if Instant::now() >= deadline {
                return Err(TurnError::Busy);
            }
            tokio::time::sleep(poll).await;
            poll = (poll * 2).min(POLL_MAX);
        }
    }

    /// Give the lease back; with the refresh's `tokens`, hand them to the callers waiting
    /// (and to those that come within `session.refresh_reuse_seconds`). `refresh_token`: the
    /// one the refresh used.
    pub(crate) async fn finish_refresh(&self, lease: Lease, tokens: Option<&Tokens>, refresh_token: &str) {
        let reuse = self.config().session.refresh_reuse_seconds;
        if let Some(tokens) = tokens.filter(|_| reuse > 0) {
            let outcome = Outcome {
                from: lease.session.token_hash.clone(),
                refresh_from: hex(&digest(refresh_token)),
                tokens: tokens.clone(),
            };
            let json = serde_json::to_string(&outcome).expect("plain values serialize");
            let sealed = self.sealer().seal(&json, &outcome_context(&lease.session.id));
            if let Err(e) = self.store().share_refresh(&lease.session.id, &sealed, Duration::from_secs(reuse)).await {
                report_error("share refresh", &e);
            }
        }
        self.release(&lease.session.id, &lease.holder).await;
    }

    async fn release(&self, id: &str, holder: &str) {
        if let Err(e) = self.store().release_lease(id, holder).await {
            // It expires on its own.
            report_error("release refresh lease", &e);
        }
    }

    /// The tokens of the session's last refresh, when the caller may have them.
    async fn joinable(&self, id: &str, shown: &str, proof: Proof<'_>) -> Result<Option<Tokens>, StoreError> {
        let Some(sealed) = self.store().shared_refresh(id).await? else { return Ok(None) };
        let Some(outcome) = self
            .sealer()
            .open(&sealed, &outcome_context(id))
            .and_then(|json| serde_json::from_str::<Outcome>(&json).ok())
        else {
            return Ok(None);
        };
        // Only a caller that showed the token the refresh replaced is handed its outcome: one
        // that has the new token already and asks again wants a refresh of its own.
        let may = outcome.from == shown
            && match proof {
                Proof::Cookie => true,
                Proof::RefreshToken(r) => outcome.refresh_from == hex(&digest(r)),
            };
        // Kept longer than the token lives (refresh_reuse_seconds past its exp): not worth having.
        let alive = crate::jwt::unverified_claims(&outcome.tokens.access_token)
            .and_then(|c| c.get("exp").and_then(|v| v.as_u64()))
            .is_none_or(|exp| exp > crate::store::unix_now());
        if !(may && alive) {
            return Ok(None);
        }
        // A logout since the refresh: nothing is handed out of a session that ended.
        Ok(self.store().session_by_id(id).await?.map(|_| outcome.tokens))
    }
}

/// The sealing context of a session's shared outcome: it opens under that session only.
fn outcome_context(id: &str) -> String {
    format!("refreshed:{id}")
}

#[cfg(test)]
mod tests;
