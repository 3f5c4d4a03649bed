//! How the Redis store reaches Redis: one multiplexed connection a slot, made on first use and
//! again after a failure (standalone through a connection manager, Sentinel by asking the
//! sentinels for the master, Cluster through redis-rs' cluster client), every operation bounded
//! by `timeout_ms`.

use super::RedisStore;
use crate::config::RedisMode;
use crate::store::{StoreError, StoreResult};
use arc_swap::ArcSwapOption;
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::{IntoConnectionInfo, RedisResult};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// One multiplexed connection, made on first use and made again after a failure.
#[derive(Default)]
pub(super) struct Slot {
    conn: ArcSwapOption<Conn>,
    connecting: tokio::sync::Mutex<()>,
}

fn failed(e: redis::RedisError) -> StoreError {
    if e.is_timeout() {
        return StoreError::Timeout;
    }
    StoreError::Failed(e.to_string())
}

impl RedisStore {
    fn connection_info(&self, url: &str) -> RedisResult<redis::ConnectionInfo> {
        let info = url.into_connection_info()?;
        let mut settings = info.redis_settings().clone();
        if let Some(u) = &self.config.username {
            settings = settings.set_username(u);
        }
        if let Some(p) = &self.config.password {
            settings = settings.set_password(p.expose());
        }
        Ok(info.set_redis_settings(settings))
    }

    fn manager_config(&self) -> redis::aio::ConnectionManagerConfig {
        redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.config.timeout))
            .set_response_timeout(Some(self.config.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500))
    }

    async fn connect(&self) -> RedisResult<Conn> {
        let c = &self.config;
        match c.mode {
            RedisMode::Standalone => {
                let client = redis::Client::open(self.connection_info(&c.urls[0])?)?;
                Ok(Conn::Single(client.get_connection_manager_with_config(self.manager_config()).await?))
            }
            RedisMode::Sentinel => {
                let sentinels: Vec<redis::ConnectionAddr> = c
                    .urls
                    .iter()
                    .map(|u| u.as_str().into_connection_info().map(|i| i.addr().clone()))
                    .collect::<RedisResult<_>>()?;
                let master = c.sentinel_master.clone().unwrap_or_default();
                let mut builder = redis::sentinel::SentinelClientBuilder::new(
                    sentinels,
                    master,
                    redis::sentinel::SentinelServerType::Master,
                )?;
                if let Some(u) = &c.username {
                    builder = builder.set_client_to_redis_username(u);
                }
                if let Some(p) = &c.password {
                    builder = builder.set_client_to_redis_password(p.expose());
                }
                let client = builder.build()?.async_get_client().await?;
                Ok(Conn::Single(client.get_connection_manager_with_config(self.manager_config()).await?))
            }
            RedisMode::Cluster => {
                let nodes: Vec<redis::ConnectionInfo> =
                    c.urls.iter().map(|u| self.connection_info(u)).collect::<RedisResult<_>>()?;
                let client = redis::cluster::ClusterClient::builder(nodes)
                    .connection_timeout(c.timeout)
                    .response_timeout(c.timeout)
                    .retries(1)
                    .build()?;
                Ok(Conn::Cluster(client.get_async_connection().await?))
            }
        }
    }

    async fn conn(&self, slot: &Slot) -> StoreResult<Conn> {
        if let Some(c) = slot.conn.load_full() {
            return Ok((*c).clone());
        }
        let _one = slot.connecting.lock().await;
        if let Some(c) = slot.conn.load_full() {
            return Ok((*c).clone());
        }
        let c = self.connect().await.map_err(failed)?;
        slot.conn.store(Some(Arc::new(c.clone())));
        Ok(c)
    }

    /// Run `op` on the main connection within the timeout.
    pub(super) async fn run<T, F, Fut>(&self, op: F) -> StoreResult<T>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: std::future::Future<Output = RedisResult<T>>,
    {
        self.run_on(&self.main, op).await
    }

    /// Run `op` on `slot`'s connection within the timeout. A connection that failed is
    /// dropped, so the next operation connects again (for Sentinel: asks for the master again).
    pub(super) async fn run_on<T, F, Fut>(&self, slot: &Slot, op: F) -> StoreResult<T>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: std::future::Future<Output = RedisResult<T>>,
    {
        let work = async {
            let conn = self.conn(slot).await?;
            op(conn).await.map_err(|e| {
                if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout() {
                    slot.conn.store(None);
                }
                failed(e)
            })
        };
        let result = match tokio::time::timeout(self.config.timeout, work).await {
            Ok(result) => result,
            Err(_) => {
                // Its late answer would hold up every later one on the same connection.
                slot.conn.store(None);
                Err(StoreError::Timeout)
            }
        };
        if result.is_ok() {
            crate::store::set_degraded(false);
        }
        result
    }
}
