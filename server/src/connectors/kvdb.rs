//! `self.kvdb.conn`: Redis commands over one multiplexed connection, opened on first use and
//! re-opened after a connection failure.
use std::time::Duration;

use zato_common::config::KvdbConfig;
use zato_common::kvdb::{Lazy, LazyError};

use super::error::{ConnError, ConnErrorKind};

/// A Redis reply as Python will see it.
#[derive(Debug, Clone, PartialEq)]
pub enum RedisReply {
    Nil,
    Int(i64),
    Bytes(Vec<u8>),
    /// Status replies (`OK`, `PONG`).
    Status(String),
    Float(f64),
    Bool(bool),
    List(Vec<RedisReply>),
}

pub struct Kvdb {
    /// What the connection was made from (the password included).
    pub cfg: KvdbConfig,
    addr: String,
    conn: Lazy,
}

const TIMEOUT: Duration = Duration::from_secs(10);

impl Kvdb {
    /// None when no `[kvdb]` host is configured.
    pub fn new(cfg: &KvdbConfig) -> Result<Option<Self>, ConnError> {
        if !cfg.is_configured() {
            return Ok(None);
        }
        let client =
            zato_common::kvdb::client(cfg).map_err(|e| ConnError::config(e.to_string()))?;
        Ok(Some(Self {
            cfg: cfg.clone(),
            addr: format!("{}:{}", cfg.host, cfg.port),
            conn: Lazy::new(client, TIMEOUT),
        }))
    }

    fn timed_out(&self) -> ConnError {
        ConnError::new(
            ConnErrorKind::Timeout,
            format!("Redis at {} did not answer within {TIMEOUT:?}", self.addr),
        )
    }

    fn failed(&self, e: &redis::RedisError) -> ConnError {
        let mut err = ConnError::from_redis(e);
        err.message = format!("Redis at {}: {}", self.addr, err.message);
        err
    }

    /// Runs one command (`args[0]` is its name).
    pub async fn command(&self, args: Vec<Vec<u8>>) -> Result<RedisReply, ConnError> {
        let Some(name) = args.first() else {
            return Err(ConnError::input("no Redis command given"));
        };
        let mut cmd = redis::cmd(&String::from_utf8_lossy(name));
        for a in &args[1..] {
            cmd.arg(a.as_slice());
        }
        let cmd = &cmd;
        match self
            .conn
            .run(TIMEOUT, |mut c| async move {
                cmd.query_async::<redis::Value>(&mut c).await
            })
            .await
        {
            Ok(v) => Ok(convert(v)),
            Err(LazyError::Timeout) => Err(self.timed_out()),
            Err(LazyError::Redis(e)) => Err(self.failed(&e)),
        }
    }
}

fn convert(v: redis::Value) -> RedisReply {
    use redis::Value as V;
    match v {
        V::Nil => RedisReply::Nil,
        V::Int(i) => RedisReply::Int(i),
        V::BulkString(b) => RedisReply::Bytes(b),
        V::SimpleString(s) => RedisReply::Status(s),
        V::Okay => RedisReply::Status("OK".into()),
        V::Double(d) => RedisReply::Float(d),
        V::Boolean(b) => RedisReply::Bool(b),
        V::Array(items) | V::Set(items) => {
            RedisReply::List(items.into_iter().map(convert).collect())
        }
        V::Map(pairs) => RedisReply::List(
            pairs
                .into_iter()
                .flat_map(|(k, v)| [convert(k), convert(v)])
                .collect(),
        ),
        V::VerbatimString { text, .. } => RedisReply::Bytes(text.into_bytes()),
        V::BigNumber(n) => RedisReply::Bytes(n),
        V::Attribute { data, .. } => convert(*data),
        V::Push { data, .. } => RedisReply::List(data.into_iter().map(convert).collect()),
        V::ServerError(e) => RedisReply::Status(format!("{e:?}")),
        #[allow(unreachable_patterns)]
        _ => RedisReply::Nil,
    }
}
