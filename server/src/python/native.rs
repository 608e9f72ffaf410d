//! `_zato_native`: the Rust functions the `zato` Python package calls (logging, invoking
//! built-in services, async invocations, outgoing connections). They reach the server through
//! a [`Bridge`]; every call that waits releases the interpreter first.
use std::sync::{Arc, OnceLock};

use pyo3::exceptions::{
    PyConnectionError, PyConnectionRefusedError, PyLookupError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use serde_json::Value;

use super::conv::{from_py, to_py};
use crate::connectors::sql::Kind;
use crate::connectors::{
    ConnError, ConnErrorKind, HttpCall, HttpReply, RedisReply, SqlReply, SqlValue,
};

/// A connector's error as the Python exception the wrappers expect: LookupError for a missing
/// connection, ConnectionError (ConnectionRefusedError for a refusal) for everything else,
/// which the wrappers turn into OutgoingConnectionError; the kind is on the exception as
/// `kind` (`timeout`, `auth`, `input`...).
fn py_conn_error(e: ConnError) -> PyErr {
    let err = match e.kind {
        ConnErrorKind::Missing => PyLookupError::new_err(e.message),
        ConnErrorKind::Refused => PyConnectionRefusedError::new_err(e.message),
        _ => PyConnectionError::new_err(e.message),
    };
    Python::attach(|py| {
        let _ = err.value(py).setattr("kind", e.kind.as_str());
    });
    err
}

/// A SQL statement from Python: outside of a session (`handle` None) or inside one.
pub struct SqlCall {
    pub conn: String,
    pub handle: Option<u64>,
    pub sql: String,
    pub params: Value,
}

/// `invoke_async`'s options, as upstream's keyword arguments.
pub struct AsyncOpts {
    /// The channel type the service sees.
    pub channel: String,
    /// Services invoked with the response.
    pub callback: Vec<String>,
    /// Seconds within which it must start (0: no limit).
    pub expiration: f64,
    /// The CID to run it under; a new one when empty.
    pub cid: String,
    /// The context of a parallel pattern's target (`invoke::patterns`).
    pub pattern: Option<Value>,
}

/// What Python may ask of the server. Implemented by the server; set once at start-up.
pub trait Bridge: Send + Sync {
    /// Synchronously runs a service that is not a Python one. `Err((status, msg))`.
    fn invoke(
        &self,
        name: &str,
        payload: Value,
        cid: &str,
        channel: &str,
    ) -> Result<Value, (crate::core::ErrorKind, String)>;
    /// Stores asynchronous invocations of any services (`(name, payload)`, see
    /// `invoke::deferred`), all or none, and returns their CIDs once they are stored.
    fn invoke_async(
        &self,
        targets: Vec<(String, Value)>,
        opts: AsyncOpts,
    ) -> Result<Vec<String>, (crate::core::ErrorKind, String)>;
    /// Takes or renews the cluster-wide lock `name` for `holder` for `ttl` seconds: true while
    /// `holder` has it (it was free, expired or `holder`'s already).
    fn lock_take(
        &self,
        name: &str,
        holder: &str,
        ttl: i64,
    ) -> Result<bool, (crate::core::ErrorKind, String)>;
    /// Encrypts (`encrypt`) or decrypts (`decrypt`, a `zato.secf.` prefix allowed) `data` with
    /// the cluster's secret key (`self.crypto`).
    fn crypto(&self, op: &str, data: &str) -> Result<String, (crate::core::ErrorKind, String)>;
    /// How many calls of `service` this process has counted (statistics on), and its
    /// `slow_threshold` in milliseconds (upstream's 99999 when none is set).
    fn service_usage(&self, service: &str) -> (u64, u64);
    /// One operation on a built-in cache (`connectors::cache::call`).
    fn cache(
        &self,
        op: &str,
        cache: &str,
        args: Value,
    ) -> Result<Value, (crate::core::ErrorKind, String)>;
    /// Gives up `name` if `holder` has it.
    fn lock_release(
        &self,
        name: &str,
        holder: &str,
    ) -> Result<(), (crate::core::ErrorKind, String)>;
    /// Whether an outgoing REST (`plain_http`) or SOAP connection of that name exists; also
    /// `sql` for SQL connections and `redis` for the `[kvdb]` one.
    fn has_outgoing(&self, kind: &str, name: &str) -> bool;
    /// The settings of an outgoing REST/SOAP (`plain_http`, `soap`) or `sql` connection,
    /// without secrets; None if there is no such connection.
    fn outgoing_config(&self, kind: &str, name: &str) -> Option<Value>;
    fn http(&self, transport: &str, name: &str, call: HttpCall) -> Result<HttpReply, ConnError>;
    fn sql(&self, call: SqlCall) -> Result<SqlReply, ConnError>;
    /// Opens a session (a transaction) and returns its handle.
    fn sql_begin(&self, conn: &str) -> Result<u64, ConnError>;
    /// Commits or rolls back a session and forgets it.
    fn sql_end(&self, handle: u64, commit: bool) -> Result<(), ConnError>;
    fn redis(&self, args: Vec<Vec<u8>>) -> Result<RedisReply, ConnError>;
    /// An operation of a connector kind reached generically (see `ConnectorKind`).
    fn connector(
        &self,
        kind: &str,
        conn: &str,
        op: &str,
        args: Value,
        data: Option<Vec<u8>>,
    ) -> Result<Value, ConnError>;
}

static BRIDGE: OnceLock<Arc<dyn Bridge>> = OnceLock::new();

pub fn set_bridge(bridge: Arc<dyn Bridge>) {
    let _ = BRIDGE.set(bridge);
}

fn bridge() -> PyResult<&'static Arc<dyn Bridge>> {
    BRIDGE
        .get()
        .ok_or_else(|| PyRuntimeError::new_err("the server is not ready yet"))
}

#[pyfunction]
fn log(level: i64, cid: &str, logger_name: &str, msg: &str) {
    match level {
        l if l >= 40 => {
            tracing::error!(target: "zato.service", cid, service = logger_name, "{msg}")
        }
        l if l >= 30 => tracing::warn!(target: "zato.service", cid, service = logger_name, "{msg}"),
        l if l >= 20 => tracing::info!(target: "zato.service", cid, service = logger_name, "{msg}"),
        _ => tracing::debug!(target: "zato.service", cid, service = logger_name, "{msg}"),
    }
}

#[pyfunction]
#[pyo3(signature = (name, payload, cid, channel="invoke", data_format="dict"))]
fn invoke<'py>(
    py: Python<'py>,
    name: &str,
    payload: &Bound<'py, PyAny>,
    cid: &str,
    channel: &str,
    data_format: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let _ = data_format;
    let payload = from_py(payload)?;
    let bridge = bridge()?;
    // The interpreter is released while the built-in runs (it may wait on the ODB).
    let result = py.detach(|| bridge.invoke(name, payload, cid, channel));
    match result {
        Ok(v) => to_py(py, &v),
        Err((crate::core::ErrorKind::NotFound, msg)) => Err(PyLookupError::new_err(msg)),
        Err((kind, msg)) => Err(PyValueError::new_err(format!(
            "{}: {msg}",
            kind.http_status()
        ))),
    }
}

#[pyfunction]
fn lock_take(py: Python<'_>, name: &str, holder: &str, ttl: i64) -> PyResult<bool> {
    let bridge = bridge()?;
    py.detach(|| bridge.lock_take(name, holder, ttl))
        .map_err(|(_, msg)| PyRuntimeError::new_err(msg))
}

#[pyfunction]
fn crypto_call(op: &str, data: &str) -> PyResult<String> {
    bridge()?
        .crypto(op, data)
        .map_err(|(_, msg)| PyValueError::new_err(msg))
}

#[pyfunction]
fn service_usage(service: &str) -> PyResult<(u64, u64)> {
    Ok(bridge()?.service_usage(service))
}

#[pyfunction]
fn cache_call<'py>(
    py: Python<'py>,
    op: &str,
    cache: &str,
    args: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let args = from_py(args)?;
    let bridge = bridge()?;
    let out = py
        .detach(|| bridge.cache(op, cache, args))
        .map_err(|(kind, msg)| match kind {
            crate::core::ErrorKind::BadInput => PyValueError::new_err(msg),
            _ => PyRuntimeError::new_err(msg),
        })?;
    to_py(py, &out)
}

#[pyfunction]
fn lock_release(py: Python<'_>, name: &str, holder: &str) -> PyResult<()> {
    let bridge = bridge()?;
    py.detach(|| bridge.lock_release(name, holder))
        .map_err(|(_, msg)| PyRuntimeError::new_err(msg))
}

#[pyfunction]
#[pyo3(signature = (name, payload, channel="invoke-async", callback=Vec::new(), expiration=0.0, cid="", pattern=None))]
#[allow(clippy::too_many_arguments)]
fn invoke_async(
    py: Python<'_>,
    name: String,
    payload: &Bound<'_, PyAny>,
    channel: &str,
    callback: Vec<String>,
    expiration: f64,
    cid: &str,
    pattern: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    let targets = vec![(name, from_py(payload)?)];
    let opts = async_opts(channel, callback, expiration, cid, pattern)?;
    let mut cids = store_async(py, targets, opts)?;
    cids.pop()
        .ok_or_else(|| PyRuntimeError::new_err("the async request was not stored"))
}

/// [`invoke_async`] of several services at once (`[(name, payload), ...]`), all stored or
/// none: a parallel pattern's targets.
#[pyfunction]
#[pyo3(signature = (targets, channel="invoke-async", cid="", pattern=None))]
fn invoke_async_all(
    py: Python<'_>,
    targets: Vec<(String, Bound<'_, PyAny>)>,
    channel: &str,
    cid: &str,
    pattern: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<String>> {
    let targets = targets
        .into_iter()
        .map(|(name, payload)| Ok((name, from_py(&payload)?)))
        .collect::<PyResult<Vec<_>>>()?;
    let opts = async_opts(channel, Vec::new(), 0.0, cid, pattern)?;
    store_async(py, targets, opts)
}

fn async_opts(
    channel: &str,
    callback: Vec<String>,
    expiration: f64,
    cid: &str,
    pattern: Option<&Bound<'_, PyAny>>,
) -> PyResult<AsyncOpts> {
    Ok(AsyncOpts {
        channel: channel.to_string(),
        callback,
        expiration,
        cid: cid.to_string(),
        pattern: pattern.map(from_py).transpose()?,
    })
}

fn store_async(
    py: Python<'_>,
    targets: Vec<(String, Value)>,
    opts: AsyncOpts,
) -> PyResult<Vec<String>> {
    let bridge = bridge()?;
    py.detach(|| bridge.invoke_async(targets, opts))
        .map_err(|(_, msg)| PyLookupError::new_err(msg))
}

#[pyfunction]
fn has_outgoing(kind: &str, name: &str) -> PyResult<bool> {
    Ok(bridge()?.has_outgoing(kind, name))
}

#[pyfunction]
fn outgoing_config<'py>(
    py: Python<'py>,
    kind: &str,
    name: &str,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    bridge()?
        .outgoing_config(kind, name)
        .map(|v| to_py(py, &v))
        .transpose()
}

/// Returns `(status, [(header, value)], body)`.
#[pyfunction]
#[pyo3(signature = (transport, name, method, cid, data, params, headers))]
#[allow(clippy::too_many_arguments)]
fn out_http<'py>(
    py: Python<'py>,
    transport: &str,
    name: &str,
    method: Option<String>,
    cid: String,
    data: Option<Vec<u8>>,
    params: Vec<(String, String)>,
    headers: Vec<(String, String)>,
) -> PyResult<Bound<'py, PyTuple>> {
    let bridge = bridge()?;
    let call = HttpCall {
        method,
        cid,
        data,
        params,
        headers,
    };
    let reply = py
        .detach(|| bridge.http(transport, name, call))
        .map_err(py_conn_error)?;
    (reply.status, reply.headers, PyBytes::new(py, &reply.body)).into_pyobject(py)
}

/// The constructors of typed column values (`Decimal`, `datetime.fromisoformat`, ...), looked
/// up once per result set rather than once per value.
#[derive(Default)]
struct Ctors<'py>([Option<Bound<'py, PyAny>>; 6]);

impl<'py> Ctors<'py> {
    fn get(&mut self, py: Python<'py>, kind: Kind) -> PyResult<&Bound<'py, PyAny>> {
        // The Python types a DB-API driver returns, built from their text.
        let (slot, module, name, from_iso) = match kind {
            Kind::Decimal => (0, "decimal", "Decimal", false),
            Kind::DateTime => (1, "datetime", "datetime", true),
            Kind::Date => (2, "datetime", "date", true),
            Kind::Time => (3, "datetime", "time", true),
            Kind::Uuid => (4, "uuid", "UUID", false),
            Kind::Json => (5, "json", "loads", false),
        };
        if self.0[slot].is_none() {
            let mut f = py.import(module)?.getattr(name)?;
            if from_iso {
                f = f.getattr("fromisoformat")?;
            }
            self.0[slot] = Some(f);
        }
        self.0[slot]
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("no constructor"))
    }
}

fn sql_value<'py>(
    py: Python<'py>,
    v: &SqlValue,
    ctors: &mut Ctors<'py>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        SqlValue::Null => py.None().into_bound(py),
        SqlValue::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        SqlValue::Int(i) => i.into_pyobject(py)?.into_any(),
        SqlValue::Float(f) => f.into_pyobject(py)?.into_any(),
        SqlValue::Text(t) => t.into_pyobject(py)?.into_any(),
        SqlValue::Bytes(b) => PyBytes::new(py, b).into_any(),
        SqlValue::Typed(kind, text) => ctors.get(py, *kind)?.call1((text.as_str(),))?,
    })
}

/// Returns `([column], [row tuple], rowcount)`.
#[pyfunction]
#[pyo3(signature = (conn, handle, sql, params=None))]
fn sql_execute<'py>(
    py: Python<'py>,
    conn: String,
    handle: Option<u64>,
    sql: String,
    params: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let params = match params {
        Some(p) => from_py(p)?,
        None => Value::Null,
    };
    let bridge = bridge()?;
    let call = SqlCall {
        conn,
        handle,
        sql,
        params,
    };
    let reply = py.detach(|| bridge.sql(call)).map_err(py_conn_error)?;
    let rows = PyList::empty(py);
    let mut ctors = Ctors::default();
    for row in &reply.rows {
        let values = row
            .iter()
            .map(|v| sql_value(py, v, &mut ctors))
            .collect::<PyResult<Vec<_>>>()?;
        rows.append(PyTuple::new(py, values)?)?;
    }
    (
        reply.columns,
        rows,
        reply.rows_affected,
        reply.last_insert_id,
    )
        .into_pyobject(py)
}

/// `connector_call(kind, name, op, args, data=None)`: one operation of a generic connector
/// (`amqp` `publish`, ...); `args` is a dict, `data` the bytes to send, if any.
#[pyfunction]
#[pyo3(signature = (kind, name, op, args, data=None))]
fn connector_call<'py>(
    py: Python<'py>,
    kind: &str,
    name: &str,
    op: &str,
    args: &Bound<'py, PyAny>,
    data: Option<Vec<u8>>,
) -> PyResult<Bound<'py, PyAny>> {
    let args = from_py(args)?;
    let bridge = bridge()?;
    let reply = py
        .detach(|| bridge.connector(kind, name, op, args, data))
        .map_err(py_conn_error)?;
    to_py(py, &reply)
}

#[pyfunction]
fn sql_begin(py: Python<'_>, conn: String) -> PyResult<u64> {
    let bridge = bridge()?;
    py.detach(|| bridge.sql_begin(&conn)).map_err(py_conn_error)
}

#[pyfunction]
fn sql_end(py: Python<'_>, handle: u64, commit: bool) -> PyResult<()> {
    let bridge = bridge()?;
    py.detach(|| bridge.sql_end(handle, commit))
        .map_err(py_conn_error)
}

fn redis_value<'py>(py: Python<'py>, v: &RedisReply) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        RedisReply::Nil => py.None().into_bound(py),
        RedisReply::Int(i) => i.into_pyobject(py)?.into_any(),
        RedisReply::Float(f) => f.into_pyobject(py)?.into_any(),
        RedisReply::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        RedisReply::Status(s) => s.into_pyobject(py)?.into_any(),
        RedisReply::Bytes(b) => PyBytes::new(py, b).into_any(),
        RedisReply::List(items) => {
            let list = PyList::empty(py);
            for i in items {
                list.append(redis_value(py, i)?)?;
            }
            list.into_any()
        }
    })
}

/// Runs one Redis command; bulk replies come back as bytes (the Python side decodes them).
#[pyfunction]
fn redis_command<'py>(py: Python<'py>, args: Vec<Vec<u8>>) -> PyResult<Bound<'py, PyAny>> {
    let bridge = bridge()?;
    let reply = py.detach(|| bridge.redis(args)).map_err(py_conn_error)?;
    redis_value(py, &reply)
}

#[pymodule]
pub fn _zato_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(has_outgoing, m)?)?;
    m.add_function(wrap_pyfunction!(outgoing_config, m)?)?;
    m.add_function(wrap_pyfunction!(out_http, m)?)?;
    m.add_function(wrap_pyfunction!(sql_execute, m)?)?;
    m.add_function(wrap_pyfunction!(sql_begin, m)?)?;
    m.add_function(wrap_pyfunction!(sql_end, m)?)?;
    m.add_function(wrap_pyfunction!(redis_command, m)?)?;
    m.add_function(wrap_pyfunction!(connector_call, m)?)?;
    m.add_function(wrap_pyfunction!(log, m)?)?;
    m.add_function(wrap_pyfunction!(invoke, m)?)?;
    m.add_function(wrap_pyfunction!(invoke_async, m)?)?;
    m.add_function(wrap_pyfunction!(invoke_async_all, m)?)?;
    m.add_function(wrap_pyfunction!(lock_take, m)?)?;
    m.add_function(wrap_pyfunction!(cache_call, m)?)?;
    m.add_function(wrap_pyfunction!(crypto_call, m)?)?;
    m.add_function(wrap_pyfunction!(service_usage, m)?)?;
    m.add_function(wrap_pyfunction!(lock_release, m)?)?;
    Ok(())
}
