//! `kv_data`: short-lived keys every server of a cluster must agree on — WS-Security nonces
//! already seen and JWTs already logged out.
use chrono::{Duration as ChronoDuration, Utc};
use sqlx::Row;

use super::{Odb, OdbError, OdbResult};

/// Now plus `seconds`, in the ODB's timestamp format (text order is time order).
/// Now plus `seconds`, clamped to a hundred years: a TTL from a request or a row must not be
/// able to overflow a date (which panics).
fn iso_in(seconds: i64) -> String {
    const CENTURY: i64 = 100 * 365 * 24 * 3600;
    let delta = ChronoDuration::seconds(seconds.clamp(0, CENTURY));
    let now = Utc::now();
    crate::time::to_iso(now.checked_add_signed(delta).unwrap_or(now))
}

impl Odb {
    /// Stores `key` for `ttl_seconds` unless it is already there and unexpired. Returns
    /// false when it was (a replay). Expired keys of the cluster are purged first.
    pub async fn kv_insert_new(
        &self,
        cluster_id: i64,
        key: &str,
        value: &str,
        ttl_seconds: i64,
    ) -> OdbResult<bool> {
        let now = iso_in(0);
        sqlx::query(self.sql("DELETE FROM kv_data WHERE cluster_id = ? AND expiry_time < ?"))
            .bind(cluster_id)
            .bind(now.clone())
            .execute(self.pool())
            .await?;
        let res = sqlx::query(self.sql(
            "INSERT INTO kv_data (kv_key, value, data_type, creation_time, expiry_time, cluster_id) VALUES (?, ?, 'text', ?, ?, ?)",
        ))
        .bind(key.to_string())
        .bind(value.to_string())
        .bind(now)
        .bind(iso_in(ttl_seconds.max(1)))
        .bind(cluster_id)
        .execute(self.pool())
        .await;
        match res {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(false),
            Err(e) => Err(OdbError::Query(e)),
        }
    }

    /// Takes or renews the lease `key` for `holder` for `ttl_seconds`: true while `holder` has
    /// it (it was free, expired or already `holder`'s), false while another holder's is live.
    pub async fn kv_lease(
        &self,
        cluster_id: i64,
        key: &str,
        holder: &str,
        ttl_seconds: i64,
    ) -> OdbResult<bool> {
        let res = sqlx::query(self.sql(
            "UPDATE kv_data SET value = ?, expiry_time = ? WHERE cluster_id = ? AND kv_key = ? AND (value = ? OR expiry_time < ?)",
        ))
        .bind(holder.to_string())
        .bind(iso_in(ttl_seconds.max(1)))
        .bind(cluster_id)
        .bind(key.to_string())
        .bind(holder.to_string())
        .bind(iso_in(0))
        .execute(self.pool())
        .await?;
        if res.rows_affected() > 0 {
            return Ok(true);
        }
        self.kv_insert_new(cluster_id, key, holder, ttl_seconds)
            .await
    }

    /// Who holds the lease `key` now, if anyone.
    pub async fn kv_lease_holder(&self, cluster_id: i64, key: &str) -> OdbResult<Option<String>> {
        let row = sqlx::query(self.sql(
            "SELECT value FROM kv_data WHERE cluster_id = ? AND kv_key = ? AND expiry_time >= ?",
        ))
        .bind(cluster_id)
        .bind(key.to_string())
        .bind(iso_in(0))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Gives the lease up (a clean stop), so that a standby takes over at once.
    pub async fn kv_lease_release(
        &self,
        cluster_id: i64,
        key: &str,
        holder: &str,
    ) -> OdbResult<()> {
        sqlx::query(
            self.sql("DELETE FROM kv_data WHERE cluster_id = ? AND kv_key = ? AND value = ?"),
        )
        .bind(cluster_id)
        .bind(key.to_string())
        .bind(holder.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The unexpired keys that start with `prefix`.
    pub async fn kv_keys(&self, cluster_id: i64, prefix: &str) -> OdbResult<Vec<String>> {
        let rows = sqlx::query(self.sql(
            "SELECT kv_key FROM kv_data WHERE cluster_id = ? AND kv_key LIKE ? AND expiry_time >= ?",
        ))
        .bind(cluster_id)
        .bind(format!("{prefix}%"))
        .bind(iso_in(0))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>(0)?))
            .collect()
    }

    /// Sets `key` to `value` for `ttl_seconds`, replacing what was there.
    pub async fn kv_put(
        &self,
        cluster_id: i64,
        key: &str,
        value: &str,
        ttl_seconds: i64,
    ) -> OdbResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(self.sql("DELETE FROM kv_data WHERE cluster_id = ? AND kv_key = ?"))
            .bind(cluster_id)
            .bind(key.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(self.sql(
            "INSERT INTO kv_data (kv_key, value, data_type, creation_time, expiry_time, cluster_id) VALUES (?, ?, 'text', ?, ?, ?)",
        ))
        .bind(key.to_string())
        .bind(value.to_string())
        .bind(iso_in(0))
        .bind(iso_in(ttl_seconds.max(1)))
        .bind(cluster_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The value of an unexpired key.
    pub async fn kv_get(&self, cluster_id: i64, key: &str) -> OdbResult<Option<String>> {
        let row = sqlx::query(self.sql(
            "SELECT value FROM kv_data WHERE cluster_id = ? AND kv_key = ? AND expiry_time >= ?",
        ))
        .bind(cluster_id)
        .bind(key.to_string())
        .bind(iso_in(0))
        .fetch_optional(self.pool())
        .await?;
        Ok(row
            .map(|r| r.try_get::<Option<String>, _>(0))
            .transpose()?
            .flatten())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn any_ttl_makes_a_date() {
        for ttl in [i64::MIN, -1, 0, 1, i64::MAX] {
            assert!(super::iso_in(ttl).len() >= 19, "{ttl}");
        }
    }
}
