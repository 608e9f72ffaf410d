//! Built-in services written in Rust (`zato.*`, `pub.zato.*`) and the types every service
//! invocation shares: [`Output`], [`Body`], [`ServiceError`].
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::state::ServerState;

pub mod deploy;
pub mod enmasse;
pub mod http_soap;
pub mod info;
pub mod ping;
pub mod redis;
pub mod security;
pub mod service;
pub mod sql;

/// A response body as a service produced it.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Json(Value),
    Text(String),
    Bytes(Vec<u8>),
}

impl Body {
    /// The body as a JSON value (what admin invoke and `self.invoke` hand on).
    pub fn to_value(&self) -> Value {
        match self {
            Body::Empty => Value::Null,
            Body::Json(v) => v.clone(),
            Body::Text(s) => Value::String(s.clone()),
            Body::Bytes(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Output {
    pub status: u16,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Output {
    pub fn json(v: Value) -> Self {
        Self {
            status: 200,
            content_type: None,
            headers: Vec::new(),
            body: if v.is_null() {
                Body::Empty
            } else {
                Body::Json(v)
            },
        }
    }
}

/// A failed invocation: the HTTP status to answer with, a message for the caller and, for
/// errors raised by service code, the traceback (logged; in the body when configured).
#[derive(Debug, Clone)]
pub struct ServiceError {
    pub status: u16,
    pub message: String,
    pub traceback: Option<String>,
    /// Extra response headers (`Allow` on 405, a `WWW-Authenticate` challenge).
    pub headers: Vec<(String, String)>,
}

impl ServiceError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            traceback: None,
            headers: Vec::new(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }
    pub fn not_found(service: &str) -> Self {
        Self::new(404, format!("Service `{service}` not found"))
    }
    pub fn internal(message: &str) -> Self {
        Self::new(500, message)
    }
    pub fn timeout(service: &str, after: Duration) -> Self {
        Self::new(
            504,
            format!(
                "Service `{service}` did not finish within {:.3}s",
                after.as_secs_f64()
            ),
        )
    }
    pub fn raised(service: &str, traceback: String) -> Self {
        let last = traceback.lines().last().unwrap_or("").to_string();
        Self {
            status: 500,
            message: format!("Service `{service}` raised an exception: {last}"),
            traceback: Some(traceback),
            headers: Vec::new(),
        }
    }
}

impl From<zato_common::odb::OdbError> for ServiceError {
    fn from(e: zato_common::odb::OdbError) -> Self {
        use zato_common::odb::OdbError;
        match e {
            OdbError::NotFound(m) => Self::new(404, m),
            OdbError::Conflict(m) => Self::new(409, m),
            other => Self::new(500, other.to_string()),
        }
    }
}

pub type ServiceResult = Result<Value, ServiceError>;
pub type BoxFut<'a> = Pin<Box<dyn Future<Output = ServiceResult> + Send + 'a>>;

/// Per-call context of a built-in service.
pub struct Ctx {
    pub state: Arc<ServerState>,
    pub cid: String,
    /// The caller over a channel; None for internal calls.
    pub client: Option<crate::invoke::Client>,
}

/// A service implemented in Rust.
pub trait Service: Send + Sync {
    fn name(&self) -> &'static str;
    fn handle<'a>(&'a self, ctx: &'a Ctx, input: Value) -> BoxFut<'a>;
}

/// A built-in made from an async function.
pub struct Builtin {
    pub name: &'static str,
    pub call: for<'a> fn(&'a Ctx, Value) -> BoxFut<'a>,
}

impl Service for Builtin {
    fn name(&self) -> &'static str {
        self.name
    }
    fn handle<'a>(&'a self, ctx: &'a Ctx, input: Value) -> BoxFut<'a> {
        (self.call)(ctx, input)
    }
}

/// `builtin!("zato.x.y", path::to::async_fn)`.
#[macro_export]
macro_rules! builtin {
    ($name:expr, $f:path) => {{
        fn call<'a>(
            c: &'a $crate::services::Ctx,
            i: serde_json::Value,
        ) -> $crate::services::BoxFut<'a> {
            Box::pin($f(c, i))
        }
        $crate::services::Builtin { name: $name, call }
    }};
}

/// Looked up on every request: FxHash, not SipHash (the keys are our own names).
pub type Registry = rustc_hash::FxHashMap<&'static str, Arc<dyn Service>>;

/// Every built-in service of this server.
pub fn registry() -> Registry {
    let all: Vec<Builtin> = [
        ping::services(),
        service::services(),
        deploy::services(),
        http_soap::services(),
        security::services(),
        sql::services(),
        redis::services(),
        enmasse::services(),
        info::services(),
    ]
    .into_iter()
    .flatten()
    .collect();
    all.into_iter()
        .map(|b| (b.name, Arc::new(b) as Arc<dyn Service>))
        .collect()
}

/// Reads service input fields; collects every missing required one into a single 400.
pub struct Input<'a> {
    map: Option<&'a Map<String, Value>>,
    missing: Vec<&'static str>,
}

impl<'a> Input<'a> {
    pub fn new(v: &'a Value) -> Self {
        Self {
            map: v.as_object(),
            missing: Vec::new(),
        }
    }

    fn get(&self, k: &str) -> Option<&'a Value> {
        self.map.and_then(|m| m.get(k)).filter(|v| !v.is_null())
    }

    pub fn opt_str(&self, k: &str) -> Option<String> {
        self.get(k).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    pub fn str(&mut self, k: &'static str) -> String {
        match self.opt_str(k) {
            Some(s) if !s.is_empty() => s,
            _ => {
                self.missing.push(k);
                String::new()
            }
        }
    }

    pub fn opt_int(&self, k: &str) -> Result<Option<i64>, ServiceError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ServiceError::bad_request(format!("`{k}` must be an integer"))),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
                ServiceError::bad_request(format!("`{k}` must be an integer, got `{s}`"))
            }),
            Some(other) => Err(ServiceError::bad_request(format!(
                "`{k}` must be an integer, got {other}"
            ))),
        }
    }

    pub fn int(&mut self, k: &'static str) -> Result<i64, ServiceError> {
        let v = self.opt_int(k)?;
        if v.is_none() {
            self.missing.push(k);
        }
        Ok(v.unwrap_or_default())
    }

    pub fn opt_bool(&self, k: &str) -> Result<Option<bool>, ServiceError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Number(n)) => Ok(Some(n.as_i64().unwrap_or(0) != 0)),
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "" => Ok(None),
                "true" | "1" | "on" | "yes" => Ok(Some(true)),
                "false" | "0" | "off" | "no" => Ok(Some(false)),
                _ => Err(ServiceError::bad_request(format!(
                    "`{k}` must be a boolean, got `{s}`"
                ))),
            },
            Some(other) => Err(ServiceError::bad_request(format!(
                "`{k}` must be a boolean, got {other}"
            ))),
        }
    }

    pub fn bool(&mut self, k: &'static str) -> Result<bool, ServiceError> {
        let v = self.opt_bool(k)?;
        if v.is_none() {
            self.missing.push(k);
        }
        Ok(v.unwrap_or_default())
    }

    /// Fails with one 400 naming every missing required field.
    pub fn done(&self) -> Result<(), ServiceError> {
        if self.missing.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::bad_request(format!(
                "Missing input: {}",
                self.missing.join(", ")
            )))
        }
    }
}

/// The new secret of a change-password call: `password1`, which `password2` (when given) must
/// repeat. Redis may have an empty password (none); the others must have one.
pub fn new_password(i: &mut Input<'_>, may_be_empty: bool) -> Result<String, ServiceError> {
    let p1 = if may_be_empty {
        i.opt_str("password1").unwrap_or_default()
    } else {
        i.str("password1")
    };
    let p2 = i.opt_str("password2").unwrap_or_else(|| p1.clone());
    i.done()?;
    if p1 != p2 {
        return Err(ServiceError::bad_request("password1 and password2 differ"));
    }
    Ok(p1)
}

/// The cluster id a request names must be ours (upstream services take `cluster_id`).
pub fn check_cluster(ctx: &Ctx, input: &Input<'_>) -> Result<(), ServiceError> {
    match input.opt_int("cluster_id")? {
        Some(id) if id != ctx.state.cluster_id => Err(ServiceError::bad_request(format!(
            "cluster_id {id} is not this server's cluster ({})",
            ctx.state.cluster_id
        ))),
        _ => Ok(()),
    }
}
