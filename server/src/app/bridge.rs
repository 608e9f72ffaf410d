//! Python's way into the server: the [`Bridge`] the Python package calls through.
use std::sync::{Arc, Weak};

use serde_json::Value;

use crate::connectors::{ConnError, HttpCall, HttpReply, RedisReply, SqlConn, SqlReply};
use crate::core::{Call, ErrorKind};
use crate::invoke::deferred::{self, AsyncCall};
use crate::invoke::{invoke, wait};
use crate::python::native::{AsyncOpts, Bridge, SqlCall};
use crate::state::ServerState;

/// Python's way into the server.
pub struct ServerBridge {
    pub state: Weak<ServerState>,
}

impl ServerBridge {
    fn state(&self) -> Result<Arc<ServerState>, ConnError> {
        self.state
            .upgrade()
            .ok_or_else(|| ConnError::closed("the server is shutting down"))
    }

    /// [`ServerBridge::state`] for the calls that answer with an error kind and message.
    fn live(&self) -> Result<Arc<ServerState>, (ErrorKind, String)> {
        self.state()
            .map_err(|e| (ErrorKind::Unavailable, e.message))
    }
}

fn sql_conn(state: &ServerState, name: &str) -> Result<Arc<SqlConn>, ConnError> {
    state.tables.sql.load().get(name).cloned().ok_or_else(|| {
        ConnError::missing(format!("no active outgoing SQL connection named `{name}`"))
    })
}

/// The `kv_data` key of the cluster-wide lock `name` (`self.lock`).
fn lock_key(name: &str) -> String {
    format!("zato.lock.{name}")
}

impl Bridge for ServerBridge {
    fn lock_take(&self, name: &str, holder: &str, ttl: i64) -> Result<bool, (ErrorKind, String)> {
        let state = self.live()?;
        let key = lock_key(name);
        wait(
            &state,
            state
                .odb
                .kv_lease(state.cluster_id, &key, holder, ttl.max(1)),
        )
        .map_err(|e| (ErrorKind::Unavailable, format!("lock `{name}`: {e}")))
    }

    fn crypto(&self, op: &str, data: &str) -> Result<String, (ErrorKind, String)> {
        let state = self.live()?;
        let key = &state.cfg.secret_key;
        match op {
            "encrypt" => Ok(key.encrypt(data)),
            "decrypt" => {
                let token = data
                    .strip_prefix(zato_common::crypto::ODB_SECRET_PREFIX)
                    .unwrap_or(data);
                key.decrypt(token).map_err(|e| {
                    (
                        ErrorKind::BadInput,
                        format!("the data cannot be decrypted with the cluster's key: {e}"),
                    )
                })
            }
            other => Err((
                ErrorKind::BadInput,
                format!("unknown crypto operation `{other}`"),
            )),
        }
    }

    fn cache(&self, op: &str, cache: &str, args: Value) -> Result<Value, (ErrorKind, String)> {
        use crate::connectors::cache::{CacheError, Limits, call};
        let state = self.live()?;
        let limits = Limits::of(&state.tables.kind_rows.load(), cache);
        let work = call(&state.odb, state.cluster_id, op, cache, limits, &args);
        wait(&state, work).map_err(|e| match e {
            CacheError::BadInput(m) => (ErrorKind::BadInput, m),
            e @ CacheError::Odb(_) => (ErrorKind::Unavailable, e.to_string()),
        })
    }

    fn lock_release(&self, name: &str, holder: &str) -> Result<(), (ErrorKind, String)> {
        let state = self.live()?;
        let key = lock_key(name);
        wait(
            &state,
            state.odb.kv_lease_release(state.cluster_id, &key, holder),
        )
        .map_err(|e| (ErrorKind::Unavailable, format!("lock `{name}`: {e}")))
    }

    fn service_usage(&self, service: &str) -> (u64, u64) {
        let Ok(state) = self.state() else {
            return (0, 99_999);
        };
        let slow = state
            .tables
            .watched
            .load()
            .get(service)
            .and_then(|w| w.slow_ms)
            .unwrap_or(99_999);
        (state.stats.usage(service), slow)
    }

    fn has_outgoing(&self, kind: &str, name: &str) -> bool {
        let Ok(state) = self.state() else {
            return false;
        };
        match kind {
            "sql" => state.tables.sql.load().contains_key(name),
            "redis" => state.kvdb.load().is_some(),
            kind if state.connectors.contains_key(kind) => {
                state.connectors.get(kind).is_some_and(|c| c.has(name))
            }
            transport => state
                .tables
                .outgoing_http
                .load()
                .contains_key(&(transport.to_string(), name.to_string())),
        }
    }

    fn outgoing_config(&self, kind: &str, name: &str) -> Option<Value> {
        let state = self.state().ok()?;
        match kind {
            "sql" => state.tables.sql.load().get(name).map(|c| c.config.clone()),
            transport => state
                .tables
                .outgoing_http
                .load()
                .get(&(transport.to_string(), name.to_string()))
                .map(|c| c.config.clone()),
        }
    }

    fn http(&self, transport: &str, name: &str, call: HttpCall) -> Result<HttpReply, ConnError> {
        let state = self.state()?;
        let conn = state
            .tables
            .outgoing_http
            .load()
            .get(&(transport.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| {
                let kind = if transport == "soap" { "SOAP" } else { "REST" };
                ConnError::missing(format!(
                    "no active outgoing {kind} connection named `{name}`"
                ))
            })?;
        let limit = state.cfg.main.max_response_size;
        wait(&state, conn.send(call, limit))
    }

    fn sql(&self, call: SqlCall) -> Result<SqlReply, ConnError> {
        let state = self.state()?;
        let Some(handle) = call.handle else {
            let conn = sql_conn(&state, &call.conn)?;
            return wait(&state, conn.execute(&call.sql, &call.params));
        };
        let mut session = state.sql_sessions.take(handle)?;
        let result = wait(&state, session.execute(&call.sql, &call.params));
        state.sql_sessions.put_back(handle, session);
        result
    }

    fn sql_begin(&self, conn: &str) -> Result<u64, ConnError> {
        let state = self.state()?;
        let c = sql_conn(&state, conn)?;
        let tx = wait(&state, c.begin())?;
        Ok(state.sql_sessions.open(tx))
    }

    fn sql_end(&self, handle: u64, commit: bool) -> Result<(), ConnError> {
        let state = self.state()?;
        let session = state.sql_sessions.take(handle)?;
        wait(&state, session.end(commit))
    }

    fn redis(&self, args: Vec<Vec<u8>>) -> Result<RedisReply, ConnError> {
        let state = self.state()?;
        let kvdb = state.kvdb.load_full().ok_or_else(|| {
            ConnError::missing(
                "no Redis is configured; add a [kvdb] section to server.conf".to_string(),
            )
        })?;
        wait(&state, kvdb.command(args))
    }

    fn connector(
        &self,
        kind: &str,
        conn: &str,
        op: &str,
        args: Value,
        data: Option<Vec<u8>>,
    ) -> Result<Value, ConnError> {
        let state = self.state()?;
        let connectors = state.connectors.get(kind).cloned().ok_or_else(|| {
            ConnError::missing(format!(
                "this server has no `{kind}` connections (is it built with that feature?)"
            ))
        })?;
        wait(&state, connectors.call(conn, op, args, data))
    }

    fn invoke(
        &self,
        name: &str,
        payload: Value,
        cid: &str,
        channel: &str,
    ) -> Result<Value, (ErrorKind, String)> {
        let state = self.live()?;
        let call = Call::internal(name, cid, payload, channel);
        wait(&state, invoke(&state, call))
            .map(|o| o.body.to_value())
            .map_err(|e| (e.kind, e.message))
    }

    fn invoke_async(
        &self,
        targets: Vec<(String, Value)>,
        opts: AsyncOpts,
    ) -> Result<Vec<String>, (ErrorKind, String)> {
        let state = self.live()?;
        if let Some((name, _)) = targets.iter().find(|(n, _)| !state.service_exists(n)) {
            return Err((ErrorKind::NotFound, format!("Service `{name}` not found")));
        }
        let calls = targets
            .into_iter()
            .map(|(service, payload)| AsyncCall {
                service,
                payload,
                channel: opts.channel.clone(),
                callback: opts.callback.clone(),
                in_reply_to: None,
                expiration: Some(opts.expiration),
                cid: (!opts.cid.is_empty()).then(|| opts.cid.clone()),
                pattern: opts.pattern.clone(),
            })
            .collect();
        wait(&state, deferred::submit_all(&state, calls)).map_err(|e| (e.kind, e.message))
    }
}
