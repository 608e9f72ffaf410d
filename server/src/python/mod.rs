//! The embedded CPython host: interpreter start-up (PYTHONHOME pinning, the embedded `zato`
//! package, an optional virtualenv), the interpreter thread pool, and the calls into
//! `zato._runtime` (deploy, invoke, remove).
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use serde_json::Value;

use crate::core::Call;
use crate::core::{Body, Output, ServiceError};

pub mod conv;
pub mod inline;
pub mod native;
pub mod pool;

use conv::{from_py, to_py};
use pool::{Pool, PoolError};

include!(concat!(env!("OUT_DIR"), "/python_files.rs"));

#[derive(Debug, thiserror::Error)]
pub enum PyHostError {
    #[error("cannot write the embedded Python package to `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the embedded Python failed to start: {0}")]
    Start(String),
}

/// A file that did not deploy: where and why.
#[derive(Debug, Clone)]
pub struct DeployFailure {
    pub file_name: String,
    pub line: Option<i64>,
    pub message: String,
}

impl std::fmt::Display for DeployFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file_name, l, self.message),
            None => write!(f, "{}: {}", self.file_name, self.message),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DeployedPy {
    pub name: String,
    pub impl_name: String,
}

pub struct PyHost {
    pool: Arc<Pool>,
    /// `zato._runtime.invoke`, looked up once.
    invoke_fn: Py<PyAny>,
    lanes: inline::Lanes,
    combiner: inline::Combiner,
    runtime: Py<PyModule>,
    /// Names of the deployed Python services, readable without the GIL.
    names: ArcSwap<HashSet<String>>,
    /// Held from staging a file to committing or discarding it: one deployment at a time.
    pub deploy_lock: tokio::sync::Mutex<()>,
}

/// Writes the embedded package under `dir` (only files whose content changed).
fn install_package(dir: &Path) -> Result<(), PyHostError> {
    for (rel, text) in PYTHON_FILES {
        let path = dir.join(rel);
        if std::fs::read_to_string(&path).is_ok_and(|old| old == *text) {
            continue;
        }
        let io = |source| PyHostError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, text).map_err(io)?;
    }
    Ok(())
}

/// Starts the interpreter with `_zato_native` built in. Idempotent; call it before the async
/// runtime starts so its worker threads can pin thread states (see [`pin_thread_state`]).
pub fn init_interpreter() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use native::_zato_native;
        pyo3::append_to_inittab!(_zato_native);
        Python::initialize();
    });
}

thread_local! {
    static PINNED: std::cell::Cell<*mut pyo3::ffi::PyThreadState> = const { std::cell::Cell::new(std::ptr::null_mut()) };
}

/// Gives the calling thread a Python thread state for its whole life (engineering notes G1),
/// so entering Python costs a GIL acquisition, not a thread-state allocation. For the async
/// runtime's `on_thread_start`; requires [`init_interpreter`] first.
pub fn pin_thread_state() {
    // SAFETY: the interpreter is initialised; the GIL is taken and released at once, leaving
    // this thread's state in place for `Python::attach` to reuse.
    unsafe {
        pyo3::ffi::PyGILState_Ensure();
        let ts = pyo3::ffi::PyEval_SaveThread();
        PINNED.with(|p| p.set(ts));
    }
}

/// Frees the pinned thread state (runtime threads come and go: blocking-pool threads).
pub fn unpin_thread_state() {
    let ts = PINNED.with(|p| p.replace(std::ptr::null_mut()));
    if !ts.is_null() {
        // SAFETY: `ts` is this thread's state saved by `pin_thread_state`; restoring it takes
        // the GIL, and releasing the outermost GILState deletes the state and frees the GIL.
        unsafe {
            pyo3::ffi::PyEval_RestoreThread(ts);
            pyo3::ffi::PyGILState_Release(pyo3::ffi::PyGILState_STATE::PyGILState_UNLOCKED);
        }
    }
}

/// Must run before any thread is started: it may set PYTHONHOME (engineering notes §3).
pub fn pin_python_home() {
    let home = env!("BUILD_PYTHON_HOME");
    if std::env::var_os("PYTHONHOME").is_none() && !home.is_empty() {
        // SAFETY: called from main before the runtime or any other thread exists.
        unsafe { std::env::set_var("PYTHONHOME", home) };
    }
}

fn py_err_text(py: Python<'_>, err: &PyErr) -> String {
    let formatted = py
        .import("traceback")
        .and_then(|tb| tb.call_method1("format_exception", (err.value(py),)))
        .and_then(|lines| lines.extract::<Vec<String>>());
    match formatted {
        Ok(lines) => lines.concat(),
        Err(_) => err.to_string(),
    }
}

impl PyHost {
    /// Starts the interpreter (once per process) and `zato._runtime.init(init_config)`, which
    /// also adds the services' virtualenv (`python_env`) to `sys.path`.
    pub fn start(
        lib_dir: &Path,
        threads: usize,
        queue: usize,
        service_timeout: Duration,
        init_config: &Value,
    ) -> Result<Arc<Self>, PyHostError> {
        install_package(lib_dir)?;
        init_interpreter();
        let runtime = Python::attach(|py| -> PyResult<Py<PyModule>> {
            let sys = py.import("sys")?;
            let path = sys.getattr("path")?.cast_into::<PyList>()?;
            path.insert(0, lib_dir.to_string_lossy().as_ref())?;
            let runtime = py.import("zato._runtime")?;
            runtime.call_method1("init", (to_py(py, init_config)?,))?;
            Ok(runtime.unbind())
        })
        .map_err(|e| PyHostError::Start(Python::attach(|py| py_err_text(py, &e))))?;
        let invoke_fn = Python::attach(|py| runtime.bind(py).getattr("invoke").map(Bound::unbind))
            .map_err(|e| PyHostError::Start(e.to_string()))?;
        let host = Arc::new(Self {
            pool: Pool::new(threads, queue),
            invoke_fn,
            lanes: Default::default(),
            combiner: Default::default(),
            runtime,
            names: ArcSwap::from_pointee(HashSet::new()),
            deploy_lock: tokio::sync::Mutex::new(()),
        });
        inline::start_watchdog(Arc::downgrade(&host), service_timeout);
        tokio::spawn(inline::combiner(
            Arc::downgrade(&host),
            host.combiner.wake.clone(),
        ));
        Ok(host)
    }

    pub fn has(&self, name: &str) -> bool {
        self.names.load().contains(name)
    }

    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.names.load().iter().cloned().collect();
        v.sort();
        v
    }

    pub fn live_threads(&self) -> usize {
        self.pool.live_threads()
    }

    /// The interpreter pool's state and how many services run on the inline lane.
    pub fn lane_state(&self) -> (pool::PoolState, usize) {
        (self.pool.state(), self.lanes.inline_count())
    }

    fn refresh_names(&self, py: Python<'_>) {
        // New code: every service earns its inline lane again.
        self.lanes.reset();
        let names = self
            .runtime
            .bind(py)
            .call_method0("service_names")
            .and_then(|n| n.extract::<Vec<String>>());
        if let Ok(names) = names {
            self.names.store(Arc::new(names.into_iter().collect()));
        }
    }

    /// Compiles and imports `source`; on success its services replace the previous ones of
    /// the same file atomically, on failure nothing changes.
    /// Imports `file_name` and checks its services without making them live: the caller
    /// stores the deployment, then calls [`PyHost::commit_staged`] or
    /// [`PyHost::discard_staged`] (holding `deploy_lock` throughout).
    pub async fn stage(
        self: &Arc<Self>,
        file_name: &str,
        source: &str,
        timeout: Duration,
    ) -> Result<Vec<DeployedPy>, DeployFailure> {
        let me = self.clone();
        let (file, src) = (file_name.to_string(), source.to_string());
        let fail = |message: String| DeployFailure {
            file_name: file_name.to_string(),
            line: None,
            message,
        };
        self.pool
            .run(timeout, move |py| {
                let rt = me.runtime.bind(py);
                let list = rt
                    .call_method1("stage", (src, file.as_str()))
                    .map_err(|e| fail_py(py, &file, &e))?;
                let mut out = Vec::new();
                for item in list.try_iter().map_err(|e| fail_py(py, &file, &e))? {
                    let item = item.map_err(|e| fail_py(py, &file, &e))?;
                    let get = |k: &str| -> String {
                        item.get_item(k)
                            .and_then(|v| v.extract::<String>())
                            .unwrap_or_default()
                    };
                    out.push(DeployedPy {
                        name: get("name"),
                        impl_name: get("impl_name"),
                    });
                }
                Ok(out)
            })
            .await
            .map_err(|e| fail(e.to_string()))?
    }

    /// Makes the staged file's services live and visible to `has`.
    pub async fn commit_staged(self: &Arc<Self>) {
        self.finish_staged("commit").await;
    }

    /// Drops the staged file: the services it would have replaced stay as they were.
    pub async fn discard_staged(self: &Arc<Self>) {
        self.finish_staged("discard").await;
    }

    /// Not through the interpreter pool: a full queue must not leave a deployment half done.
    async fn finish_staged(self: &Arc<Self>, how: &'static str) {
        let me = self.clone();
        let done = tokio::task::spawn_blocking(move || {
            Python::attach(|py| {
                if let Err(e) = me.runtime.bind(py).call_method0(how) {
                    tracing::error!("cannot {how} a staged deployment: {}", py_err_text(py, &e));
                }
                me.refresh_names(py);
            })
        })
        .await;
        if let Err(e) = done {
            tracing::error!("cannot {how} a staged deployment: {e}");
        }
    }

    pub async fn remove(self: &Arc<Self>, name: &str) -> bool {
        let me = self.clone();
        let name = name.to_string();
        self.pool
            .run(Duration::from_secs(30), move |py| {
                let removed = me
                    .runtime
                    .bind(py)
                    .call_method1("remove", (name,))
                    .and_then(|r| r.extract::<bool>())
                    .unwrap_or(false);
                me.refresh_names(py);
                removed
            })
            .await
            .unwrap_or(false)
    }

    /// Runs `fut` (a wait on the server with the interpreter released) from an interpreter
    /// thread, letting another thread take jobs if the wait is long (see `pool.rs`).
    pub fn io_wait<F: std::future::Future>(
        &self,
        rt: &tokio::runtime::Handle,
        fut: F,
    ) -> F::Output {
        self.pool.io_wait(rt, fut)
    }

    /// Called when Python code running inline is about to wait (see [`inline::Combiner::demote_current`]).
    pub fn demote_inline(&self) {
        self.combiner.demote_current();
    }

    /// Runs one request through `zato._runtime.invoke`: inline when the service has proved
    /// fast (see `inline.rs`), on an interpreter thread otherwise.
    pub async fn invoke(
        self: &Arc<Self>,
        req: Call,
        timeout: Duration,
    ) -> Result<Output, ServiceError> {
        let lane = self.lanes.get(&req.name);
        let name = req.name.clone();
        let started = std::time::Instant::now();
        let result = if lane.inline() && !self.combiner.diverted() {
            let (mut rx, started) = inline::submit(self, req, lane.clone());
            // A combiner just woken runs next on this thread; looking after it saves arming a
            // timer for the timeout in the common case.
            if started {
                tokio::task::yield_now().await;
            }
            if let Ok(r) = rx.try_recv() {
                r
            } else {
                match tokio::time::timeout(timeout, rx).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(_)) => Err(ServiceError::internal("the interpreter stopped")),
                    Err(_) => Err(ServiceError::timeout(&name, timeout)),
                }
            }
        } else {
            let me = self.clone();
            match self
                .pool
                .run(timeout, move |py| me.invoke_in(py, req))
                .await
            {
                Ok(r) => r,
                Err(PoolError::Timeout(t)) => Err(ServiceError::timeout(&name, t)),
                Err(PoolError::Gone) => {
                    Err(ServiceError::internal("the interpreter thread stopped"))
                }
                Err(e @ PoolError::Busy(_)) => Err(busy(&e)),
            }
        };
        let timed_out = matches!(&result, Err(e) if e.kind == crate::core::ErrorKind::Timeout);
        lane.record(started.elapsed(), timed_out);
        result
    }

    fn invoke_in(&self, py: Python<'_>, mut req: Call) -> Result<Output, ServiceError> {
        let (http, message) = match &mut req.origin {
            crate::core::Origin::Http { req, .. } => (req.take(), None),
            crate::core::Origin::Message { transport, meta } => {
                (None, Some((*transport, std::mem::take(meta))))
            }
            crate::core::Origin::Internal => (None, None),
        };
        let message = match message {
            Some((transport, meta)) => {
                let m = PyDict::new(py);
                let filled = m
                    .set_item("transport", transport)
                    .and_then(|()| m.set_item("meta", to_py(py, &meta)?));
                filled.map_err(|e| ServiceError::internal(&py_err_text(py, &e)))?;
                Some(m)
            }
            None => None,
        };
        let build = || -> PyResult<Bound<'_, PyDict>> {
            // Interned keys: no new key strings per request.
            use pyo3::intern;
            let d = PyDict::new(py);
            d.set_item(intern!(py, "name"), &req.name)?;
            d.set_item(intern!(py, "cid"), &req.cid)?;
            d.set_item(intern!(py, "payload"), to_py(py, &req.payload)?)?;
            d.set_item(intern!(py, "raw_request"), &req.raw_request)?;
            d.set_item(intern!(py, "data_format"), &req.data_format)?;
            d.set_item(intern!(py, "channel"), channel_dict(py, &req.channel)?)?;
            d.set_item(intern!(py, "http"), http_object(py, http)?)?;
            if let Some(m) = &message {
                d.set_item(intern!(py, "message"), m)?;
            }
            if req.environ.is_null() {
                d.set_item(intern!(py, "environ"), PyDict::new(py))?;
            } else {
                d.set_item(intern!(py, "environ"), to_py(py, &req.environ)?)?;
            }
            Ok(d)
        };
        let dict = build().map_err(|e| ServiceError::internal(&py_err_text(py, &e)))?;
        let rt = self.runtime.bind(py);
        match self.invoke_fn.bind(py).call1((dict,)) {
            Ok(tuple) => {
                let mut out = output_from(&tuple)
                    .map_err(|e| ServiceError::internal(&py_err_text(py, &e)))?;
                // `self.request.<transport>.ack()` / `.reject()` write their decision here.
                out.disposition = message
                    .and_then(|m| m.get_item("disposition").ok().flatten())
                    .and_then(|d| match d.extract::<String>().ok()?.as_str() {
                        "ack" => Some(crate::core::Disposition::Ack),
                        "reject" => Some(crate::core::Disposition::Reject),
                        _ => None,
                    });
                Ok(out)
            }
            Err(e) => {
                let value = e.value(py);
                let is_service_error = rt
                    .getattr("ServiceError")
                    .is_ok_and(|cls| value.is_instance(&cls).unwrap_or(false));
                if is_service_error {
                    let status = value
                        .getattr("status")
                        .and_then(|s| s.extract::<u16>())
                        .unwrap_or(400);
                    let msg = value.str().map(|s| s.to_string()).unwrap_or_default();
                    let mut err =
                        ServiceError::new(crate::core::ErrorKind::from_status(status), msg);
                    if let Ok(h) = value
                        .getattr("headers")
                        .and_then(|h| h.cast_into::<PyDict>().map_err(Into::into))
                    {
                        for (k, v) in h.iter() {
                            if let (Ok(k), Ok(v)) = (k.str(), v.str()) {
                                err.headers.push((k.to_string(), v.to_string()));
                            }
                        }
                    }
                    Err(err)
                } else {
                    Err(ServiceError::raised(&req.name, py_err_text(py, &e)))
                }
            }
        }
    }
}

/// A channel's Python dict is made once and copied per call (services may change theirs).
fn channel_dict<'py>(
    py: Python<'py>,
    ch: &crate::core::ChannelInfo,
) -> PyResult<Bound<'py, PyAny>> {
    let cached = match ch.cache.get().and_then(|c| c.downcast_ref::<Py<PyAny>>()) {
        Some(d) => d.bind(py).clone(),
        None => {
            let d = to_py(py, &ch.value)?;
            let _ = ch.cache.set(Box::new(d.clone().unbind()));
            d
        }
    };
    Ok(cached.cast_into::<PyDict>()?.copy()?.into_any())
}

fn pairs<'py>(py: Python<'py>, items: &[(String, String)]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in items {
        d.set_item(k, v)?;
    }
    Ok(d)
}

const HTTP_KEYS: [&str; 7] = [
    "method",
    "path",
    "params",
    "GET",
    "POST",
    "headers",
    "user_agent",
];

/// `req['http']` for Python: a read-only mapping whose entries are built on first use — most
/// services never look at the headers or the query string, so they are not converted.
#[pyclass(frozen, name = "HttpData", module = "_zato_native")]
pub struct HttpData {
    req: crate::core::HttpReq,
}

impl HttpData {
    fn entry<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        let h = &self.req;
        Ok(Some(match key {
            "method" => h.method.as_str().into_pyobject(py)?.into_any(),
            "path" => h.path.as_str().into_pyobject(py)?.into_any(),
            "params" => pairs(py, &h.params)?.into_any(),
            "POST" => pairs(py, &h.post)?.into_any(),
            "headers" => pairs(py, &h.headers)?.into_any(),
            "GET" => {
                let get = PyDict::new(py);
                for (k, v) in form_urlencoded::parse(h.query.as_bytes()) {
                    get.set_item(k.as_ref(), v.as_ref())?;
                }
                get.into_any()
            }
            "user_agent" => match h.headers.iter().find(|(k, _)| k == "user-agent") {
                Some((_, v)) => v.as_str().into_pyobject(py)?.into_any(),
                None => py.None().into_bound(py),
            },
            _ => return Ok(None),
        }))
    }
}

#[pymethods]
impl HttpData {
    #[pyo3(signature = (key, default=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.entry(py, key)? {
            Some(v) => Ok(v),
            None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
        }
    }

    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        self.entry(py, key)?
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(key.to_string()))
    }

    fn __contains__(&self, key: &str) -> bool {
        HTTP_KEYS.contains(&key)
    }

    fn __len__(&self) -> usize {
        HTTP_KEYS.len()
    }

    fn __bool__(&self) -> bool {
        true
    }

    fn keys(&self) -> Vec<&'static str> {
        HTTP_KEYS.to_vec()
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        let keys = pyo3::types::PyList::new(slf.py(), HTTP_KEYS)?;
        keys.try_iter().map(|i| i.into_any())
    }
}

/// `self.request.http` as the Python package expects it.
fn http_object<'py>(
    py: Python<'py>,
    http: Option<crate::core::HttpReq>,
) -> PyResult<Bound<'py, PyAny>> {
    match http {
        Some(req) => Ok(Bound::new(py, HttpData { req })?.into_any()),
        None => Ok(PyDict::new(py).into_any()),
    }
}

fn fail_py(py: Python<'_>, file: &str, e: &PyErr) -> DeployFailure {
    let value = e.value(py);
    let line = value
        .getattr("line")
        .ok()
        .and_then(|l| l.extract::<i64>().ok());
    let message = value
        .getattr("message")
        .ok()
        .and_then(|m| m.extract::<String>().ok())
        .unwrap_or_else(|| py_err_text(py, e));
    DeployFailure {
        file_name: file.to_string(),
        line,
        message,
    }
}

fn output_from(tuple: &Bound<'_, PyAny>) -> PyResult<Output> {
    let t = tuple.cast::<PyTuple>()?;
    let status: u16 = t.get_item(0)?.extract()?;
    let ct = t.get_item(1)?;
    let content_type: Option<String> = if ct.is_none() {
        None
    } else {
        Some(ct.extract()?)
    };
    let mut headers = Vec::new();
    if let Ok(h) = t.get_item(2)?.cast_into::<PyDict>()
        && !h.is_empty()
    {
        for (k, v) in h.iter() {
            headers.push((k.str()?.to_string(), v.str()?.to_string()));
        }
    }
    let payload = t.get_item(3)?;
    // Type checks first: a failed `extract` would build a Python exception just to discard it.
    let body = if payload.is_none() {
        Body::Empty
    } else if let Ok(s) = payload.cast::<pyo3::types::PyString>() {
        Body::Text(s.to_str()?.to_string())
    } else if let Ok(b) = payload.cast::<pyo3::types::PyBytes>() {
        Body::Bytes(b.as_bytes().to_vec())
    } else {
        Body::Json(from_py(&payload)?)
    };
    Ok(Output {
        status,
        content_type,
        headers,
        body,
        disposition: None,
    })
}

/// 503 for a full interpreter queue: the caller may try again soon.
fn busy(e: &PoolError) -> ServiceError {
    ServiceError::new(
        crate::core::ErrorKind::Unavailable,
        format!("The server is busy: {e}; try again later ([main] python_queue_size)"),
    )
}

impl inline::Runner for PyHost {
    fn run(&self, py: Python<'_>, req: Call) -> inline::JobResult {
        self.invoke_in(py, req)
    }

    fn to_pool(self: &Arc<Self>, req: Call, tx: tokio::sync::oneshot::Sender<inline::JobResult>) {
        let me = self.clone();
        // Shared, so that a queue that refuses the job leaves the sender here to answer with.
        let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
        let job_tx = tx.clone();
        let take =
            |t: &std::sync::Mutex<Option<_>>| t.lock().unwrap_or_else(|p| p.into_inner()).take();
        let queued = self.pool.submit(move |py| {
            let Some(tx) = take(&job_tx) else { return };
            // The caller timed out while this waited: it must not run after the 504.
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(me.invoke_in(py, req));
        });
        if let Err(e) = queued
            && let Some(tx) = take(&tx)
        {
            let _ = tx.send(Err(busy(&e)));
        }
    }

    fn combiner(&self) -> &inline::Combiner {
        &self.combiner
    }
}
