//! The ODB-backed broker's storage: an append-only `cluster_event` log that every server polls.
use sqlx::Row;

use super::{Odb, OdbResult};
use crate::time::utc_now_iso;

/// "The cluster's configuration changed; reload it from the ODB."
pub const EVENT_CONFIG: &str = "config";

#[derive(Debug, Clone)]
pub struct ClusterEvent {
    pub id: i64,
    pub event_type: String,
    pub payload: String,
    pub origin: String,
}

impl Odb {
    pub async fn publish_event(
        &self,
        cluster_id: i64,
        event_type: &str,
        payload: &str,
        origin: &str,
    ) -> OdbResult<i64> {
        let q = sqlx::query(self.sql_insert(
            "INSERT INTO cluster_event (cluster_id, event_type, payload, origin, created_at) VALUES (?, ?, ?, ?, ?)",
        ))
        .bind(cluster_id)
        .bind(event_type.to_string())
        .bind(payload.to_string())
        .bind(origin.to_string())
        .bind(utc_now_iso());
        self.insert_returning_id(q).await
    }

    /// Events with an id above `after_id`, oldest first.
    pub async fn events_after(
        &self,
        cluster_id: i64,
        after_id: i64,
    ) -> OdbResult<Vec<ClusterEvent>> {
        let rows = sqlx::query(self.sql(
            "SELECT id, event_type, payload, origin FROM cluster_event WHERE cluster_id = ? AND id > ? ORDER BY id",
        ))
        .bind(cluster_id)
        .bind(after_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClusterEvent {
                    id: r.try_get(0)?,
                    event_type: r.try_get(1)?,
                    payload: r.try_get(2)?,
                    origin: r.try_get(3)?,
                })
            })
            .collect()
    }

    pub async fn last_event_id(&self, cluster_id: i64) -> OdbResult<i64> {
        let row = sqlx::query(self.sql("SELECT MAX(id) FROM cluster_event WHERE cluster_id = ?"))
            .bind(cluster_id)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
    }

    /// Drops events older than `keep_after_id` (called now and then by servers).
    pub async fn prune_events(&self, cluster_id: i64, keep_after_id: i64) -> OdbResult<u64> {
        let res =
            sqlx::query(self.sql("DELETE FROM cluster_event WHERE cluster_id = ? AND id <= ?"))
                .bind(cluster_id)
                .bind(keep_after_id)
                .execute(self.pool())
                .await?;
        Ok(res.rows_affected())
    }
}
