//! Sessions in this process: one replica, nothing survives a restart. Rate limits in this
//! mode stay in governor (see `limits/`).

use super::{unix_now, FeedPage, Put, Revoked, Rotated, SessionRecord, SessionStore, StoreResult};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    sessions: HashMap<String, SessionRecord>,
    /// Token hash → session id, and until when (a refreshed-away token's link ends early).
    by_token: HashMap<String, (String, u64)>,
    by_user: HashMap<String, HashSet<String>>,
    by_tenant_sid: HashMap<String, HashSet<String>>,
    /// Revocations by sequence number.
    revoked: BTreeMap<u64, Revoked>,
    /// Ended sessions (id → when it would have expired): never written again.
    ended: HashMap<String, u64>,
    next: u64,
    /// Refresh leases: session id → (holder, until).
    leases: HashMap<String, (String, Instant)>,
    /// Shared refresh outcomes: session id → (sealed, until).
    refreshed: HashMap<String, (String, Instant)>,
    /// Keys seen once (back-channel `jti`s), until when.
    seen: HashMap<String, u64>,
}

impl State {
    fn live(&self, id: &str, now: u64) -> Option<&SessionRecord> {
        self.sessions.get(id).filter(|s| s.expires > now)
    }

    fn remove(&mut self, id: &str) -> Option<SessionRecord> {
        let s = self.sessions.remove(id)?;
        self.by_token.remove(&s.token_hash);
        if let Some(ids) = self.by_user.get_mut(&s.subject) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_user.remove(&s.subject);
            }
        }
        if let Some(sid) = &s.tenant_sid {
            if let Some(ids) = self.by_tenant_sid.get_mut(sid) {
                ids.remove(id);
                if ids.is_empty() {
                    self.by_tenant_sid.remove(sid);
                }
            }
        }
        Some(s)
    }

    /// Drop expired sessions (on every write, so nothing accumulates).
    fn sweep(&mut self, now: u64) {
        let expired: Vec<String> = self.sessions.values().filter(|s| s.expires <= now).map(|s| s.id.clone()).collect();
        for id in expired {
            self.remove(&id);
        }
        self.ended.retain(|_, until| *until > now);
        self.by_token.retain(|_, (_, until)| *until > now);
        let instant = Instant::now();
        self.leases.retain(|_, (_, until)| *until > instant);
        self.refreshed.retain(|_, (_, until)| *until > instant);
        self.seen.retain(|_, until| *until > now);
    }
}

#[derive(Default)]
pub(crate) struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("not poisoned"))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn put_session(&self, s: &SessionRecord, previous: Option<&Rotated<'_>>) -> StoreResult<Put> {
        Ok(self.with(|st| {
            let now = unix_now();
            st.sweep(now);
            if st.ended.contains_key(&s.id) {
                return Put::Ended;
            }
            if let Some(p) = previous {
                match st.live(&s.id, now) {
                    None => return Put::Ended,
                    Some(current) if current.token_hash != p.token_hash => return Put::Superseded,
                    Some(_) => {}
                }
            }
            if let Some(p) = previous.filter(|p| p.token_hash != s.token_hash) {
                st.by_token.insert(p.token_hash.to_string(), (s.id.clone(), p.link_until.min(s.expires)));
            }
            st.by_token.insert(s.token_hash.clone(), (s.id.clone(), s.expires));
            st.by_user.entry(s.subject.clone()).or_default().insert(s.id.clone());
            if let Some(sid) = &s.tenant_sid {
                st.by_tenant_sid.entry(sid.clone()).or_default().insert(s.id.clone());
            }
            st.sessions.insert(s.id.clone(), s.clone());
            Put::Written
        }))
    }

    async fn session_by_token(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        Ok(self.with(|st| {
            let now = unix_now();
            let (id, _) = st.by_token.get(token_hash).filter(|(_, until)| *until > now)?;
            st.live(id, now).cloned()
        }))
    }

    async fn session_by_id(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        Ok(self.with(|st| st.live(id, unix_now()).cloned()))
    }

    async fn delete_session(&self, s: &SessionRecord) -> StoreResult<Option<SessionRecord>> {
        Ok(self.with(|st| {
            let ended = st.remove(&s.id);
            st.refreshed.remove(&s.id);
            st.ended.insert(s.id.clone(), s.expires.max(unix_now() + 1));
            ended
        }))
    }

    async fn publish_revocations(&self, revoked: &[Revoked]) -> StoreResult<()> {
        self.with(|st| {
            for r in revoked {
                st.next += 1;
                let n = st.next;
                st.revoked.insert(n, *r);
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

    async fn sessions_of_tenant_sid(&self, sid: &str) -> StoreResult<Vec<SessionRecord>> {
        Ok(self.with(|st| {
            let now = unix_now();
            let ids = st.by_tenant_sid.get(sid).cloned().unwrap_or_default();
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

    async fn revocations_since(&self, cursor: u64, page: usize) -> StoreResult<FeedPage> {
        Ok(self.with(|st| {
            let items: Vec<(u64, Revoked)> = st.revoked.range(cursor + 1..).take(page).map(|(n, r)| (*n, *r)).collect();
            let next = items.last().map_or(cursor, |(n, _)| *n);
            FeedPage { drained: items.len() < page, next, entries: items.into_iter().map(|(_, r)| r).collect() }
        }))
    }

    async fn take_lease(&self, id: &str, holder: &str, ttl: Duration) -> StoreResult<bool> {
        Ok(self.with(|st| {
            let now = Instant::now();
            if st.leases.get(id).is_some_and(|(_, until)| *until > now) {
                return false;
            }
            st.leases.insert(id.to_string(), (holder.to_string(), now + ttl));
            true
        }))
    }

    async fn release_lease(&self, id: &str, holder: &str) -> StoreResult<()> {
        self.with(|st| {
            if st.leases.get(id).is_some_and(|(h, _)| h == holder) {
                st.leases.remove(id);
            }
        });
        Ok(())
    }

    async fn share_refresh(&self, id: &str, sealed: &str, ttl: Duration) -> StoreResult<()> {
        self.with(|st| {
            st.sweep(unix_now());
            st.refreshed.insert(id.to_string(), (sealed.to_string(), Instant::now() + ttl));
        });
        Ok(())
    }

    async fn shared_refresh(&self, id: &str) -> StoreResult<Option<String>> {
        Ok(self.with(|st| st.refreshed.get(id).filter(|(_, until)| *until > Instant::now()).map(|(s, _)| s.clone())))
    }

    async fn first_sighting(&self, key: &str, until: u64) -> StoreResult<bool> {
        Ok(self.with(|st| {
            let now = unix_now();
            st.sweep(now);
            if st.seen.get(key).is_some_and(|u| *u > now) {
                return false;
            }
            st.seen.insert(key.to_string(), until.max(now + 1));
            true
        }))
    }

    async fn forget_sighting(&self, key: &str) -> StoreResult<()> {
        self.with(|st| st.seen.remove(key));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, token: &str) -> SessionRecord {
        SessionRecord {
            id: id.into(),
            cookie_id: None,
            subject: "auth0|u".into(),
            client: "website".into(),
            created: 1,
            expires: unix_now() + 60,
            token_hash: token.into(),
            refresh_token: None,
            access_token: None,
            token_expires: 0,
            tenant_sid: None,
        }
    }

    #[tokio::test]
    async fn an_ended_session_is_never_written_again() {
        let store = MemoryStore::new();
        let rotated = |h| Rotated { token_hash: h, link_until: unix_now() + 60 };
        let put = |r: Put| r == Put::Written;
        assert!(put(store.put_session(&record("s1", "t1"), None).await.unwrap()));
        let continued = store.put_session(&record("s1", "t2"), Some(&rotated("t1"))).await.unwrap();
        assert_eq!(continued, Put::Written, "a refresh continues it");
        let second = store.put_session(&record("s1", "t9"), Some(&rotated("t1"))).await.unwrap();
        assert_eq!(second, Put::Superseded, "a second refresh of the same token loses");
        assert_eq!(store.session_by_token("t1").await.unwrap().map(|s| s.token_hash), Some("t2".into()), "linked");
        let ended = store.delete_session(&record("s1", "t1")).await.unwrap();
        assert_eq!(ended.map(|s| s.token_hash), Some("t2".into()), "the record as it was when it ended");
        assert!(!put(store.put_session(&record("s1", "t3"), Some(&rotated("t2"))).await.unwrap()), "racing the end");
        assert!(!put(store.put_session(&record("s1", "t4"), None).await.unwrap()), "nor as new");
        assert!(
            !put(store.put_session(&record("s2", "t5"), Some(&rotated("t0"))).await.unwrap()),
            "nothing to continue"
        );
        assert_eq!(store.session_by_id("s1").await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_feed_is_read_in_pages_to_its_head() {
        let store = MemoryStore::new();
        let r = |b| Revoked { hash: [b; 32], until: 9 };
        store.publish_revocations(&[r(1), r(2), r(3)]).await.unwrap();
        let first = store.revocations_since(0, 2).await.unwrap();
        assert_eq!((first.entries, first.drained), (vec![r(1), r(2)], false));
        let rest = store.revocations_since(first.next, 2).await.unwrap();
        assert_eq!((rest.entries, rest.drained), (vec![r(3)], true));
        let none = store.revocations_since(rest.next, 2).await.unwrap();
        assert_eq!((none.entries.len(), none.next, none.drained), (0, rest.next, true));
    }
}
