//! The rate-limit and brute-force counts on Redis: one script each, at Redis' own time.

use super::{Conn, RedisStore};
use crate::store::{Gcra, LimitStore, StoreResult};
use async_trait::async_trait;
use redis::AsyncCommands;
use std::time::Duration;

#[async_trait]
impl LimitStore for RedisStore {
    #[tracing::instrument(target = "authgate::store", name = "store.gcra", level = "trace", skip_all)]

    async fn gcra(&self, key: &str, per: Duration, burst: u32, cost: u32, refund: u32) -> StoreResult<Gcra> {
        let key = self.key(&format!("rate:{key}"));
        let script = &self.gcra;
        let (allowed, remaining, reset, retry): (u8, u32, String, String) = self
            .run(|conn| async move {
                on!(conn, |c| script
                    .key(&key)
                    .arg(burst)
                    .arg(per.as_secs_f64())
                    .arg(cost)
                    .arg(refund)
                    .invoke_async(&mut c)
                    .await)
            })
            .await?;
        let secs = |s: &str| Duration::from_secs_f64(s.parse::<f64>().unwrap_or(0.0).max(0.0));
        Ok(Gcra { allowed: allowed == 1, remaining, reset_after: secs(&reset), retry_after: secs(&retry) })
    }

    #[tracing::instrument(target = "authgate::store", name = "store.blocked_for", level = "trace", skip_all)]

    async fn blocked_for(&self, key: &str) -> StoreResult<Option<Duration>> {
        let block = self.key(&format!("bf:{{{key}}}:block"));
        let ms: i64 = self.run(|conn| async move { on!(conn, |c| c.pttl(&block).await) }).await?;
        Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
    }

    #[tracing::instrument(target = "authgate::store", name = "store.record_failure", level = "trace", skip_all)]

    async fn record_failure(&self, key: &str, max: u32, block: Duration) -> StoreResult<bool> {
        let (count, block_key) = (self.key(&format!("bf:{{{key}}}:n")), self.key(&format!("bf:{{{key}}}:block")));
        let script = &self.failure;
        let blocked: u8 = self
            .run(|conn| async move {
                on!(conn, |c| script
                    .key(&count)
                    .key(&block_key)
                    .arg(max)
                    .arg(block.as_millis() as u64)
                    .invoke_async(&mut c)
                    .await)
            })
            .await?;
        Ok(blocked == 1)
    }

    #[tracing::instrument(target = "authgate::store", name = "store.clear_failures", level = "trace", skip_all)]

    async fn clear_failures(&self, key: &str) -> StoreResult<()> {
        let count = self.key(&format!("bf:{{{key}}}:n"));
        self.run(|conn| async move { on!(conn, |c| c.del::<_, ()>(&count).await) }).await
    }
}
