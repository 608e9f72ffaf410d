//! The built-in caches behind `self.cache` (`zato/server/connection/cache.py`): entries in the
//! ODB (`zato_common::odb::cache`), so a value set on one server is read on every other and
//! survives restarts; expiry is checked on every read. One operation per call from Python.
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use zato_common::odb::cache::CacheEntry;
use zato_common::odb::{Odb, OdbError};

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

fn iso(t: chrono::DateTime<Utc>) -> String {
    zato_common::time::to_iso(t)
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

/// Runs `op` (`get`, `set`, `delete`, `expire`, `list`, `clear`) on cache `cache`.
pub async fn call(
    odb: &Odb,
    cluster_id: i64,
    op: &str,
    cache: &str,
    args: &Value,
) -> Result<Value, CacheError> {
    if cache.is_empty() || cache.len() > MAX_NAME {
        return Err(CacheError::BadInput(format!(
            "a cache's name must be 1 to {MAX_NAME} characters"
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
            Some(e) => json!({"found": true, "value": value_of(&e.value), "details": describe(&e)}),
            None => json!({"found": false}),
        },
        "set" => {
            let (expiry_ms, expires_at) = expiry(args, now)?;
            let entry = CacheEntry {
                key: key()?.to_string(),
                value: args["value"].to_string(),
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

/// Deletes the cluster's expired entries every minute, for the life of the server: a read
/// already ignores them, this only keeps the table from growing.
pub async fn prune_forever(odb: Odb, cluster_id: i64) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = odb.cache_prune(cluster_id, &iso(Utc::now())).await {
            tracing::warn!("expired cache entries could not be deleted: {e}");
        }
    }
}
