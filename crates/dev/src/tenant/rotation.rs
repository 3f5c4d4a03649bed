//! The dev tenant's refresh tokens, as Auth0 keeps them: each belongs to a family (one per
//! login). With rotation on, a refresh retires the token presented and hands out a new one of
//! the same family; a retired token presented again is a replay (reuse detection) and revokes
//! the whole family, unless it is the family's most recently retired token and the reuse
//! interval has not passed yet (a client that lost the answer may retry once in a while).

use super::common::random_token;
use super::RefreshGrant;
use std::collections::{HashMap, VecDeque};

/// Retired tokens are remembered at least this long (seconds), or the reuse interval when
/// longer: a replay after that is an unknown token, not a detected reuse.
const REMEMBER_RETIRED: u64 = 3600;
/// At most this many retired tokens are remembered (the oldest are forgotten first), so a
/// benchmark that refreshes in a loop does not grow the tenant without bound.
const MAX_RETIRED: usize = 100_000;

/// A token retired by a refresh.
struct Retired {
    grant: RefreshGrant,
    /// When, in unix seconds.
    at: u64,
}

/// What presenting a refresh token comes to.
pub(super) enum Presented {
    /// Tokens are due: the grant, and the new refresh token when one was issued (rotation).
    Granted(RefreshGrant, Option<String>),
    /// Not a token of this client: never one, revoked, or forgotten.
    Unknown,
    /// A retired token replayed: its family is revoked now.
    Replayed,
}

/// Live and retired refresh tokens. Kept behind one lock, so a refresh, a replay and a
/// revocation each see (and leave) all of it consistent.
#[derive(Default)]
pub(super) struct RefreshTokens {
    live: HashMap<String, RefreshGrant>,
    retired: HashMap<String, Retired>,
    /// Each family's most recently retired token.
    latest: HashMap<u64, String>,
    /// Retired tokens in retirement order (with when), to forget the old ones cheaply.
    order: VecDeque<(u64, String)>,
    /// The last family id handed out.
    last_family: u64,
}

impl RefreshTokens {
    /// A family id no token has yet (one per login).
    pub(super) fn new_family(&mut self) -> u64 {
        self.last_family += 1;
        self.last_family
    }

    /// A new live token for `grant`.
    pub(super) fn insert(&mut self, grant: RefreshGrant) -> String {
        let token = random_token();
        self.live.insert(token.clone(), grant);
        token
    }

    /// `token` presented by `client_id` at `now` (unix seconds). Without `rotate` a live token
    /// simply stays; with it, see the module's doc.
    pub(super) fn present(
        &mut self,
        token: &str,
        client_id: &str,
        rotate: bool,
        reuse_interval: u64,
        now: u64,
    ) -> Presented {
        // Decided before touching the map: another client's token is unknown to this one.
        match self.live.get(token).map(|g| g.client_id == client_id) {
            Some(false) => return Presented::Unknown,
            Some(true) if !rotate => return Presented::Granted(self.live[token].clone(), None),
            Some(true) => {
                let grant = self.live.remove(token).expect("present");
                self.retire(token.to_string(), grant.clone(), now, reuse_interval);
                let next = self.insert(grant.clone());
                return Presented::Granted(grant, Some(next));
            }
            None => {}
        }
        let Some(retired) = self.retired.get(token).filter(|r| r.grant.client_id == client_id) else {
            return Presented::Unknown;
        };
        let family = retired.grant.family;
        let latest = self.latest.get(&family).is_some_and(|t| t == token);
        if latest && now.saturating_sub(retired.at) < reuse_interval {
            // Within the reuse interval: new tokens of the same family; the family's current
            // token stays valid too (the client may hold either).
            let grant = retired.grant.clone();
            let next = self.insert(grant.clone());
            return Presented::Granted(grant, Some(next));
        }
        self.revoke_family(family);
        Presented::Replayed
    }

    /// `POST /oauth/revoke`: forget `token` when it is a live token of `client_id`.
    pub(super) fn revoke(&mut self, token: &str, client_id: &str) {
        if self.live.get(token).is_some_and(|g| g.client_id == client_id) {
            self.live.remove(token);
        }
    }

    /// Forget every token of the user with this hex id (deleted or blocked).
    pub(super) fn forget_user(&mut self, user: &str) {
        self.live.retain(|_, g| g.user != user);
        self.retired.retain(|_, r| r.grant.user != user);
        let retired = &self.retired;
        self.latest.retain(|_, t| retired.contains_key(t));
    }

    /// Every token of the family, live or retired: a retired one must not bring it back
    /// through the reuse interval either.
    fn revoke_family(&mut self, family: u64) {
        self.live.retain(|_, g| g.family != family);
        self.retired.retain(|_, r| r.grant.family != family);
        self.latest.remove(&family);
    }

    fn retire(&mut self, token: String, grant: RefreshGrant, now: u64, reuse_interval: u64) {
        self.latest.insert(grant.family, token.clone());
        self.order.push_back((now, token.clone()));
        self.retired.insert(token, Retired { grant, at: now });
        self.forget_old(now, reuse_interval.max(REMEMBER_RETIRED));
    }

    /// Forget the retired tokens older than `keep` seconds, and the oldest past the cap.
    fn forget_old(&mut self, now: u64, keep: u64) {
        while let Some(at) = self.order.front().map(|(at, _)| *at) {
            if at.saturating_add(keep) > now && self.order.len() <= MAX_RETIRED {
                break;
            }
            let (_, token) = self.order.pop_front().expect("a front");
            // Gone already when its family was revoked.
            if let Some(r) = self.retired.remove(&token) {
                if self.latest.get(&r.grant.family) == Some(&token) {
                    self.latest.remove(&r.grant.family);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(family: u64) -> RefreshGrant {
        RefreshGrant {
            user: "u".into(),
            client_id: "app".into(),
            scope: "openid offline_access".into(),
            audience: "api".into(),
            family,
            sid: Some("sid".into()),
        }
    }

    /// The token a grant handed out.
    fn next(p: Presented) -> String {
        match p {
            Presented::Granted(_, Some(t)) => t,
            _ => panic!("tokens with a new refresh token expected"),
        }
    }

    fn replayed(p: &Presented) -> bool {
        matches!(p, Presented::Replayed)
    }

    fn unknown(p: &Presented) -> bool {
        matches!(p, Presented::Unknown)
    }

    #[test]
    fn without_rotation_a_token_stays() {
        let mut t = RefreshTokens::default();
        let a = t.insert(grant(1));
        for _ in 0..3 {
            assert!(matches!(t.present(&a, "app", false, 0, 100), Presented::Granted(_, None)));
        }
        assert!(unknown(&t.present(&a, "other", false, 0, 100)));
    }

    #[test]
    fn the_latest_retired_token_is_accepted_within_the_reuse_interval() {
        let mut t = RefreshTokens::default();
        let a = t.insert(grant(1));
        let b = next(t.present(&a, "app", true, 10, 100));
        let c = next(t.present(&a, "app", true, 10, 109));
        assert_ne!(b, c);
        // The family lives on: both its current tokens refresh.
        next(t.present(&b, "app", true, 10, 109));
        next(t.present(&c, "app", true, 10, 109));
    }

    #[test]
    fn a_retired_token_reused_outside_the_interval_revokes_its_family() {
        let mut t = RefreshTokens::default();
        let a = t.insert(grant(1));
        let other = t.insert(grant(2));
        let b = next(t.present(&a, "app", true, 10, 100));
        assert!(replayed(&t.present(&a, "app", true, 10, 110)));
        assert!(unknown(&t.present(&b, "app", true, 10, 110)), "the family's live token is revoked");
        assert!(unknown(&t.present(&a, "app", true, 10, 110)), "a replay revokes once");
        next(t.present(&other, "app", true, 10, 110));
    }

    #[test]
    fn an_older_retired_token_revokes_its_family_even_within_the_interval() {
        let mut t = RefreshTokens::default();
        let a = t.insert(grant(1));
        let b = next(t.present(&a, "app", true, 60, 100));
        let c = next(t.present(&b, "app", true, 60, 101));
        assert!(replayed(&t.present(&a, "app", true, 60, 102)));
        assert!(unknown(&t.present(&c, "app", true, 60, 102)));
        assert!(unknown(&t.present(&b, "app", true, 60, 102)), "nor can the latest retired one revive it");
    }

    #[test]
    fn no_reuse_interval_means_any_reuse_revokes() {
        let mut t = RefreshTokens::default();
        let a = t.insert(grant(1));
        let b = next(t.present(&a, "app", true, 0, 100));
        assert!(replayed(&t.present(&a, "app", true, 0, 100)));
        assert!(unknown(&t.present(&b, "app", true, 0, 100)));
    }

    #[test]
    fn another_clients_retired_token_is_unknown_and_revokes_nothing() {
        let mut t = RefreshTokens::default();
        let a = t.insert(grant(1));
        let b = next(t.present(&a, "app", true, 0, 100));
        assert!(unknown(&t.present(&a, "other", true, 0, 100)));
        next(t.present(&b, "app", true, 0, 100));
    }

    #[test]
    fn old_retired_tokens_are_forgotten() {
        let mut t = RefreshTokens::default();
        let a = t.insert(grant(1));
        let b = next(t.present(&a, "app", true, 0, 100));
        // A later retirement, past the memory, forgets `a`.
        next(t.present(&b, "app", true, 0, 100 + REMEMBER_RETIRED));
        assert!(unknown(&t.present(&a, "app", true, 0, 100 + REMEMBER_RETIRED)));
        assert_eq!(t.retired.len(), 1);
    }

    #[test]
    fn a_users_tokens_are_forgotten() {
        let mut t = RefreshTokens::default();
        let a = t.insert(grant(1));
        let b = next(t.present(&a, "app", true, 60, 100));
        t.forget_user("u");
        assert!(unknown(&t.present(&a, "app", true, 60, 100)));
        assert!(unknown(&t.present(&b, "app", true, 60, 100)));
        assert!(t.latest.is_empty());
    }
}
