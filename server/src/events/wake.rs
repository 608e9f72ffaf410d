//! Wake-ups for loops that poll the ODB (cluster events, async requests): on PostgreSQL a
//! LISTEN connection, elsewhere a Redis subscription when `[kvdb]` is configured, ends the
//! wait as soon as another process notifies ([`Notifier`]); the poll stays as a slower safety
//! net for wake-ups lost while a connection was re-made. With neither, the loop polls as
//! before.
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use zato_common::config::OdbEngine;
use zato_common::kvdb_wake::{RedisWake, Subscription};
use zato_common::odb::Odb;
use zato_common::odb::notify::{Listener, Topic};

/// How much longer than its usual poll a loop with a listener waits before polling anyway.
const SLOWER_WITH_WAKEUPS: u32 = 5;
/// The pause after a listener could not reconnect, so a dead ODB or Redis does not spin the
/// loop.
const AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Why the other processes could not be woken (they will poll).
#[derive(Debug, thiserror::Error)]
pub enum WakeError {
    #[error(transparent)]
    Odb(#[from] zato_common::odb::OdbError),
    #[error(transparent)]
    Redis(#[from] zato_common::kvdb::KvdbError),
}

/// Tells the other processes: through the ODB on PostgreSQL, through Redis elsewhere.
pub struct Notifier {
    odb: Odb,
    cluster_id: i64,
    /// Set only where the ODB cannot notify.
    redis: Option<Arc<RedisWake>>,
}

impl Notifier {
    /// `redis`: the cluster's wake-ups on Redis, when `[kvdb]` is configured.
    pub fn new(odb: Odb, cluster_id: i64, redis: Option<RedisWake>) -> Self {
        let redis = redis
            .filter(|_| odb.engine() != OdbEngine::Postgresql)
            .map(Arc::new);
        Self {
            odb,
            cluster_id,
            redis,
        }
    }

    /// Wakes the processes waiting on `topic`; a failure is returned for the caller to log
    /// (the others will poll).
    pub async fn notify(&self, topic: Topic) -> Result<(), WakeError> {
        match &self.redis {
            Some(r) => Ok(r.notify(topic).await?),
            None => Ok(self.odb.notify(self.cluster_id, topic).await?),
        }
    }

    /// Listens to `topic` where the ODB or Redis can; a failure is logged and the loop polls.
    pub async fn wake(&self, topic: Topic) -> Wake {
        let source = match &self.redis {
            Some(r) => match r.subscribe(topic).await {
                Ok(s) => Some(Source::Redis(s, r.clone(), topic)),
                Err(e) => {
                    tracing::warn!("cannot subscribe to {topic:?} wake-ups, polling instead: {e}");
                    None
                }
            },
            None => match self.odb.listen(self.cluster_id, &[topic]).await {
                Ok(l) => l.map(Source::Odb),
                Err(e) => {
                    tracing::warn!("cannot listen for {topic:?} wake-ups, polling instead: {e}");
                    None
                }
            },
        };
        Wake { source }
    }
}

enum Source {
    Odb(Listener),
    /// The subscription, and what re-makes it once its connection ends.
    Redis(Subscription, Arc<RedisWake>, Topic),
}

pub struct Wake {
    source: Option<Source>,
}

impl Wake {
    /// Whether wake-ups come (a LISTEN connection or a subscription is open).
    pub fn listening(&self) -> bool {
        self.source.is_some()
    }

    /// How long to wait before polling when no wake-up comes.
    pub fn poll(&self, usual: Duration) -> Duration {
        match self.source {
            Some(_) => usual * SLOWER_WITH_WAKEUPS,
            None => usual,
        }
    }

    /// Resolves at the next wake-up; never without a listener.
    pub async fn next(&mut self) {
        match &mut self.source {
            Some(Source::Odb(l)) => {
                if let Err(e) = l.recv().await {
                    tracing::warn!("lost the ODB connection that listens for wake-ups: {e}");
                    tokio::time::sleep(AFTER_FAILURE).await;
                }
            }
            Some(Source::Redis(s, redis, topic)) => {
                if s.next().await.is_none() {
                    tracing::warn!("lost the Redis connection that listens for wake-ups");
                    tokio::time::sleep(AFTER_FAILURE).await;
                    match redis.subscribe(*topic).await {
                        Ok(again) => *s = again,
                        Err(e) => tracing::warn!("cannot subscribe to wake-ups again: {e}"),
                    }
                }
            }
            None => std::future::pending().await,
        }
    }
}
