//! `zato.cache.builtin.*` beyond the CRUD made from the kind (`admin::kinds`): one definition
//! by `cache_id` with its current size, clearing a cache, and upstream's entry services
//! (`zato.cache.builtin.entry.*`: list, create, update, get, delete), which the web admin's
//! cache browser uses. Entries go through the same operations as `self.cache`
//! (`connectors::cache::call`), within the definition's limits.
use serde_json::{Map, Value, json};
use zato_common::odb::kinds::cache::BUILTIN;

use super::{Builtin, Ctx, Input, ServiceError, ServiceResult, check_cluster};
use crate::connectors::cache::{CacheError, Limits, call};
use crate::core::ErrorKind;
use crate::{builtin, io};

/// Characters of a value an entry list shows when the input does not say.
const MAX_CHARS: usize = 30;
const PAGE_SIZE: i64 = 100;

/// The definition `cache_id` names.
async fn definition(ctx: &Ctx, i: &mut Input<'_>) -> Result<Map<String, Value>, ServiceError> {
    check_cluster(ctx, i)?;
    let id = i.int("cache_id")?;
    ctx.state
        .odb
        .kind_by_id(&BUILTIN, ctx.state.cluster_id, id)
        .await?
        .ok_or_else(|| {
            ServiceError::new(
                ErrorKind::NotFound,
                format!("no built-in cache definition with id {id}"),
            )
        })
}

fn name_of(def: &Map<String, Value>) -> String {
    def.get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn id_of(def: &Map<String, Value>) -> Value {
    def.get("id").cloned().unwrap_or(Value::Null)
}

/// One operation on the cache `def` defines.
async fn op(ctx: &Ctx, def: &Map<String, Value>, op: &str, args: Value) -> ServiceResult {
    let limits = Limits::of(&ctx.state.tables.kind_rows.load(), &name_of(def));
    call(
        &ctx.state.odb,
        ctx.state.cluster_id,
        op,
        &name_of(def),
        limits,
        &args,
    )
    .await
    .map_err(|e| match e {
        CacheError::BadInput(m) => ServiceError::bad_request(m),
        e @ CacheError::Odb(_) => ServiceError::new(ErrorKind::Unavailable, e.to_string()),
    })
}

const DESCRIBED: &[&str] = &[
    "id",
    "cache_id",
    "name",
    "is_active",
    "is_default",
    "cache_type",
    "max_size",
    "max_item_size",
    "extend_expiry_on_get",
    "extend_expiry_on_set",
    "sync_method",
    "persistent_storage",
    "current_size",
];

async fn get(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    let mut def = definition(ctx, &mut i).await?;
    i.done()?;
    let now = zato_common::time::utc_now_iso();
    let size = ctx
        .state
        .odb
        .cache_count(ctx.state.cluster_id, &name_of(&def), &now)
        .await?;
    def.insert("cache_id".into(), id_of(&def));
    def.insert("cache_type".into(), "builtin".into());
    def.insert("current_size".into(), size.into());
    Ok(Value::Object(def))
}

async fn clear(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    let def = definition(ctx, &mut i).await?;
    i.done()?;
    let out = op(ctx, &def, "clear", json!({})).await?;
    Ok(json!({"cache_id": id_of(&def), "count": out["count"]}))
}

/// An entry's value as a list shows it: text as it is, anything else as JSON, cut to
/// `max_chars` characters; and how many were cut.
fn shown(value: &Value, max_chars: usize) -> (String, usize) {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let total = text.chars().count();
    if total <= max_chars {
        return (text, 0);
    }
    (text.chars().take(max_chars).collect(), total - max_chars)
}

/// Upstream's query: words that a key must all contain (`k:` before one says so explicitly),
/// and `v:` words that its value must all contain.
fn matches(query: &str, key: &str, value: &str) -> bool {
    query.split_whitespace().all(|w| match w.split_once(':') {
        Some(("v", v)) => value.contains(v),
        Some(("k", k)) => key.contains(k),
        _ => key.contains(w),
    })
}

async fn entry_list(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    let def = definition(ctx, &mut i).await?;
    let query = i.opt_str("query").unwrap_or_default();
    let max_chars = match i.opt_int("max_chars")? {
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(MAX_CHARS),
        _ => MAX_CHARS,
    };
    let paginate = i.opt_bool("paginate")?.unwrap_or(false);
    let page = i.opt_int("cur_page")?.unwrap_or(1).max(1);
    let page_size = i.opt_int("page_size")?.unwrap_or(PAGE_SIZE).clamp(1, 1000);
    i.done()?;
    let listed = op(ctx, &def, "list", json!({"prefix": ""})).await?;
    let now = chrono::Utc::now().naive_utc();
    let server = format!("{} ({})", ctx.state.server_name, std::process::id());
    let mut out = Vec::new();
    let entries = listed["entries"].as_array().cloned().unwrap_or_default();
    let chosen = entries.iter().filter(|e| {
        let key = e["key"].as_str().unwrap_or_default();
        query.is_empty() || matches(&query, key, &shown(&e["value"], usize::MAX).0)
    });
    let skip = if paginate {
        usize::try_from((page - 1) * page_size).unwrap_or(usize::MAX)
    } else {
        0
    };
    let take = if paginate {
        usize::try_from(page_size).unwrap_or(usize::MAX)
    } else {
        usize::MAX
    };
    for (position, e) in chosen.enumerate().skip(skip).take(take) {
        let (value, chars_omitted) = shown(&e["value"], max_chars);
        let expiry = e["expiry"].as_f64().filter(|x| *x > 0.0);
        let left = e["expires_at"]
            .as_str()
            .and_then(|t| zato_common::schedule::parse_start_date(t).ok())
            .map(|t| (t - now).num_seconds());
        out.push(json!({
            "cache_id": id_of(&def),
            "key": e["key"],
            "position": position,
            "value": value,
            "chars_omitted": chars_omitted,
            "expiry_op": expiry.map(|x| x as i64),
            "expiry_left": left,
            "expires_at": e["expires_at"],
            "last_write": e["last_modified"],
            // Reads are not recorded: a read stays a read, never a write to the ODB.
            "hits": Value::Null,
            "last_read": Value::Null,
            "prev_read": Value::Null,
            "prev_write": Value::Null,
            "server": server,
        }));
    }
    Ok(Value::Array(out))
}

/// `create` and `update`: sets `key` (refused when it exists and `replace_existing` is not
/// set); `update` with an `old_key` that differs renames the entry.
async fn entry_set(ctx: &Ctx, input: Value, is_update: bool) -> ServiceResult {
    let mut i = Input::new(&input);
    let def = definition(ctx, &mut i).await?;
    let key = i.str("key");
    let raw = i.opt_str("value").unwrap_or_default();
    let replace = i.opt_bool("replace_existing")?.unwrap_or(false);
    let value_type = i.opt_str("value_data_type").unwrap_or_else(|| "str".into());
    let key_type = i.opt_str("key_data_type").unwrap_or_else(|| "str".into());
    let expiry = match input.get("expiry") {
        None | Some(Value::Null) => 0.0,
        Some(Value::String(s)) if s.trim().is_empty() => 0.0,
        Some(v) => v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|x: &f64| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| {
                ServiceError::bad_request(format!("`expiry` must be 0 or more seconds, not {v}"))
            })?,
    };
    let old_key = if is_update {
        i.opt_str("old_key")
    } else {
        None
    };
    i.done()?;
    if key_type != "str" && key_type != "int" {
        return Err(ServiceError::bad_request(format!(
            "`key_data_type` must be `str` or `int`, not `{key_type}`"
        )));
    }
    if key_type == "int" && key.trim().parse::<i64>().is_err() {
        return Err(ServiceError::bad_request(format!(
            "the key `{key}` is not an integer (key_data_type is int)"
        )));
    }
    let value = match value_type.as_str() {
        "int" => raw.trim().parse::<i64>().map(Value::from).map_err(|_| {
            ServiceError::bad_request(format!(
                "the value `{raw}` is not an integer (value_data_type is int)"
            ))
        })?,
        // Beyond upstream, for `zato cache set --bool-value`.
        "bool" => raw.trim().parse::<bool>().map(Value::from).map_err(|_| {
            ServiceError::bad_request(format!(
                "the value `{raw}` is not true or false (value_data_type is bool)"
            ))
        })?,
        "str" => Value::String(raw),
        other => {
            return Err(ServiceError::bad_request(format!(
                "`value_data_type` must be `str`, `int` or `bool`, not `{other}`"
            )));
        }
    };
    if !replace {
        let existing = op(ctx, &def, "get", json!({"key": key})).await?;
        if existing["found"] == true {
            return Err(ServiceError::bad_request(format!(
                "Key `{key}` already exists with a value of `{}`",
                shown(&existing["value"], usize::MAX).0
            )));
        }
    }
    op(
        ctx,
        &def,
        "set",
        json!({"key": key, "value": value, "expiry": expiry}),
    )
    .await?;
    if let Some(old) = old_key.filter(|o| *o != key) {
        op(ctx, &def, "delete", json!({"key": old})).await?;
    }
    Ok(json!({"cache_id": id_of(&def), "key": key}))
}

async fn entry_create(ctx: &Ctx, input: Value) -> ServiceResult {
    entry_set(ctx, input, false).await
}

async fn entry_update(ctx: &Ctx, input: Value) -> ServiceResult {
    entry_set(ctx, input, true).await
}

async fn entry_get(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    let def = definition(ctx, &mut i).await?;
    let key = i.str("key");
    i.done()?;
    let got = op(ctx, &def, "get", json!({"key": key})).await?;
    if got["found"] != true {
        return Ok(json!({"key_found": false}));
    }
    let value = &got["value"];
    let expiry = got["details"]["expiry"].as_f64().unwrap_or(0.0);
    Ok(json!({
        "key_found": true,
        "key": key,
        "value": shown(value, usize::MAX).0,
        "is_key_integer": false,
        "is_value_integer": value.is_i64() || value.is_u64(),
        "expiry": expiry,
    }))
}

async fn entry_delete(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    let def = definition(ctx, &mut i).await?;
    let key = i.str("key");
    i.done()?;
    let out = op(ctx, &def, "delete", json!({"key": key})).await?;
    Ok(json!({"key_found": out["found"] == true}))
}

pub fn services() -> Vec<Builtin> {
    vec![
        builtin!(
            "zato.cache.builtin.get",
            get,
            &io! {
                doc: "One built-in cache definition by `cache_id`, with its current number of entries.",
                required: &["cache_id"],
                optional: &["cluster_id"],
                output: DESCRIBED,
            }
        ),
        builtin!(
            "zato.cache.builtin.clear",
            clear,
            &io! {
                doc: "Deletes every entry of a built-in cache.",
                required: &["cache_id"],
                optional: &["cluster_id"],
                output: &["cache_id", "count"],
            }
        ),
        builtin!(
            "zato.cache.builtin.entry.get-list",
            entry_list,
            &io! {
                doc: "A built-in cache's live entries by key; `query` words must all be in the key (`v:word`: in the value), values cut to `max_chars` (30).",
                required: &["cache_id"],
                optional: &["cluster_id", "query", "max_chars", "paginate", "cur_page", "page_size"],
                output: &["cache_id", "key", "position", "value", "chars_omitted", "expiry_op", "expiry_left", "expires_at", "last_write", "hits", "last_read", "prev_read", "prev_write", "server"],
            }
        ),
        builtin!(
            "zato.cache.builtin.entry.create",
            entry_create,
            &io! {
                doc: "Sets a new entry (an existing key needs `replace_existing`); `expiry` in seconds, 0 for ever.",
                required: &["cache_id", "key"],
                optional: &["cluster_id", "value", "replace_existing", "key_data_type", "value_data_type", "expiry"],
                output: &["cache_id", "key"],
            }
        ),
        builtin!(
            "zato.cache.builtin.entry.update",
            entry_update,
            &io! {
                doc: "Sets an entry; an `old_key` other than `key` renames it.",
                required: &["cache_id", "key"],
                optional: &["cluster_id", "old_key", "value", "replace_existing", "key_data_type", "value_data_type", "expiry"],
                output: &["cache_id", "key"],
            }
        ),
        builtin!(
            "zato.cache.builtin.entry.get",
            entry_get,
            &io! {
                doc: "One entry of a built-in cache.",
                required: &["cache_id", "key"],
                optional: &["cluster_id"],
                output: &["key_found", "key", "value", "is_key_integer", "is_value_integer", "expiry"],
            }
        ),
        builtin!(
            "zato.cache.builtin.entry.delete",
            entry_delete,
            &io! {
                doc: "Deletes one entry of a built-in cache.",
                required: &["cache_id", "key"],
                optional: &["cluster_id"],
                output: &["key_found"],
            }
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_needs_every_word() {
        assert!(matches("user 42", "user.42.name", "x"));
        assert!(!matches("user 43", "user.42.name", "x"));
        assert!(matches("k:user v:Smith", "user.1", "John Smith"));
        assert!(!matches("v:Jones", "user.1", "John Smith"));
    }

    #[test]
    fn long_values_are_cut_by_characters() {
        assert_eq!(shown(&json!("żółw-żółw"), 4), ("żółw".into(), 5));
        assert_eq!(shown(&json!({"a": 1}), 30), (r#"{"a":1}"#.into(), 0));
    }
}
