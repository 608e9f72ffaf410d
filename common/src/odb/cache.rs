//! `cache_entry` (ours): the entries of the cluster's built-in caches (`self.cache`), in the
//! ODB, so every server reads what any server wrote and entries survive restarts. Values are
//! JSON text; an entry past its `expires_at` (naive UTC ISO text) is as good as gone and is
//! deleted by [`Odb::cache_prune`].
use sqlx::Row;

use super::{Odb, OdbResult};
use crate::config::OdbEngine;

/// One entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheEntry {
    pub key: String,
    /// JSON text.
    pub value: String,
    /// Milliseconds it lives after it was last set (0: for ever).
    pub expiry_ms: i64,
    pub expires_at: Option<String>,
    pub last_modified: String,
}

const COLUMNS: &str = "key_, value, expiry_ms, expires_at, last_modified";
/// An entry that is live at `?` (now).
const LIVE: &str = "(expires_at IS NULL OR expires_at >= ?)";

fn from_row(r: &sqlx::any::AnyRow) -> OdbResult<CacheEntry> {
    Ok(CacheEntry {
        key: r.try_get(0)?,
        value: r.try_get(1)?,
        expiry_ms: r.try_get(2)?,
        expires_at: r.try_get(3)?,
        last_modified: r.try_get(4)?,
    })
}

impl Odb {
    /// The live entry `key` of cache `cache`.
    pub async fn cache_get(
        &self,
        cluster_id: i64,
        cache: &str,
        key: &str,
        now: &str,
    ) -> OdbResult<Option<CacheEntry>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM cache_entry WHERE cluster_id = ? AND cache_name = ? AND key_ = ? AND {LIVE}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(self.dialect(&sql)))
            .bind(cluster_id)
            .bind(cache.to_string())
            .bind(key.to_string())
            .bind(now.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Sets `key` (replacing any entry) and returns the live value it replaced, if any.
    pub async fn cache_set(
        &self,
        cluster_id: i64,
        cache: &str,
        entry: &CacheEntry,
        now: &str,
    ) -> OdbResult<Option<String>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT value FROM cache_entry WHERE cluster_id = ? AND cache_name = ? AND key_ = ? AND {LIVE}"
        );
        let old: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(self.dialect(&sql)))
            .bind(cluster_id)
            .bind(cache.to_string())
            .bind(entry.key.clone())
            .bind(now.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        let upsert = match self.engine() {
            OdbEngine::Mysql => {
                "INSERT INTO cache_entry (cluster_id, cache_name, key_, value, expiry_ms, expires_at, last_modified) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value), \
                 expiry_ms = VALUES(expiry_ms), expires_at = VALUES(expires_at), last_modified = VALUES(last_modified)"
            }
            _ => {
                "INSERT INTO cache_entry (cluster_id, cache_name, key_, value, expiry_ms, expires_at, last_modified) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (cluster_id, cache_name, key_) DO UPDATE SET \
                 value = excluded.value, expiry_ms = excluded.expiry_ms, expires_at = excluded.expires_at, \
                 last_modified = excluded.last_modified"
            }
        };
        sqlx::query(self.sql(upsert))
            .bind(cluster_id)
            .bind(cache.to_string())
            .bind(entry.key.clone())
            .bind(entry.value.clone())
            .bind(entry.expiry_ms)
            .bind(entry.expires_at.clone())
            .bind(entry.last_modified.clone())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(old)
    }

    /// Deletes `key`; returns the live value it had, if any.
    pub async fn cache_delete(
        &self,
        cluster_id: i64,
        cache: &str,
        key: &str,
        now: &str,
    ) -> OdbResult<Option<String>> {
        // Liveness is read back: an expired entry is deleted too, but was not there to the caller.
        let row = sqlx::query(self.sql(
            "DELETE FROM cache_entry WHERE cluster_id = ? AND cache_name = ? AND key_ = ? \
             RETURNING value, expires_at",
        ))
        .bind(cluster_id)
        .bind(cache.to_string())
        .bind(key.to_string())
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let expires_at: Option<String> = r.try_get(1)?;
        match expires_at {
            Some(at) if at.as_str() < now => Ok(None),
            _ => Ok(Some(r.try_get(0)?)),
        }
    }

    /// Sets how long `key` lives from now (0: for ever); false when there is no live entry.
    pub async fn cache_expire(
        &self,
        cluster_id: i64,
        cache: &str,
        key: &str,
        expiry_ms: i64,
        expires_at: Option<&str>,
        now: &str,
    ) -> OdbResult<bool> {
        let sql = format!(
            "UPDATE cache_entry SET expiry_ms = ?, expires_at = ?, last_modified = ? \
             WHERE cluster_id = ? AND cache_name = ? AND key_ = ? AND {LIVE}"
        );
        let res = sqlx::query(sqlx::AssertSqlSafe(self.dialect(&sql)))
            .bind(expiry_ms)
            .bind(expires_at.map(str::to_string))
            .bind(now.to_string())
            .bind(cluster_id)
            .bind(cache.to_string())
            .bind(key.to_string())
            .bind(now.to_string())
            .execute(self.pool())
            .await?;
        Ok(res.rows_affected() > 0)
    }

    /// The live entries of cache `cache`, by key, whose key starts with `prefix` ('' for all).
    pub async fn cache_list(
        &self,
        cluster_id: i64,
        cache: &str,
        prefix: &str,
        now: &str,
    ) -> OdbResult<Vec<CacheEntry>> {
        // `!` escapes the prefix's own wildcards: unlike a backslash, it means the same to
        // every backend.
        let pattern: String = prefix
            .chars()
            .flat_map(|c| match c {
                '!' | '%' | '_' => vec!['!', c],
                c => vec![c],
            })
            .chain(['%'])
            .collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM cache_entry WHERE cluster_id = ? AND cache_name = ? AND {LIVE} \
             AND key_ LIKE ? ESCAPE '!' ORDER BY key_"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.dialect(&sql)))
            .bind(cluster_id)
            .bind(cache.to_string())
            .bind(now.to_string())
            .bind(pattern)
            .fetch_all(self.pool())
            .await?;
        // SQLite's LIKE ignores ASCII case: the prefix is checked exactly here.
        rows.iter()
            .map(from_row)
            .filter(|e| e.as_ref().map_or(true, |e| e.key.starts_with(prefix)))
            .collect()
    }

    /// Deletes every entry of cache `cache`; returns how many there were.
    pub async fn cache_clear(&self, cluster_id: i64, cache: &str) -> OdbResult<u64> {
        let res = sqlx::query(
            self.sql("DELETE FROM cache_entry WHERE cluster_id = ? AND cache_name = ?"),
        )
        .bind(cluster_id)
        .bind(cache.to_string())
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected())
    }

    /// Deletes the cluster's expired entries.
    pub async fn cache_prune(&self, cluster_id: i64, now: &str) -> OdbResult<u64> {
        let res = sqlx::query(
            self.sql("DELETE FROM cache_entry WHERE cluster_id = ? AND expires_at < ?"),
        )
        .bind(cluster_id)
        .bind(now.to_string())
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected())
    }

    /// How many live entries cache `cache` has.
    pub async fn cache_count(&self, cluster_id: i64, cache: &str, now: &str) -> OdbResult<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM cache_entry WHERE cluster_id = ? AND cache_name = ? AND {LIVE}"
        );
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(self.dialect(&sql)))
            .bind(cluster_id)
            .bind(cache.to_string())
            .bind(now.to_string())
            .fetch_one(self.pool())
            .await?)
    }

    /// Keeps at most `keep` entries of cache `cache`, deleting those written longest ago
    /// (entries written in the same instant as the last kept one go with it); returns how
    /// many were deleted.
    pub async fn cache_trim(&self, cluster_id: i64, cache: &str, keep: i64) -> OdbResult<u64> {
        // The newest entry beyond `keep`: it and everything as old or older go.
        let cutoff: Option<String> = sqlx::query_scalar(self.sql(
            "SELECT last_modified FROM cache_entry WHERE cluster_id = ? AND cache_name = ? \
             ORDER BY last_modified DESC LIMIT 1 OFFSET ?",
        ))
        .bind(cluster_id)
        .bind(cache.to_string())
        .bind(keep.max(0))
        .fetch_optional(self.pool())
        .await?;
        let Some(cutoff) = cutoff else {
            return Ok(0);
        };
        let res = sqlx::query(self.sql(
            "DELETE FROM cache_entry WHERE cluster_id = ? AND cache_name = ? AND last_modified <= ?",
        ))
        .bind(cluster_id)
        .bind(cache.to_string())
        .bind(cutoff)
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected())
    }
}
