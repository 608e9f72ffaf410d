//! Outgoing connections services use: REST/SOAP (`http_soap` rows with
//! `connection = outgoing`), SQL (`sql_pool` rows) and Redis (the `[kvdb]` section).
//! Each table is rebuilt when its own rows change; connections whose definition did not change
//! are kept, with their pools.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde_json::Value;
use zato_common::crypto::SecretKey;
use zato_common::odb::channels::HttpSoap;
use zato_common::odb::security::SecDef;
use zato_common::odb::sql_pool::SqlPool;

#[cfg(feature = "amqp")]
pub mod amqp;
pub mod cache;
pub mod error;
pub mod http;
pub mod kvdb;
pub mod sql;
pub mod sql_types;

pub use error::{ConnError, ConnErrorKind};
pub use http::{HttpCall, HttpConn, HttpReply};
pub use kvdb::{Kvdb, RedisReply};
pub use sql::{SqlConn, SqlReply, SqlSessions, SqlValue};

/// What a call through a [`ConnectorKind`] returns.
pub type ConnFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, ConnError>> + Send + 'a>>;

/// A kind of outgoing connection that Python reaches through one generic entry point
/// (`_zato_native.connector_call(kind, name, op, args, data)`): AMQP, and the transports after
/// it. Each keeps its own live table of connections.
pub trait ConnectorKind: Send + Sync {
    /// The kind's name in that entry point (`amqp`).
    fn name(&self) -> &'static str;
    /// Whether an active connection of that name exists.
    fn has(&self, conn: &str) -> bool;
    /// Runs `op` (`publish`, ...) on connection `conn` with JSON `args` and, for operations
    /// that send bytes, `data`.
    fn call<'a>(
        &'a self,
        conn: &'a str,
        op: &'a str,
        args: Value,
        data: Option<Vec<u8>>,
    ) -> ConnFuture<'a>;
}

/// The generic connector kinds of a server, by name.
pub type Connectors = FxHashMap<&'static str, Arc<dyn ConnectorKind>>;

/// Outgoing REST and SOAP connections by (transport, name): `plain_http` and `soap`
/// connections may share a name.
pub type HttpTable = FxHashMap<(String, String), Arc<HttpConn>>;
/// Outgoing SQL connections by name.
pub type SqlTable = FxHashMap<String, Arc<SqlConn>>;

/// Builds the REST/SOAP table from ODB rows, reusing `old`'s connections that did not change.
/// A connection that cannot be built is logged and left out (calls to it then fail with "no
/// such connection" and the log says why).
pub fn build_http(
    old: &HttpTable,
    rows: &[HttpSoap],
    secs: &[SecDef],
    key: &SecretKey,
) -> HttpTable {
    let mut http = FxHashMap::default();
    for row in rows
        .iter()
        .filter(|r| r.connection == "outgoing" && r.is_active)
    {
        let sec = row
            .security_id
            .and_then(|id| secs.iter().find(|s| s.id == id));
        let k = (row.transport.clone(), row.name.clone());
        let fingerprint = http::fingerprint(row, sec);
        if let Some(c) = old.get(&k).filter(|c| c.fingerprint == fingerprint) {
            http.insert(k, c.clone());
            continue;
        }
        match HttpConn::new(row, sec, key, fingerprint) {
            Ok(c) => {
                http.insert(k, Arc::new(c));
            }
            Err(e) => tracing::error!(conn = row.name, "outgoing connection not built: {e}"),
        }
    }
    http
}

/// Builds the SQL table from ODB rows, keeping `old`'s pools that did not change.
pub fn build_sql(old: &SqlTable, pools: &[SqlPool], key: &SecretKey) -> SqlTable {
    let mut sql = FxHashMap::default();
    for p in pools.iter().filter(|p| p.is_active) {
        let fingerprint = sql::fingerprint(p);
        if let Some(c) = old.get(&p.name).filter(|c| c.fingerprint == fingerprint) {
            sql.insert(p.name.clone(), c.clone());
            continue;
        }
        match SqlConn::new(p, key, fingerprint) {
            Ok(c) => {
                sql.insert(p.name.clone(), Arc::new(c));
            }
            Err(e) => tracing::error!(conn = p.name, "SQL connection not built: {e}"),
        }
    }
    sql
}
