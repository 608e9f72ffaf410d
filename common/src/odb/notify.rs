//! Wake-ups between processes through the ODB: PostgreSQL's LISTEN/NOTIFY, so a process
//! waiting for cluster events or async requests hears of a new one at once instead of at its
//! next poll. SQLite and MySQL have nothing of the kind: there Redis does it when `[kvdb]` is
//! configured (`kvdb_wake`), and the callers' polls otherwise.
//! A notification carries nothing; the listener reads the tables as it would on a poll, so one
//! lost (while a listener reconnects) costs only the wait until the next poll.
use sqlx::postgres::PgListener;

use super::{Odb, OdbResult};
use crate::config::OdbEngine;

/// What a wake-up is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// A new `cluster_event` row.
    Events,
    /// A new `async_request` row no server holds.
    Async,
}

impl Topic {
    pub fn name(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Async => "async",
        }
    }

    /// The PostgreSQL channel of this topic in `cluster_id` (an identifier: letters, digits, _).
    pub fn channel(self, cluster_id: i64) -> String {
        format!("zato_{}_{cluster_id}", self.name())
    }
}

/// A connection listening for wake-ups.
pub struct Listener(PgListener);

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
    }
}

impl Listener {
    /// Waits for the next wake-up; those already arrived behind it are taken too (a burst
    /// wakes the caller once). sqlx reconnects a lost connection by itself (wake-ups sent
    /// meanwhile are lost); an error means it could not.
    pub async fn recv(&mut self) -> OdbResult<()> {
        self.0.recv().await?;
        while self.0.next_buffered().is_some() {}
        Ok(())
    }
}

impl Odb {
    /// Wakes the processes listening to `topic` (PostgreSQL only; elsewhere nothing happens).
    pub async fn notify(&self, cluster_id: i64, topic: Topic) -> OdbResult<()> {
        if self.engine() != OdbEngine::Postgresql {
            return Ok(());
        }
        sqlx::query(self.sql("SELECT pg_notify(?, '')"))
            .bind(topic.channel(cluster_id))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A connection listening to `topics` on PostgreSQL; None elsewhere (poll instead).
    pub async fn listen(&self, cluster_id: i64, topics: &[Topic]) -> OdbResult<Option<Listener>> {
        let Some(url) = self.listen_url() else {
            return Ok(None);
        };
        let mut l = PgListener::connect(url).await?;
        let channels: Vec<String> = topics.iter().map(|t| t.channel(cluster_id)).collect();
        l.listen_all(channels.iter().map(String::as_str)).await?;
        Ok(Some(Listener(l)))
    }
}
