//! The shared store on Redis (redis-rs): standalone (a connection manager that reconnects),
//! Sentinel (the master is asked of the sentinels, and asked again after a failure) or
//! Cluster (redis-rs' cluster client). Every operation is bounded by `timeout_ms`. Every
//! script touches one key, or keys under one hash tag, so all three modes run them.

mod connection;

use super::redis_scripts::{
    feed_entry, parse_feed_entry, END_SESSION, FAILURE, GCRA, PUT_SESSION, RELEASE_LEASE, REVOKE,
};
use super::{unix_now, FeedPage, Put, Revoked, Rotated, SessionRecord, SessionStore, StoreError, StoreResult};
use crate::config::RedisStore as Config;
use async_trait::async_trait;
use connection::{Conn, Slot};
use redis::{AsyncCommands, Script};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub(crate) struct RedisStore {
    config: Config,
    /// How long revocations are kept in the feed: the longest a session lives, or longer when
    /// a token published here stays revoked longer (only grows).
    retention_seconds: AtomicU64,
    /// Every operation but the feed's.
    main: Slot,
    /// The revocation feed's reads, on a connection of their own: a catch-up's large pages
    /// must not hold up a logout's publication (or any other operation) behind them.
    feed: Slot,
    gcra: Script,
    failure: Script,
    revoke: Script,
    put_session: Script,
    end_session: Script,
    release_lease: Script,
}

impl RedisStore {
    pub(crate) fn new(config: Config, retention_seconds: u64) -> Self {
        RedisStore {
            config,
            retention_seconds: AtomicU64::new(retention_seconds),
            main: Slot::default(),
            feed: Slot::default(),
            gcra: Script::new(GCRA),
            failure: Script::new(FAILURE),
            revoke: Script::new(REVOKE),
            put_session: Script::new(PUT_SESSION),
            end_session: Script::new(END_SESSION),
            release_lease: Script::new(RELEASE_LEASE),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.config.key_prefix)
    }

    /// A session's record and its tombstone: one hash tag, so one script sees both.
    fn session_keys(&self, id: &str) -> (String, String) {
        (self.key(&format!("session:{{{id}}}")), self.key(&format!("ended:{{{id}}}")))
    }
}

/// A command on either kind of connection.
macro_rules! on {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            Conn::Single(mut $c) => $body,
            Conn::Cluster(mut $c) => $body,
        }
    };
}

// The shared limits' operations, in a file of their own (after `on!`, which they use).
mod limits;

impl RedisStore {
    async fn get_string(&self, key: String) -> StoreResult<Option<String>> {
        self.run(|conn| async move { on!(conn, |c| c.get::<_, Option<String>>(&key).await) }).await
    }
}

impl RedisStore {
    /// The live sessions whose ids the set `index_key` holds; ids of sessions gone are dropped
    /// from it.
    async fn sessions_in(&self, index_key: String) -> StoreResult<Vec<SessionRecord>> {
        let ids: Vec<String> = {
            let k = index_key.clone();
            self.run(|conn| async move { on!(conn, |c| c.smembers(&k).await) }).await?
        };
        let mut out = Vec::new();
        for id in ids {
            match self.session_by_id(&id).await? {
                Some(s) => out.push(s),
                None => {
                    let k = index_key.clone();
                    self.run(|conn| async move { on!(conn, |c| c.srem::<_, _, ()>(&k, &id).await) }).await?;
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    #[tracing::instrument(target = "authgate::store", name = "store.put_session", level = "trace", skip_all)]

    async fn put_session(&self, s: &SessionRecord, previous: Option<&Rotated<'_>>) -> StoreResult<Put> {
        let now = unix_now();
        let ttl = s.expires.saturating_sub(now).max(1);
        let json = serde_json::to_string(s).map_err(|e| StoreError::Failed(e.to_string()))?;
        let (session_key, ended_key) = self.session_keys(&s.id);
        let token_key = self.key(&format!("token:{}", s.token_hash));
        let (user_key, active_key) = (self.key(&format!("user:{}", s.subject)), self.key("active"));
        let sid_key = s.tenant_sid.as_ref().map(|sid| self.key(&format!("tenant-sid:{sid}")));
        let continuing = u8::from(previous.is_some());
        let expected = previous.map_or(String::new(), |p| p.token_hash.to_string());
        // The replaced token keeps naming the session while it could be shown to a logout.
        let previous = previous
            .filter(|p| p.token_hash != s.token_hash)
            .map(|p| (self.key(&format!("token:{}", p.token_hash)), p.link_until.saturating_sub(now).clamp(1, ttl)));
        let (id, subject, expires) = (s.id.clone(), s.subject.clone(), s.expires);
        let put = &self.put_session;
        self.run(|conn| async move {
            on!(conn, |c| {
                let written: u8 = put
                    .key(&session_key)
                    .key(&ended_key)
                    .arg(&json)
                    .arg(ttl)
                    .arg(continuing)
                    .arg(&expected)
                    .invoke_async(&mut c)
                    .await?;
                match written {
                    0 => return Ok(Put::Ended),
                    2 => return Ok(Put::Superseded),
                    _ => {}
                }
                let _: () = c.set_ex(&token_key, &id, ttl).await?;
                if let Some((key, link_ttl)) = &previous {
                    let _: () = c.set_ex(key, &id, *link_ttl).await?;
                }
                let _: () = c.sadd(&user_key, &id).await?;
                let _: () = c.expire(&user_key, ttl as i64).await?;
                if let Some(key) = &sid_key {
                    let _: () = c.sadd(key, &id).await?;
                    let _: () = c.expire(key, ttl as i64).await?;
                }
                let _: () = redis::cmd("ZADD")
                    .arg(&active_key)
                    .arg("GT")
                    .arg(expires)
                    .arg(&subject)
                    .query_async(&mut c)
                    .await?;
                let _: () = c.zrembyscore(&active_key, "-inf", unix_now()).await?;
                Ok(Put::Written)
            })
        })
        .await
    }

    #[tracing::instrument(target = "authgate::store", name = "store.session_by_token", level = "trace", skip_all)]

    async fn session_by_token(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        match self.get_string(self.key(&format!("token:{token_hash}"))).await? {
            Some(id) => self.session_by_id(&id).await,
            None => Ok(None),
        }
    }

    #[tracing::instrument(target = "authgate::store", name = "store.session_by_id", level = "trace", skip_all)]

    async fn session_by_id(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        let json = self.get_string(self.session_keys(id).0).await?;
        // The record must be the one asked for: a record copied under another key is refused.
        Ok(json
            .and_then(|j| serde_json::from_str(&j).ok())
            .filter(|s: &SessionRecord| s.expires > unix_now() && s.id == id))
    }

    #[tracing::instrument(target = "authgate::store", name = "store.publish_revocations", level = "trace", skip_all)]

    async fn publish_revocations(&self, revoked: &[Revoked]) -> StoreResult<()> {
        let now = unix_now();
        let longest = revoked.iter().map(|r| r.until.saturating_sub(now)).max().unwrap_or(0);
        let retention = self.retention_seconds.fetch_max(longest, Ordering::Relaxed).max(longest);
        let revoke = &self.revoke;
        let revoked_key = self.key("revoked");
        let revoked: Vec<String> = revoked.iter().map(feed_entry).collect();
        self.run(|conn| async move {
            on!(conn, |c| {
                let mut call = revoke.key(&revoked_key);
                call.arg(retention);
                for r in &revoked {
                    call.arg(r);
                }
                call.invoke_async::<u64>(&mut c).await
            })
        })
        .await
        .map(|_| ())
    }

    #[tracing::instrument(target = "authgate::store", name = "store.delete_session", level = "trace", skip_all)]

    async fn delete_session(&self, s: &SessionRecord) -> StoreResult<Option<SessionRecord>> {
        let (session_key, ended_key) = self.session_keys(&s.id);
        // The outcome of its last refresh goes with it (same hash tag: one script).
        let refreshed_key = self.key(&format!("refreshed:{{{}}}", s.id));
        let token_key = self.key(&format!("token:{}", s.token_hash));
        let user_key = self.key(&format!("user:{}", s.subject));
        let id = s.id.clone();
        let ttl = s.expires.saturating_sub(unix_now()).max(1);
        let end = &self.end_session;
        let ended: Option<String> = self
            .run(|conn| async move {
                on!(conn, |c| {
                    let ended: Option<String> =
                        end.key(&session_key).key(&ended_key).key(&refreshed_key).arg(ttl).invoke_async(&mut c).await?;
                    let _: () = c.del(&token_key).await?;
                    c.srem::<_, _, ()>(&user_key, &id).await?;
                    Ok(ended)
                })
            })
            .await?;
        let ended = ended.and_then(|j| serde_json::from_str::<SessionRecord>(&j).ok()).filter(|e| e.id == s.id);
        if let Some(e) = ended.as_ref().filter(|e| e.token_hash != s.token_hash) {
            let key = self.key(&format!("token:{}", e.token_hash));
            self.run(|conn| async move { on!(conn, |c| c.del::<_, ()>(&key).await) }).await?;
        }
        if self.sessions_of(&s.subject).await?.is_empty() {
            let (active, subject) = (self.key("active"), s.subject.clone());
            self.run(|conn| async move { on!(conn, |c| c.zrem::<_, _, ()>(&active, &subject).await) }).await?;
        }
        Ok(ended)
    }

    #[tracing::instrument(target = "authgate::store", name = "store.sessions_of", level = "trace", skip_all)]

    async fn sessions_of(&self, subject: &str) -> StoreResult<Vec<SessionRecord>> {
        self.sessions_in(self.key(&format!("user:{subject}"))).await
    }

    #[tracing::instrument(target = "authgate::store", name = "store.sessions_of_tenant_sid", level = "trace", skip_all)]

    async fn sessions_of_tenant_sid(&self, sid: &str) -> StoreResult<Vec<SessionRecord>> {
        let found = self.sessions_in(self.key(&format!("tenant-sid:{sid}"))).await?;
        Ok(found.into_iter().filter(|s| s.tenant_sid.as_deref() == Some(sid)).collect())
    }

    #[tracing::instrument(target = "authgate::store", name = "store.active_subjects", level = "trace", skip_all)]

    async fn active_subjects(&self) -> StoreResult<Vec<String>> {
        let key = self.key("active");
        let now = unix_now();
        let mut subjects: Vec<String> = self
            .run(|conn| async move { on!(conn, |c| c.zrangebyscore(&key, format!("({now}"), "+inf").await) })
            .await?;
        subjects.sort();
        Ok(subjects)
    }

    async fn revocations_since(&self, cursor: u64, page: usize) -> StoreResult<FeedPage> {
        let key = self.key("revoked");
        let count = isize::try_from(page).unwrap_or(isize::MAX);
        // From the cursor's millisecond on, inclusive: revocations published later in that
        // same millisecond are read too (the ones read again change nothing).
        let items: Vec<(String, u64)> = self
            .run_on(&self.feed, |conn| async move {
                on!(conn, |c| c.zrangebyscore_limit_withscores(&key, cursor, "+inf", 0, count).await)
            })
            .await?;
        let drained = items.len() < page;
        let mut next = items.iter().map(|(_, s)| *s).max().unwrap_or(cursor);
        if !drained && next == cursor {
            // A whole page within one millisecond (never seen: a revocation is one script
            // call): move on rather than read the same page forever.
            next += 1;
        }
        let legacy_retention = self.retention_seconds.load(Ordering::Relaxed);
        let entries = items.iter().filter_map(|(m, ms)| parse_feed_entry(m, ms / 1000 + legacy_retention)).collect();
        Ok(FeedPage { entries, next, drained })
    }

    #[tracing::instrument(target = "authgate::store", name = "store.take_lease", level = "trace", skip_all)]

    async fn take_lease(&self, id: &str, holder: &str, ttl: Duration) -> StoreResult<bool> {
        let key = self.key(&format!("lease:{{{id}}}"));
        let ms = ttl.as_millis().max(1) as u64;
        let holder = holder.to_string();
        self.run(|conn| async move {
            on!(conn, |c| {
                let set: Option<String> =
                    redis::cmd("SET").arg(&key).arg(&holder).arg("NX").arg("PX").arg(ms).query_async(&mut c).await?;
                Ok(set.is_some())
            })
        })
        .await
    }

    #[tracing::instrument(target = "authgate::store", name = "store.release_lease", level = "trace", skip_all)]

    async fn release_lease(&self, id: &str, holder: &str) -> StoreResult<()> {
        let key = self.key(&format!("lease:{{{id}}}"));
        let (release, holder) = (&self.release_lease, holder.to_string());
        self.run(|conn| async move { on!(conn, |c| release.key(&key).arg(&holder).invoke_async::<u8>(&mut c).await) })
            .await
            .map(|_| ())
    }

    #[tracing::instrument(target = "authgate::store", name = "store.share_refresh", level = "trace", skip_all)]

    async fn share_refresh(&self, id: &str, sealed: &str, ttl: Duration) -> StoreResult<()> {
        let key = self.key(&format!("refreshed:{{{id}}}"));
        let (ms, sealed) = (ttl.as_millis().max(1) as u64, sealed.to_string());
        self.run(|conn| async move { on!(conn, |c| c.pset_ex::<_, _, ()>(&key, &sealed, ms).await) }).await
    }

    #[tracing::instrument(target = "authgate::store", name = "store.shared_refresh", level = "trace", skip_all)]

    async fn shared_refresh(&self, id: &str) -> StoreResult<Option<String>> {
        self.get_string(self.key(&format!("refreshed:{{{id}}}"))).await
    }

    #[tracing::instrument(target = "authgate::store", name = "store.forget_sighting", level = "trace", skip_all)]

    async fn forget_sighting(&self, key: &str) -> StoreResult<()> {
        let key = self.key(&format!("seen:{key}"));
        self.run(|conn| async move { on!(conn, |c| c.del::<_, ()>(&key).await) }).await
    }

    #[tracing::instrument(target = "authgate::store", name = "store.first_sighting", level = "trace", skip_all)]

    async fn first_sighting(&self, key: &str, until: u64) -> StoreResult<bool> {
        let key = self.key(&format!("seen:{key}"));
        let ttl = until.saturating_sub(unix_now()).max(1);
        self.run(|conn| async move {
            on!(conn, |c| {
                let set: Option<String> =
                    redis::cmd("SET").arg(&key).arg(1).arg("NX").arg("EX").arg(ttl).query_async(&mut c).await?;
                Ok(set.is_some())
            })
        })
        .await
    }
}
