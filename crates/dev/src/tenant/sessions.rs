//! The dev tenant's login sessions, as Auth0 keeps one per login: every login grant
//! (password, password-realm, passwordless, `/oauth/ro`) and every browser login (`POST
//! /authorize`) starts one, named by a random `sid` that its id_tokens (and those of its
//! refreshes) carry. A session remembers its user and the clients that received tokens in it;
//! when it ends (a logout, or the Management API blocking or deleting its user) each of those
//! clients with a `backchannel_logout_uri` is sent a logout token. Ending is idempotent: an
//! ended session is gone, and sends nothing again.

use super::common::random_token;
use super::{backchannel, State};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// At most this many sessions are kept; past it the oldest is dropped without a logout (as
/// an expired Auth0 session), so benchmarks that log in in a loop stay bounded.
const MAX_SESSIONS: usize = 100_000;

pub(crate) struct Session {
    /// The hex id of the user (`auth0|<id>`).
    user: String,
    /// The clients that received tokens in the session.
    clients: BTreeSet<String>,
    /// Its key in `Sessions::order`.
    seq: u64,
}

#[derive(Default)]
pub(crate) struct Sessions {
    by_sid: HashMap<String, Session>,
    /// The sids in start order, to drop the oldest past the cap.
    order: BTreeMap<u64, String>,
    last_seq: u64,
}

impl Sessions {
    fn start(&mut self, user: &str, client: Option<&str>) -> String {
        while self.by_sid.len() >= MAX_SESSIONS {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            self.by_sid.remove(&oldest);
        }
        let sid = random_token();
        self.last_seq += 1;
        let clients = client.map(str::to_string).into_iter().collect();
        self.by_sid.insert(sid.clone(), Session { user: user.to_string(), clients, seq: self.last_seq });
        self.order.insert(self.last_seq, sid.clone());
        sid
    }

    #[cfg(test)]
    pub(super) fn contains(&self, sid: &str) -> bool {
        self.by_sid.contains_key(sid)
    }

    fn take(&mut self, sid: &str) -> Option<Session> {
        let session = self.by_sid.remove(sid)?;
        self.order.remove(&session.seq);
        Some(session)
    }
}

/// A new session of the user with this hex id; `client` takes part in it already when it
/// receives tokens at once (the token endpoint's logins).
pub(super) fn start(s: &State, user: &str, client: Option<&str>) -> String {
    s.sessions.lock().expect("not poisoned").start(user, client)
}

/// `client` receives tokens in session `sid`; false when the session has ended.
pub(super) fn join(s: &State, sid: &str, client: &str) -> bool {
    let mut sessions = s.sessions.lock().expect("not poisoned");
    match sessions.by_sid.get_mut(sid) {
        Some(session) => {
            session.clients.insert(client.to_string());
            true
        }
        None => false,
    }
}

/// End session `sid` (when it is still on, and the user's with this hex id when `user` is
/// given).
pub(super) fn end(s: &State, sid: &str, user: Option<&str>) {
    let taken = {
        let mut sessions = s.sessions.lock().expect("not poisoned");
        let theirs = sessions.by_sid.get(sid).is_some_and(|x| user.is_none_or(|u| x.user == u));
        if theirs {
            sessions.take(sid)
        } else {
            None
        }
    };
    if let Some(session) = taken {
        ended(s, sid, &session);
    }
}

/// End every session of the user with this hex id.
pub(super) fn end_user(s: &State, user: &str) {
    let taken: Vec<(String, Session)> = {
        let mut sessions = s.sessions.lock().expect("not poisoned");
        let sids: Vec<String> =
            sessions.by_sid.iter().filter(|(_, x)| x.user == user).map(|(sid, _)| sid.clone()).collect();
        sids.into_iter().filter_map(|sid| sessions.take(&sid).map(|x| (sid, x))).collect()
    };
    for (sid, session) in &taken {
        ended(s, sid, session);
    }
}

/// Tell each client of an ended session that has a back-channel logout URI (the lock is
/// released: sending is spawned, and never waited for).
fn ended(s: &State, sid: &str, session: &Session) {
    let sub = format!("auth0|{}", session.user);
    for client in &session.clients {
        if let Some(uri) = s.clients.backchannel_uri(client) {
            let token = backchannel::logout_token(s, client, &sub, Some(sid));
            backchannel::send(s, uri, token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_once() {
        let mut sessions = Sessions::default();
        let sid = sessions.start("u", Some("app"));
        assert!(sessions.take(&sid).is_some_and(|x| x.user == "u" && x.clients.contains("app")));
        assert!(sessions.take(&sid).is_none());
        assert!(sessions.order.is_empty());
    }

    #[test]
    fn sessions_have_distinct_sids() {
        let mut sessions = Sessions::default();
        let (a, b) = (sessions.start("u", None), sessions.start("u", None));
        assert_ne!(a, b);
        assert_eq!(sessions.by_sid.len(), 2);
    }
}
