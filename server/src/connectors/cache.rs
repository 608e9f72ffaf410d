//! The built-in caches behind `self.cache` (`zato/server/connection/cache.py`): entries in the
//! ODB (`zato_common::odb::cache`), so a value set on one server is read on every other and
//! survives restarts; expiry is checked on every read. One operation per call from Python.
//! A cache with a definition (`zato.cache.builtin.*`) is bounded by it ([`Limits`]).
use chrono::{TimeDelta, Utc};
use serde_json::{Map, Value, json};
use zato_common::odb::cache::CacheEntry;
use zato_common::odb::kinds::cache::BUILTIN;
use zato_common::odb::{Odb, OdbError};
use zato_common::time::to_iso as iso;

use crate::core::KindRows;

/// Upstream's limit on a cache's name is the table's; a key must fit the unique index.
const MAX_KEY: usize = 600;
const MAX_NAME: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{0}")]
    BadInput(String),
    #[error("the cache could not be reached: {0}")]
    Odb(#[from] OdbError),
}

/// What a cache's definition asks of it; a cache without one has no bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub is_active: bool,
    /// Characters of a value's JSON text at most.
    pub max_item_size: Option<usize>,
    /// A read of an entry that expires starts its expiry over.
    pub extend_on_get: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            is_active: true,
            max_item_size: None,
            extend_on_get: false,
        }
    }
}

impl Limits {
    fn from_row(row: &Map<String, Value>) -> Self {
        Self {
            is_active: row
                .get("is_active")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            max_item_size: row
                .get("max_item_size")
                .and_then(Value::as_i64)
                .and_then(|n| usize::try_from(n).ok()),
            extend_on_get: row
                .get("extend_expiry_on_get")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    /// The limits of `cache` in the definitions held (`rows`).
    pub fn of(rows: &KindRows, cache: &str) -> Self {
        rows.get(BUILTIN.name)
            .and_then(|defs| {
                defs.iter()
                    .find(|d| d.get("name").and_then(Value::as_str) == Some(cache))
            })
            .map(Self::from_row)
            .unwrap_or_default()
    }
}

fn text<'a>(args: &'a Value, key: &str) -> Result<&'a str, CacheError> {
    args[key]
        .as_str()
        .ok_or_else(|| CacheError::BadInput(format!("`{key}` must be a string")))
}

/// Seconds of `expiry` as milliseconds and the end it gives from `now` (None: for ever).
fn expiry(args: &Value, now: chrono::DateTime<Utc>) -> Result<(i64, Option<String>), CacheError> {
    let secs = match &args["expiry"] {
        Value::Null => 0.0,
        v => v
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .ok_or_else(|| {
                CacheError::BadInput(format!("`expiry` must be 0 or more seconds, not {v}"))
            })?,
    };
    // At most a hundred years: an end date must not overflow.
    let ms = (secs.min(3.2e9) * 1000.0) as i64;
    let end = (ms > 0)
        .then(|| TimeDelta::try_milliseconds(ms).map(|d| iso(now + d)))
        .flatten();
    Ok((ms, end))
}

fn value_of(json_text: &str) -> Value {
    serde_json::from_str(json_text).unwrap_or(Value::Null)
}

fn describe(e: &CacheEntry) -> Value {
    json!({"key": e.key, "value": value_of(&e.value), "expiry": e.expiry_ms as f64 / 1000.0,
        "expires_at": e.expires_at, "last_modified": e.last_modified})
}

/// Runs `op` (`get`, `set`, `delete`, `expire`, `list`, `clear`) on cache `cache`, within
/// its definition's `limits`.
pub async fn call(
    odb: &Odb,
    cluster_id: i64,
    op: &str,
    cache: &str,
    limits: Limits,
    args: &Value,
) -> Result<Value, CacheError> {
    if cache.is_empty() || cache.len() > MAX_NAME {
        return Err(CacheError::BadInput(format!(
            "a cache's name must be 1 to {MAX_NAME} characters"
        )));
    }
    if !limits.is_active {
        return Err(CacheError::BadInput(format!(
            "the built-in cache `{cache}` is not active (zato.cache.builtin.edit makes it so)"
        )));
    }
    let key = || {
        let k = text(args, "key")?;
        if k.len() > MAX_KEY {
            return Err(CacheError::BadInput(format!(
                "a cache key is at most {MAX_KEY} characters, this one has {}",
                k.len()
            )));
        }
        Ok(k)
    };
    let now = Utc::now();
    let now_s = iso(now);
    Ok(match op {
        "get" => match odb.cache_get(cluster_id, cache, key()?, &now_s).await? {
            Some(mut e) => {
                if limits.extend_on_get && e.expiry_ms > 0 {
                    e.expires_at = TimeDelta::try_milliseconds(e.expiry_ms).map(|d| iso(now + d));
                    odb.cache_expire(
                        cluster_id,
                        cache,
                        &e.key,
                        e.expiry_ms,
                        e.expires_at.as_deref(),
                        &now_s,
                    )
                    .await?;
                }
                json!({"found": true, "value": value_of(&e.value), "details": describe(&e)})
            }
            None => json!({"found": false}),
        },
        "set" => {
            let (expiry_ms, expires_at) = expiry(args, now)?;
            let value = args["value"].to_string();
            if let Some(max) = limits.max_item_size
                && value.chars().count() > max
            {
                return Err(CacheError::BadInput(format!(
                    "the value has {} characters (as JSON), more than the {max} of cache `{cache}`'s max_item_size",
                    value.chars().count()
                )));
            }
            let entry = CacheEntry {
                key: key()?.to_string(),
                value,
                expiry_ms,
                expires_at,
                last_modified: now_s.clone(),
            };
            let old = odb.cache_set(cluster_id, cache, &entry, &now_s).await?;
            json!({"found": old.is_some(), "value": old.as_deref().map(value_of)})
        }
        "delete" => {
            let old = odb.cache_delete(cluster_id, cache, key()?, &now_s).await?;
            json!({"found": old.is_some(), "value": old.as_deref().map(value_of)})
        }
        "expire" => {
            let (expiry_ms, expires_at) = expiry(args, now)?;
            let found = odb
                .cache_expire(
                    cluster_id,
                    cache,
                    key()?,
                    expiry_ms,
                    expires_at.as_deref(),
                    &now_s,
                )
                .await?;
            json!({"found": found})
        }
        "list" => {
            let prefix = args["prefix"].as_str().unwrap_or_default();
            let entries = odb.cache_list(cluster_id, cache, prefix, &now_s).await?;
            json!({"entries": entries.iter().map(describe).collect::<Vec<_>>()})
        }
        "clear" => json!({"count": odb.cache_clear(cluster_id, cache).await?}),
        other => {
            return Err(CacheError::BadInput(format!(
                "unknown cache operation `{other}`"
            )));
        }
    })
}

/// Deletes the cluster's expired entries every minute, for the life of the server (a read
/// already ignores them, this only keeps the table from growing), and keeps each defined
/// cache to its `max_size`, the entries written longest ago going first.
pub async fn prune_forever(odb: Odb, cluster_id: i64) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = prune(&odb, cluster_id).await {
            tracing::warn!("built-in caches could not be pruned: {e}");
        }
    }
}

/// One round of [`prune_forever`].
pub async fn prune(odb: &Odb, cluster_id: i64) -> Result<(), OdbError> {
    odb.cache_prune(cluster_id, &iso(Utc::now())).await?;
    for def in odb.kind_list(&BUILTIN, cluster_id).await? {
        let name = def.get("name").and_then(Value::as_str);
        let max = def.get("max_size").and_then(Value::as_i64);
        if let (Some(name), Some(max)) = (name, max) {
            let gone = odb.cache_trim(cluster_id, name, max).await?;
            if gone > 0 {
                tracing::info!("cache `{name}`: {gone} entries beyond its max_size {max} deleted");
            }
        }
    }
    Ok(())
}
