//! Built-in services written in Rust (`zato.*`, `pub.zato.*`), one module per family, and
//! the helpers they share for reading their input.
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::state::ServerState;

#[cfg(feature = "amqp")]
pub mod amqp;
pub mod cache;
pub mod deploy;
pub mod enmasse;
pub mod http_soap;
pub mod info;
pub mod kinds;
pub mod kvdb_command;
pub mod ping;
pub mod redis;
pub mod reference;
pub mod scheduler;
pub mod security;
pub mod service;
pub mod sql;
pub mod stats;

pub use crate::core::{BoxFut, Io, ServiceError, ServiceResult};

/// Per-call context of a built-in service.
pub type Ctx = crate::core::Ctx<ServerState>;

/// A built-in made from an async function.
pub struct Builtin {
    pub name: &'static str,
    pub io: &'static Io,
    pub call: for<'a> fn(&'a Ctx, Value) -> BoxFut<'a>,
}

impl crate::core::Service<ServerState> for Builtin {
    fn name(&self) -> &'static str {
        self.name
    }
    fn io(&self) -> &Io {
        self.io
    }
    fn handle<'a>(&'a self, ctx: &'a Ctx, input: Value) -> BoxFut<'a> {
        (self.call)(ctx, input)
    }
}

/// `builtin!("zato.x.y", path::to::async_fn, &IO)`.
#[macro_export]
macro_rules! builtin {
    ($name:expr, $f:path, $io:expr) => {{
        fn call<'a>(c: &'a $crate::admin::Ctx, i: serde_json::Value) -> $crate::admin::BoxFut<'a> {
            Box::pin($f(c, i))
        }
        $crate::admin::Builtin {
            name: $name,
            io: $io,
            call,
        }
    }};
}

/// An [`Io`] with only the fields given: `io! { doc: "...", required: &["name"], .. }`.
#[macro_export]
macro_rules! io {
    ($($field:ident : $value:expr),* $(,)?) => {
        $crate::core::Io {
            $($field: $value,)*
            ..$crate::admin::NO_IO
        }
    };
}

/// The empty declaration [`io!`] starts from.
pub const NO_IO: Io = Io {
    doc: "",
    required: &[],
    optional: &[],
    ignored: &[],
    unsupported: &[],
    any_input: false,
    output: &[],
};

/// Every built-in service of this server.
pub fn registry() -> crate::core::Registry<ServerState> {
    let all: Vec<Builtin> = [
        ping::services(),
        service::services(),
        deploy::services(),
        http_soap::services(),
        security::services(),
        sql::services(),
        scheduler::services(),
        redis::services(),
        kvdb_command::services(),
        cache::services(),
        enmasse::services(),
        info::services(),
        stats::services(),
        #[cfg(feature = "amqp")]
        amqp::services(),
    ]
    .into_iter()
    .flatten()
    .collect();
    all.into_iter()
        .map(|b| Arc::new(b) as Arc<dyn crate::core::Service<ServerState>>)
        .chain(kinds::services())
        .map(|s| (s.name(), s))
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
