//! The optional Redis connection (`[kvdb]`): reachability checks for `zato check-config` and
//! quickstart.
use std::time::Duration;

use redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};
use thiserror::Error;

use crate::config::KvdbConfig;

#[derive(Debug, Error)]
pub enum KvdbError {
    #[error("Redis at {addr} did not answer within {timeout:?}; is it running?")]
    Timeout { addr: String, timeout: Duration },
    #[error("Redis at {addr}: {source}")]
    Redis {
        addr: String,
        source: redis::RedisError,
    },
}

/// A client for the configured Redis (authenticating when a password is set, on the db).
pub fn client(cfg: &KvdbConfig) -> Result<redis::Client, KvdbError> {
    let err = |source| KvdbError::Redis {
        addr: format!("{}:{}", cfg.host, cfg.port),
        source,
    };
    let mut settings = RedisConnectionInfo::default().set_db(i64::from(cfg.db));
    if !cfg.password.is_empty() {
        settings = settings.set_password(&cfg.password);
    }
    let info = ConnectionAddr::Tcp(cfg.host.clone(), cfg.port)
        .into_connection_info()
        .map_err(err)?
        .set_redis_settings(settings);
    redis::Client::open(info).map_err(err)
}

/// Connects, selects the db and sends PING.
pub async fn ping(cfg: &KvdbConfig, timeout: Duration) -> Result<(), KvdbError> {
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let err = |source| KvdbError::Redis {
        addr: addr.clone(),
        source,
    };
    let client = client(cfg)?;
    let work = async {
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(err)?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map_err(err)
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result.map(|_| ()),
        Err(_) => Err(KvdbError::Timeout {
            addr: addr.clone(),
            timeout,
        }),
    }
}
