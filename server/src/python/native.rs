//! `_zato_native`: the Rust functions the `zato` Python package calls (logging, invoking
//! built-in services, async invocations). They reach the server through a [`Bridge`].
use std::sync::{Arc, OnceLock};

use pyo3::exceptions::{PyLookupError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use serde_json::Value;

use super::conv::{from_py, to_py};

/// What Python may ask of the server. Implemented by the server; set once at start-up.
pub trait Bridge: Send + Sync {
    /// Synchronously runs a service that is not a Python one. `Err((status, msg))`.
    fn invoke(
        &self,
        name: &str,
        payload: Value,
        cid: &str,
        channel: &str,
    ) -> Result<Value, (u16, String)>;
    /// Schedules any service in the background and returns the new CID.
    fn invoke_async(
        &self,
        name: &str,
        payload: Value,
        cid: &str,
        channel: &str,
    ) -> Result<String, String>;
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
        Err((404, msg)) => Err(PyLookupError::new_err(msg)),
        Err((status, msg)) => Err(PyValueError::new_err(format!("{status}: {msg}"))),
    }
}

#[pyfunction]
#[pyo3(signature = (name, payload, cid, channel="invoke-async", data_format="dict"))]
fn invoke_async(
    py: Python<'_>,
    name: &str,
    payload: &Bound<'_, PyAny>,
    cid: &str,
    channel: &str,
    data_format: &str,
) -> PyResult<String> {
    let _ = data_format;
    let payload = from_py(payload)?;
    let bridge = bridge()?;
    py.detach(|| bridge.invoke_async(name, payload, cid, channel))
        .map_err(PyLookupError::new_err)
}

#[pymodule]
pub fn _zato_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(log, m)?)?;
    m.add_function(wrap_pyfunction!(invoke, m)?)?;
    m.add_function(wrap_pyfunction!(invoke_async, m)?)?;
    Ok(())
}
