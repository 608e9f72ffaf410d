//! `zato.kvdb.remote-command.execute`: the web admin's Redis console, as upstream's. One
//! command line, split as a shell would, run on the cluster's Redis connection; the reply
//! rendered as `redis-cli` shows it. Commands that would block or take over the shared
//! connection are refused.
use serde_json::{Value, json};

use super::{Builtin, Ctx, Input, ServiceError, ServiceResult, check_cluster};
use crate::connectors::RedisReply;
use crate::{builtin, io};

/// Commands the console does not run: they block the connection every server call shares,
/// change its state (database, protocol, subscriptions) or stop Redis.
const REFUSED: &[&str] = &[
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "SSUBSCRIBE",
    "UNSUBSCRIBE",
    "PUNSUBSCRIBE",
    "SUNSUBSCRIBE",
    "MONITOR",
    "SYNC",
    "PSYNC",
    "SHUTDOWN",
    "QUIT",
    "RESET",
    "SELECT",
    "HELLO",
    "AUTH",
    "MULTI",
    "EXEC",
    "DISCARD",
    "WATCH",
    "UNWATCH",
    "BLPOP",
    "BRPOP",
    "BLMOVE",
    "BRPOPLPUSH",
    "BLMPOP",
    "BZPOPMIN",
    "BZPOPMAX",
    "BZMPOP",
    "WAIT",
    "WAITAOF",
    "DEBUG",
    "REPLICAOF",
    "SLAVEOF",
    "FAILOVER",
    "CLIENT",
];

/// The reply as redis-cli prints it.
pub fn render(reply: &RedisReply, indent: usize) -> String {
    match reply {
        RedisReply::Nil => "(nil)".into(),
        RedisReply::Int(n) => format!("(integer) {n}"),
        RedisReply::Float(f) => format!("(double) {f}"),
        RedisReply::Bool(b) => format!("({})", if *b { "true" } else { "false" }),
        RedisReply::Status(s) => s.clone(),
        RedisReply::Bytes(b) => format!("{:?}", String::from_utf8_lossy(b)),
        RedisReply::List(items) if items.is_empty() => "(empty array)".into(),
        RedisReply::List(items) => {
            let width = items.len().to_string().len();
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let pad = if i == 0 {
                        String::new()
                    } else {
                        " ".repeat(indent)
                    };
                    let inner = render(item, indent + width + 2);
                    format!("{pad}{:>width$}) {inner}", i + 1)
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

/// The words of a command line, or why it is not one.
pub fn words(line: &str) -> Result<Vec<String>, ServiceError> {
    let words = shlex::split(line.trim()).ok_or_else(|| {
        ServiceError::bad_request("the command has an unclosed quote; close it or escape it")
    })?;
    let Some(first) = words.first() else {
        return Err(ServiceError::bad_request("No command sent"));
    };
    let name = first.to_ascii_uppercase();
    let blocking_xread = matches!(name.as_str(), "XREAD" | "XREADGROUP")
        && words.iter().any(|w| w.eq_ignore_ascii_case("BLOCK"));
    if REFUSED.contains(&name.as_str()) || blocking_xread {
        return Err(ServiceError::bad_request(format!(
            "`{name}` is not run from the console: it would block or take over the connection every server shares"
        )));
    }
    Ok(words)
}

async fn execute(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let line = i.str("command");
    i.done()?;
    let words = words(&line)?;
    let kvdb = ctx.state.kvdb.load_full().ok_or_else(|| {
        ServiceError::bad_request(
            "no Redis is configured ([kvdb] in server.conf, or zato.outgoing.redis.edit)",
        )
    })?;
    let reply = kvdb
        .command(words.into_iter().map(String::into_bytes).collect())
        .await
        .map_err(|e| ServiceError::new(crate::core::ErrorKind::Upstream, e.message))?;
    Ok(json!({"result": render(&reply, 0)}))
}

pub fn services() -> Vec<Builtin> {
    vec![builtin!(
        "zato.kvdb.remote-command.execute",
        execute,
        &io! {
            doc: "Runs one Redis command line on the cluster's Redis (the web admin's console); the reply as redis-cli shows it. Blocking and connection-changing commands are refused.",
            required: &["command"],
            output: &["result"],
        }
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_and_replies() {
        assert_eq!(words("SET k 'a b'").unwrap(), vec!["SET", "k", "a b"]);
        assert!(words("get \"k").is_err());
        assert!(words("   ").is_err());
        assert!(words("subscribe x").is_err());
        assert!(words("XREAD BLOCK 0 STREAMS s $").is_err());
        assert!(words("XREAD COUNT 1 STREAMS s 0").is_ok());
        let r = RedisReply::List(vec![
            RedisReply::Bytes(b"a".to_vec()),
            RedisReply::List(vec![RedisReply::Int(1), RedisReply::Nil]),
        ]);
        assert_eq!(render(&r, 0), "1) \"a\"\n2) 1) (integer) 1\n   2) (nil)");
        assert_eq!(render(&RedisReply::List(vec![]), 0), "(empty array)");
    }
}
