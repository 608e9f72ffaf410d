//! Asynchronous requests on Redis (`[kvdb]`): one stream per cluster (`zato:async:<cluster>`)
//! read through one consumer group, each server process a consumer. A request is stored with
//! XADD before its caller gets the CID; a process takes new ones with XREADGROUP (blocking, so
//! it hears of a new one at once) and keeps those it holds with XCLAIM every half second (which
//! resets their idle time); one whose holder died goes idle and is taken by another process
//! with XAUTOCLAIM (looked for every half second) once idle for a lease's length: at least
//! once. A request that ran is
//! acknowledged and deleted (XACK, XDEL), so it is never taken again. The same contract as the
//! ODB's `async_request` table (`odb::async_requests`).
use std::time::Duration;

use redis::streams::{
    StreamAutoClaimReply, StreamInfoConsumersReply, StreamPendingCountReply, StreamReadReply,
};
use thiserror::Error;

use crate::config::KvdbConfig;
use crate::kvdb::{Lazy, LazyError};
use crate::odb::async_requests::AsyncRequest;

const GROUP: &str = "zato";
/// The field an entry keeps its request in (JSON).
const FIELD: &str = "r";
const TIMEOUT: Duration = Duration::from_secs(10);
/// Bits of an entry id's sequence number in its `i64` form (the rest is its milliseconds).
const SEQ_BITS: u32 = 20;

#[derive(Debug, Error)]
pub enum QueueError {
    #[error("Redis at {addr}: {source}")]
    Redis {
        addr: String,
        source: redis::RedisError,
    },
    #[error("Redis at {addr} did not answer within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error("an async request in Redis cannot be read: {0}")]
    Bad(String),
}

pub type QueueResult<T> = Result<T, QueueError>;

/// A stream entry id (`1733550000000-3`) as the `i64` the rest of the server uses for a
/// request's id: milliseconds above, sequence number in the low 20 bits.
pub fn id_to_i64(id: &str) -> Option<i64> {
    let (ms, seq) = id.split_once('-')?;
    let (ms, seq): (i64, i64) = (ms.parse().ok()?, seq.parse().ok()?);
    (seq < 1 << SEQ_BITS && ms < 1 << (63 - SEQ_BITS)).then_some(ms << SEQ_BITS | seq)
}

pub fn id_from_i64(id: i64) -> String {
    format!("{}-{}", id >> SEQ_BITS, id & ((1 << SEQ_BITS) - 1))
}

pub struct RedisQueue {
    addr: String,
    key: String,
    /// How long an entry may go unrenewed before another process takes it.
    lease: Duration,
    /// Commands that answer at once.
    conn: Lazy,
    /// The blocking read, on a connection of its own (it would hold up the others).
    reader: Lazy,
}

impl RedisQueue {
    /// The queue of `cluster` (its name: unique, unlike ids, across ODBs sharing a Redis).
    pub fn new(cfg: &KvdbConfig, cluster: &str, lease: Duration) -> QueueResult<Self> {
        let addr = format!("{}:{}", cfg.host, cfg.port);
        let client = crate::kvdb::client(cfg).map_err(|e| match e {
            crate::kvdb::KvdbError::Redis { addr, source } => QueueError::Redis { addr, source },
            other => QueueError::Bad(other.to_string()),
        })?;
        Ok(Self {
            conn: Lazy::new(client.clone(), TIMEOUT),
            reader: Lazy::new(client, TIMEOUT),
            addr,
            key: format!("zato:async:{cluster}"),
            lease,
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    fn err(&self, e: LazyError) -> QueueError {
        match e {
            LazyError::Timeout => QueueError::Timeout {
                addr: self.addr.clone(),
                timeout: TIMEOUT,
            },
            LazyError::Redis(source) => QueueError::Redis {
                addr: self.addr.clone(),
                source,
            },
        }
    }

    /// Runs `cmd` on `conn` within `timeout`.
    async fn run<T: redis::FromRedisValue>(
        &self,
        conn: &Lazy,
        cmd: &redis::Cmd,
        timeout: Duration,
    ) -> QueueResult<T> {
        conn.run(timeout, |mut c| async move {
            cmd.query_async::<T>(&mut c).await
        })
        .await
        .map_err(|e| self.err(e))
    }

    /// Makes the stream and its group unless they exist.
    pub async fn prepare(&self) -> QueueResult<()> {
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg("CREATE")
            .arg(&self.key)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM");
        match self.run::<()>(&self.conn, &cmd, TIMEOUT).await {
            Err(QueueError::Redis { source, .. }) if source.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// Stores `reqs` (their `id`s are ignored), all or none (MULTI/EXEC when more than one), in
    /// one round trip; returns their ids in order.
    pub async fn put_all(&self, reqs: &[AsyncRequest]) -> QueueResult<Vec<i64>> {
        let mut pipe = redis::pipe();
        if reqs.len() > 1 {
            pipe.atomic();
        }
        for req in reqs {
            let body = serde_json::to_string(req).map_err(|e| QueueError::Bad(e.to_string()))?;
            pipe.cmd("XADD")
                .arg(&self.key)
                .arg("*")
                .arg(FIELD)
                .arg(body);
        }
        let pipe = &pipe;
        let ids: Vec<String> = self
            .conn
            .run(
                TIMEOUT,
                |mut c| async move { pipe.query_async(&mut c).await },
            )
            .await
            .map_err(|e| self.err(e))?;
        ids.iter()
            .map(|id| {
                id_to_i64(id).ok_or_else(|| QueueError::Bad(format!("unexpected entry id `{id}`")))
            })
            .collect()
    }

    fn requests(&self, entries: Vec<redis::streams::StreamId>) -> Vec<AsyncRequest> {
        entries
            .into_iter()
            .filter_map(|e| {
                let id = id_to_i64(&e.id)?;
                let parsed = match e.map.get(FIELD) {
                    Some(redis::Value::BulkString(b)) => {
                        serde_json::from_slice::<AsyncRequest>(b).map_err(|err| err.to_string())
                    }
                    _ => Err("no request field".into()),
                };
                match parsed {
                    Ok(mut r) => {
                        r.id = id;
                        Some(r)
                    }
                    Err(why) => {
                        tracing::error!("dropping async request {} from Redis: {why}", e.id);
                        None
                    }
                }
            })
            .collect()
    }

    /// Up to `max` requests whose holder stopped renewing them for a lease's length, now
    /// `holder`'s.
    pub async fn reclaim(&self, holder: &str, max: usize) -> QueueResult<Vec<AsyncRequest>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(&self.key)
            .arg(GROUP)
            .arg(holder)
            .arg(u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX))
            .arg("0-0")
            .arg("COUNT")
            .arg(max);
        let lapsed: StreamAutoClaimReply = self.run(&self.conn, &cmd, TIMEOUT).await?;
        Ok(self.requests(lapsed.claimed))
    }

    /// Up to `max` new requests for `holder`, waiting up to `block` for one when there is
    /// none.
    pub async fn take(
        &self,
        holder: &str,
        max: usize,
        block: Duration,
    ) -> QueueResult<Vec<AsyncRequest>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(holder)
            .arg("COUNT")
            .arg(max);
        if !block.is_zero() {
            cmd.arg("BLOCK")
                .arg(u64::try_from(block.as_millis()).unwrap_or(1000));
        }
        cmd.arg("STREAMS").arg(&self.key).arg(">");
        let read: Option<StreamReadReply> = self.run(&self.reader, &cmd, TIMEOUT + block).await?;
        Ok(read
            .map(|r| r.keys)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|k| self.requests(k.ids))
            .collect())
    }

    /// Renews every request `holder` holds (resets their idle time); returns how many.
    pub async fn renew(&self, holder: &str) -> QueueResult<usize> {
        let mut renewed = 0;
        let mut from = "-".to_string();
        loop {
            let mut cmd = redis::cmd("XPENDING");
            cmd.arg(&self.key)
                .arg(GROUP)
                .arg(&from)
                .arg("+")
                .arg(1000)
                .arg(holder);
            let pending: StreamPendingCountReply = self.run(&self.conn, &cmd, TIMEOUT).await?;
            let Some(last) = pending.ids.last().map(|p| p.id.clone()) else {
                return Ok(renewed);
            };
            let mut cmd = redis::cmd("XCLAIM");
            cmd.arg(&self.key).arg(GROUP).arg(holder).arg(0);
            for p in &pending.ids {
                cmd.arg(&p.id);
            }
            cmd.arg("JUSTID");
            let ids: Vec<String> = self.run(&self.conn, &cmd, TIMEOUT).await?;
            renewed += ids.len();
            if pending.ids.len() < 1000 {
                return Ok(renewed);
            }
            from = format!("({last}");
        }
    }

    /// Acknowledges and deletes requests that ran, both or neither (MULTI/EXEC): an entry
    /// acknowledged but left would stay in the stream for ever, one deleted but not
    /// acknowledged would be taken again.
    pub async fn done(&self, ids: &[i64]) -> QueueResult<()> {
        for chunk in ids.chunks(1000) {
            let ids: Vec<String> = chunk.iter().map(|i| id_from_i64(*i)).collect();
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("XACK")
                .arg(&self.key)
                .arg(GROUP)
                .arg(&ids)
                .ignore()
                .cmd("XDEL")
                .arg(&self.key)
                .arg(&ids)
                .ignore();
            let pipe = &pipe;
            self.conn
                .run(TIMEOUT, |mut c| async move {
                    pipe.query_async::<()>(&mut c).await
                })
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Removes from the group the consumers other than `holder` that hold nothing and were
    /// idle for `idle` or longer: processes that ended (a live one reads every half second),
    /// which the group would otherwise keep for ever, one per server start. A consumer that
    /// still holds requests is kept until another process has taken them over (deleting it
    /// would drop them). Returns how many went.
    pub async fn forget_idle(&self, holder: &str, idle: Duration) -> QueueResult<usize> {
        let mut cmd = redis::cmd("XINFO");
        cmd.arg("CONSUMERS").arg(&self.key).arg(GROUP);
        let info: StreamInfoConsumersReply = self.run(&self.conn, &cmd, TIMEOUT).await?;
        let idle_ms = usize::try_from(idle.as_millis()).unwrap_or(usize::MAX);
        let mut gone = 0;
        for c in info
            .consumers
            .iter()
            .filter(|c| c.name != holder && c.pending == 0 && c.idle >= idle_ms)
        {
            let mut cmd = redis::cmd("XGROUP");
            cmd.arg("DELCONSUMER")
                .arg(&self.key)
                .arg(GROUP)
                .arg(&c.name);
            let _: i64 = self.run(&self.conn, &cmd, TIMEOUT).await?;
            gone += 1;
        }
        Ok(gone)
    }

    /// Requests stored and not yet done.
    pub async fn len(&self) -> QueueResult<i64> {
        let mut cmd = redis::cmd("XLEN");
        cmd.arg(&self.key);
        self.run(&self.conn, &cmd, TIMEOUT).await
    }

    /// Removes the stream and its group (tests clean up with it).
    pub async fn destroy(&self) -> QueueResult<()> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(&self.key);
        self.run(&self.conn, &cmd, TIMEOUT).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_round_trip() {
        for id in ["1733550000000-0", "1733550000000-1048575", "0-1"] {
            let n = id_to_i64(id).unwrap();
            assert_eq!(id_from_i64(n), id);
        }
        assert!(id_to_i64("1733550000000-1048576").is_none());
        assert!(id_to_i64("x-1").is_none());
        assert!(id_to_i64("17").is_none());
    }
}
