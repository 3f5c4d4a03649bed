//! Sessions in this process: one replica, nothing survives a restart. Rate limits in this
//! mode stay in governor (see `limits/`).

use super::{unix_now, SessionRecord, Sessions, StoreResult};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

#[derive(Default)]
struct State {
    sessions: HashMap<String, SessionRecord>,
    by_token: HashMap<String, String>,
    by_user: HashMap<String, HashSet<String>>,
    /// Revocations by sequence number.
    revoked: BTreeMap<u64, String>,
    next: u64,
}

impl State {
    fn live(&self, id: &str, now: u64) -> Option<&SessionRecord> {
        self.sessions.get(id).filter(|s| s.expires > now)
    }

    fn remove(&mut self, id: &str) {
        if let Some(s) = self.sessions.remove(id) {
            self.by_token.remove(&s.token_hash);
            if let Some(ids) = self.by_user.get_mut(&s.subject) {
                ids.remove(id);
                if ids.is_empty() {
                    self.by_user.remove(&s.subject);
                }
            }
        }
    }

    /// Drop expired sessions (on every write, so nothing accumulates).
    fn sweep(&mut self, now: u64) {
        let expired: Vec<String> = self.sessions.values().filter(|s| s.expires <= now).map(|s| s.id.clone()).collect();
        for id in expired {
            self.remove(&id);
        }
    }
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("not poisoned"))
    }
}

#[async_trait]
impl Sessions for MemoryStore {
    async fn put_session(&self, s: &SessionRecord, previous_token_hash: Option<&str>) -> StoreResult<()> {
        self.with(|st| {
            st.sweep(unix_now());
            if let Some(prev) = previous_token_hash {
                st.by_token.remove(prev);
            }
            st.by_token.insert(s.token_hash.clone(), s.id.clone());
            st.by_user.entry(s.subject.clone()).or_default().insert(s.id.clone());
            st.sessions.insert(s.id.clone(), s.clone());
        });
        Ok(())
    }

    async fn session_by_token(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        Ok(self.with(|st| {
            let id = st.by_token.get(token_hash)?.clone();
            st.live(&id, unix_now()).cloned()
        }))
    }

    async fn session_by_id(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        Ok(self.with(|st| st.live(id, unix_now()).cloned()))
    }

    async fn delete_session(&self, s: &SessionRecord) -> StoreResult<()> {
        self.with(|st| st.remove(&s.id));
        Ok(())
    }

    async fn publish_revocations(&self, revoked: &[String]) -> StoreResult<()> {
        self.with(|st| {
            for r in revoked {
                st.next += 1;
                let n = st.next;
                st.revoked.insert(n, r.clone());
            }
            // Keep the feed short: a reader more than 10,000 revocations behind re-reads none.
            while st.revoked.len() > 10_000 {
                st.revoked.pop_first();
            }
        });
        Ok(())
    }

    async fn sessions_of(&self, subject: &str) -> StoreResult<Vec<SessionRecord>> {
        Ok(self.with(|st| {
            let now = unix_now();
            let ids = st.by_user.get(subject).cloned().unwrap_or_default();
            ids.iter().filter_map(|id| st.live(id, now).cloned()).collect()
        }))
    }

    async fn active_subjects(&self) -> StoreResult<Vec<String>> {
        Ok(self.with(|st| {
            let now = unix_now();
            let mut subjects: Vec<String> = st
                .by_user
                .iter()
                .filter(|(_, ids)| ids.iter().any(|id| st.live(id, now).is_some()))
                .map(|(sub, _)| sub.clone())
                .collect();
            subjects.sort();
            subjects
        }))
    }

    async fn revocations_since(&self, cursor: u64) -> StoreResult<(Vec<String>, u64)> {
        Ok(self.with(|st| {
            let items: Vec<String> = st.revoked.range(cursor + 1..).map(|(_, v)| v.clone()).collect();
            (items, st.next)
        }))
    }
}
