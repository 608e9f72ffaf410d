//! Invoking a service by name, whatever it is written in: the one path used by channels,
//! admin invoke, `self.invoke` from Python and async invocations.
use std::sync::{Arc, Weak};

use serde_json::{Value, json};

use crate::outgoing::{HttpCall, HttpReply, RedisReply, SqlConn, SqlReply};
use crate::python::native::{Bridge, OutError, SqlCall};
use crate::services::{Ctx, Output, ServiceError};
use crate::state::ServerState;

/// Upstream's ChannelInfo for a call: the JSON form plus, once a Python service has seen it,
/// the Python dict made from it (reused, as channels are long-lived).
#[derive(Debug, Default)]
pub struct ChannelInfo {
    pub value: Value,
    pub py: std::sync::OnceLock<pyo3::Py<pyo3::PyAny>>,
}

impl ChannelInfo {
    pub fn new(value: Value) -> Arc<Self> {
        Arc::new(Self {
            value,
            py: std::sync::OnceLock::new(),
        })
    }
}

/// What a Python service sees as `self.request.http`.
#[derive(Debug, Default)]
pub struct HttpReq {
    pub method: String,
    pub path: String,
    /// URL path params.
    pub params: Vec<(String, String)>,
    /// The raw query string (parsed when handed to Python).
    pub query: String,
    /// Form fields of `form` channels.
    pub post: Vec<(String, String)>,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
}

/// One invocation.
pub struct Call {
    pub name: String,
    pub cid: String,
    pub payload: Value,
    pub raw_request: String,
    pub data_format: String,
    /// Upstream's ChannelInfo (`id name type data_format ...`).
    pub channel: Arc<ChannelInfo>,
    /// None outside HTTP.
    pub http: Option<HttpReq>,
    /// Upstream's per-call `self.environ`.
    pub environ: Value,
    /// Who called over a channel, for throttling.
    pub client: Option<Client>,
}

/// The caller of a channel: the peer's address and the `X-Forwarded-For` it sent, kept as
/// they came (no work per request); [`Client::key`] makes them one string when needed.
#[derive(Debug, Clone)]
pub struct Client {
    pub peer: std::net::IpAddr,
    pub forwarded_for: Option<hyper::header::HeaderValue>,
}

impl Client {
    /// The peer's address and, when a proxy added one, the last `X-Forwarded-For` entry (our
    /// load balancer appends the client it saw). A client talking to the server directly can
    /// invent the latter, which only ever splits its own budget further.
    pub fn key(&self) -> String {
        let forwarded = self
            .forwarded_for
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|f| !f.is_empty());
        match forwarded {
            Some(f) => format!("{}|{f}", self.peer),
            None => self.peer.to_string(),
        }
    }
}

impl Call {
    /// An in-process call with no HTTP request behind it.
    pub fn internal(name: &str, cid: &str, payload: Value, channel_type: &str) -> Self {
        Self {
            name: name.to_string(),
            cid: cid.to_string(),
            payload,
            raw_request: String::new(),
            data_format: "dict".into(),
            channel: ChannelInfo::new(
                json!({"id": null, "name": channel_type, "type": channel_type, "data_format": "dict", "is_internal": true}),
            ),
            http: None,
            environ: json!({}),
            client: None,
        }
    }
}

pub async fn invoke(state: &Arc<ServerState>, call: Call) -> Result<Output, ServiceError> {
    if state.inactive.load().contains(&call.name) {
        return Err(ServiceError::bad_request(format!(
            "Service `{}` is not active",
            call.name
        )));
    }
    if let Some(svc) = state.builtins.get(call.name.as_str()) {
        let ctx = Ctx {
            state: state.clone(),
            cid: call.cid.clone(),
            client: call.client,
        };
        let timeout = state.service_timeout();
        return match tokio::time::timeout(timeout, svc.handle(&ctx, call.payload)).await {
            Ok(r) => r.map(Output::json),
            Err(_) => Err(ServiceError::timeout(&call.name, timeout)),
        };
    }
    if state.python.has(&call.name) {
        return state.python.invoke(call, state.service_timeout()).await;
    }
    Err(ServiceError::not_found(&call.name))
}

/// Starts `call` in the background; failures are logged with the call's CID.
pub fn spawn(state: &Arc<ServerState>, call: Call) {
    let st = state.clone();
    state.rt.spawn(async move {
        let (name, cid) = (call.name.clone(), call.cid.clone());
        if let Err(e) = invoke(&st, call).await {
            tracing::error!(
                cid,
                service = name,
                "async invocation failed: {}",
                e.message
            );
            if let Some(tb) = e.traceback {
                tracing::error!(cid, service = name, "{tb}");
            }
        }
    });
}

/// Runs a future to its end from a thread that runs Python: an interpreter thread of the pool
/// lane, or a runtime thread of the inline lane (where blocking needs `block_in_place`).
pub fn wait<F: std::future::Future>(state: &ServerState, fut: F) -> F::Output {
    if tokio::runtime::Handle::try_current().is_ok() {
        state.python.demote_inline();
        tokio::task::block_in_place(|| state.rt.block_on(fut))
    } else {
        state.rt.block_on(fut)
    }
}

/// Python's way into the server.
pub struct ServerBridge {
    pub state: Weak<ServerState>,
}

impl ServerBridge {
    fn state(&self) -> Result<Arc<ServerState>, String> {
        self.state
            .upgrade()
            .ok_or_else(|| "the server is shutting down".to_string())
    }
}

fn sql_conn(state: &ServerState, name: &str) -> Result<Arc<SqlConn>, OutError> {
    state.outgoing.load().sql.get(name).cloned().ok_or_else(|| {
        OutError::Missing(format!("no active outgoing SQL connection named `{name}`"))
    })
}

impl Bridge for ServerBridge {
    fn has_outgoing(&self, kind: &str, name: &str) -> bool {
        let Ok(state) = self.state() else {
            return false;
        };
        let out = state.outgoing.load();
        match kind {
            "sql" => out.sql.contains_key(name),
            "redis" => state.kvdb.load().is_some(),
            transport => out
                .http
                .contains_key(&(transport.to_string(), name.to_string())),
        }
    }

    fn http(&self, transport: &str, name: &str, call: HttpCall) -> Result<HttpReply, OutError> {
        let state = self.state().map_err(OutError::Failed)?;
        let conn = state
            .outgoing
            .load()
            .http
            .get(&(transport.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| {
                let kind = if transport == "soap" { "SOAP" } else { "REST" };
                OutError::Missing(format!(
                    "no active outgoing {kind} connection named `{name}`"
                ))
            })?;
        let limit = state.cfg.main.max_response_size;
        wait(&state, conn.send(call, limit)).map_err(OutError::Failed)
    }

    fn sql(&self, call: SqlCall) -> Result<SqlReply, OutError> {
        let state = self.state().map_err(OutError::Failed)?;
        let Some(handle) = call.handle else {
            let conn = sql_conn(&state, &call.conn)?;
            return wait(&state, conn.execute(&call.sql, &call.params)).map_err(OutError::Failed);
        };
        let mut session = state.sql_sessions.take(handle).map_err(OutError::Failed)?;
        let result = wait(&state, session.execute(&call.sql, &call.params));
        state.sql_sessions.put_back(handle, session);
        result.map_err(OutError::Failed)
    }

    fn sql_begin(&self, conn: &str) -> Result<u64, OutError> {
        let state = self.state().map_err(OutError::Failed)?;
        let c = sql_conn(&state, conn)?;
        let tx = wait(&state, c.begin()).map_err(OutError::Failed)?;
        Ok(state.sql_sessions.open(tx))
    }

    fn sql_end(&self, handle: u64, commit: bool) -> Result<(), OutError> {
        let state = self.state().map_err(OutError::Failed)?;
        let session = state.sql_sessions.take(handle).map_err(OutError::Failed)?;
        wait(&state, session.end(commit)).map_err(OutError::Failed)
    }

    fn redis(&self, args: Vec<Vec<u8>>) -> Result<RedisReply, OutError> {
        let state = self.state().map_err(OutError::Failed)?;
        let kvdb = state.kvdb.load_full().ok_or_else(|| {
            OutError::Missing(
                "no Redis is configured; add a [kvdb] section to server.conf".to_string(),
            )
        })?;
        wait(&state, kvdb.command(args)).map_err(OutError::Failed)
    }

    fn invoke(
        &self,
        name: &str,
        payload: Value,
        cid: &str,
        channel: &str,
    ) -> Result<Value, (u16, String)> {
        let state = self.state().map_err(|e| (503, e))?;
        let call = Call::internal(name, cid, payload, channel);
        wait(&state, invoke(&state, call))
            .map(|o| o.body.to_value())
            .map_err(|e| (e.status, e.message))
    }

    fn invoke_async(
        &self,
        name: &str,
        payload: Value,
        _cid: &str,
        channel: &str,
    ) -> Result<String, String> {
        let state = self.state()?;
        if !state.service_exists(name) {
            return Err(format!("Service `{name}` not found"));
        }
        let cid = zato_common::new_cid();
        spawn(&state, Call::internal(name, &cid, payload, channel));
        Ok(cid)
    }
}
