//! `zato cache get|set|delete --path PATH KEY [VALUE]`: one entry of a built-in cache, as
//! upstream's CLI has it, through the admin API (`zato.cache.builtin.entry.*`) of the server
//! at PATH. Prints upstream's answers (`{"value": ...}`, `{"prev_value": ...}`) and exits with
//! upstream's 27 when the key is not there.
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::exit::{CliError, CliResult, INVALID_INPUT};
use crate::invoke::{call, print_json};

/// Upstream's exit code for a key not in the cache.
pub const CACHE_KEY_NOT_FOUND: u8 = 27;

#[derive(clap::Args, Debug)]
pub struct Target {
    /// A server's directory.
    #[arg(long)]
    pub path: PathBuf,
    /// The built-in cache (its definition's name).
    #[arg(long, default_value = "default")]
    pub cache: String,
}

/// How a value is read from the command line (upstream's flags; text when none is given).
#[derive(clap::Args, Debug, Default)]
pub struct ValueType {
    #[arg(long, conflicts_with_all = ["int_value", "bool_value"])]
    pub string_value: bool,
    #[arg(long, conflicts_with = "bool_value")]
    pub int_value: bool,
    #[arg(long)]
    pub bool_value: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum CacheCommand {
    /// Prints a key's value.
    ///
    /// Example: zato cache get --path /opt/zato/server1 customer.1
    #[command(verbatim_doc_comment)]
    Get {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        value_type: ValueType,
        key: String,
    },
    /// Sets a key's value (for ever) and prints the one it replaced.
    ///
    /// Example: zato cache set --path /opt/zato/server1 --int-value hits 42
    #[command(verbatim_doc_comment)]
    Set {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        value_type: ValueType,
        key: String,
        value: String,
    },
    /// Deletes a key and prints the value it had.
    ///
    /// Example: zato cache delete --path /opt/zato/server1 customer.1
    #[command(verbatim_doc_comment)]
    Delete {
        #[command(flatten)]
        target: Target,
        key: String,
    },
}

/// The id of the definition of `target.cache`.
async fn cache_id(target: &Target) -> CliResult<Value> {
    let list = call(&target.path, "zato.cache.builtin.get-list", &json!({})).await?;
    list.as_array()
        .into_iter()
        .flatten()
        .find(|d| d["name"] == target.cache.as_str())
        .map(|d| d["id"].clone())
        .ok_or_else(|| {
            CliError::new(
                INVALID_INPUT,
                format!(
                    "there is no built-in cache named `{}`; create it with zato.cache.builtin.create",
                    target.cache
                ),
            )
        })
}

/// The value of `key`, None when it is not there; typed as asked, else as stored.
async fn current(
    target: &Target,
    id: &Value,
    key: &str,
    t: &ValueType,
) -> CliResult<Option<Value>> {
    let got = call(
        &target.path,
        "zato.cache.builtin.entry.get",
        &json!({"cache_id": id, "key": key}),
    )
    .await?;
    if got["key_found"] != true {
        return Ok(None);
    }
    let text = got["value"].as_str().unwrap_or_default();
    let typed = if t.string_value {
        Value::from(text)
    } else if t.int_value || (!t.bool_value && got["is_value_integer"] == true) {
        text.parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(text))
    } else if t.bool_value {
        text.parse::<bool>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(text))
    } else {
        Value::from(text)
    };
    Ok(Some(typed))
}

fn not_found(key: &str, cache: &str) -> CliError {
    CliError::new(
        CACHE_KEY_NOT_FOUND,
        format!("key `{key}` is not in cache `{cache}`"),
    )
}

pub async fn run(cmd: CacheCommand) -> CliResult<()> {
    match cmd {
        CacheCommand::Get {
            target,
            value_type,
            key,
        } => {
            let id = cache_id(&target).await?;
            match current(&target, &id, &key, &value_type).await? {
                Some(v) => print_json(&json!({"value": v})),
                None => return Err(not_found(&key, &target.cache)),
            }
        }
        CacheCommand::Set {
            target,
            value_type,
            key,
            value,
        } => {
            // A typed value is read without its spaces; a text is stored as given.
            let (data_type, value) = if value_type.int_value {
                value.trim().parse::<i64>().map_err(|_| {
                    CliError::new(
                        INVALID_INPUT,
                        format!("`{value}` is not an integer (--int-value)"),
                    )
                })?;
                ("int", value.trim().to_string())
            } else if value_type.bool_value {
                value.trim().parse::<bool>().map_err(|_| {
                    CliError::new(
                        INVALID_INPUT,
                        format!("`{value}` is not true or false (--bool-value)"),
                    )
                })?;
                ("bool", value.trim().to_string())
            } else {
                ("str", value)
            };
            let id = cache_id(&target).await?;
            let prev = current(&target, &id, &key, &ValueType::default()).await?;
            call(
                &target.path,
                "zato.cache.builtin.entry.create",
                &json!({"cache_id": id, "key": key, "value": value,
                    "value_data_type": data_type, "replace_existing": true}),
            )
            .await?;
            print_json(&json!({"prev_value": prev}));
        }
        CacheCommand::Delete { target, key } => {
            let id = cache_id(&target).await?;
            let prev = current(&target, &id, &key, &ValueType::default()).await?;
            let out = call(
                &target.path,
                "zato.cache.builtin.entry.delete",
                &json!({"cache_id": id, "key": key}),
            )
            .await?;
            if out["key_found"] != true {
                return Err(not_found(&key, &target.cache));
            }
            print_json(&json!({"prev_value": prev}));
        }
    }
    Ok(())
}
