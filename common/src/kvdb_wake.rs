//! Wake-ups through Redis (`[kvdb]`) where the ODB has no LISTEN/NOTIFY (SQLite, MySQL): a
//! PUBLISH on `zato:wake:<cluster name>:<topic>` ends the wait of every process subscribed to
//! it. As on PostgreSQL (`odb::notify`), a wake-up carries nothing: the woken loop reads the
//! ODB as on a poll, so one lost while a subscriber reconnects costs only the poll's wait.
use std::time::Duration;

use crate::config::KvdbConfig;
use crate::kvdb::{KvdbError, Lazy, LazyError};
use crate::odb::notify::Topic;

const TIMEOUT: Duration = Duration::from_secs(5);

pub struct RedisWake {
    client: redis::Client,
    addr: String,
    /// `zato:wake:<cluster name>:` (names, unlike ids, are unique across ODBs sharing a Redis).
    prefix: String,
    conn: Lazy,
}

/// Subscribed to one topic's wake-ups.
pub type Subscription = redis::aio::PubSubStream;

impl RedisWake {
    pub fn new(cfg: &KvdbConfig, cluster: &str) -> Result<Self, KvdbError> {
        let client = crate::kvdb::client(cfg)?;
        Ok(Self {
            conn: Lazy::new(client.clone(), TIMEOUT),
            client,
            addr: format!("{}:{}", cfg.host, cfg.port),
            prefix: format!("zato:wake:{cluster}:"),
        })
    }

    fn channel(&self, topic: Topic) -> String {
        format!("{}{}", self.prefix, topic.name())
    }

    fn err(&self, e: LazyError) -> KvdbError {
        match e {
            LazyError::Timeout => KvdbError::Timeout {
                addr: self.addr.clone(),
                timeout: TIMEOUT,
            },
            LazyError::Redis(source) => KvdbError::Redis {
                addr: self.addr.clone(),
                source,
            },
        }
    }

    /// Wakes the processes subscribed to `topic`.
    pub async fn notify(&self, topic: Topic) -> Result<(), KvdbError> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(self.channel(topic)).arg("");
        let cmd = &cmd;
        self.conn
            .run(TIMEOUT, |mut c| async move {
                cmd.query_async::<i64>(&mut c).await
            })
            .await
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// A connection of its own subscribed to `topic`; its stream ends when the connection
    /// does.
    pub async fn subscribe(&self, topic: Topic) -> Result<Subscription, KvdbError> {
        let work = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(self.channel(topic)).await?;
            Ok(pubsub.into_on_message())
        };
        match tokio::time::timeout(TIMEOUT, work).await {
            Err(_) => Err(self.err(LazyError::Timeout)),
            Ok(r) => r.map_err(|e| self.err(LazyError::Redis(e))),
        }
    }
}
