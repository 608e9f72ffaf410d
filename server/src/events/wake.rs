//! Wake-ups for loops that poll the ODB (cluster events, async requests): on PostgreSQL a
//! LISTEN connection ends the wait as soon as another process notifies, and the poll stays as
//! a slower safety net for wake-ups lost while the connection was re-made; elsewhere the loop
//! polls as before.
use std::time::Duration;

use zato_common::odb::Odb;
use zato_common::odb::notify::{Listener, Topic};

/// How much longer than its usual poll a loop with a listener waits before polling anyway.
const SLOWER_WITH_WAKEUPS: u32 = 5;
/// The pause after a listener could not reconnect, so a dead ODB does not spin the loop.
const AFTER_FAILURE: Duration = Duration::from_secs(1);

pub struct Wake {
    listener: Option<Listener>,
}

impl Wake {
    /// Listens to `topic` of `cluster_id` where the ODB can; a failure is logged and the loop
    /// polls.
    pub async fn new(odb: &Odb, cluster_id: i64, topic: Topic) -> Self {
        let listener = match odb.listen(cluster_id, &[topic]).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("cannot listen for {topic:?} wake-ups, polling instead: {e}");
                None
            }
        };
        Self { listener }
    }

    /// Whether wake-ups come (a LISTEN connection is open).
    pub fn listening(&self) -> bool {
        self.listener.is_some()
    }

    /// How long to wait before polling when no wake-up comes.
    pub fn poll(&self, usual: Duration) -> Duration {
        match self.listener {
            Some(_) => usual * SLOWER_WITH_WAKEUPS,
            None => usual,
        }
    }

    /// Resolves at the next wake-up; never without a listener.
    pub async fn next(&mut self) {
        match &mut self.listener {
            Some(l) => {
                if let Err(e) = l.recv().await {
                    tracing::warn!("lost the ODB connection that listens for wake-ups: {e}");
                    tokio::time::sleep(AFTER_FAILURE).await;
                }
            }
            None => std::future::pending().await,
        }
    }
}
