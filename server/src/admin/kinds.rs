//! Admin services made from the kinds declared as data (`zato_common::odb::kinds`): for a
//! prefix such as `zato.definition.amqp`, `create`, `edit`, `get-list`, `get-by-id`,
//! `delete` and, for kinds with a secret, `change-password`, with upstream's input and
//! output elements. Input keys a kind does not know are refused, naming the closest known
//! one; references (`def_name`, `service`) are resolved by name.
use std::sync::Arc;

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use zato_common::odb::kinds::{self, Field, Kind, Ty, Values};
use zato_common::odb::{Odb, OdbError};

use super::{BoxFut, Ctx, Input, ServiceError, ServiceResult, check_cluster, new_password};
use crate::core::{ErrorKind, Io, Service};
use crate::state::ServerState;

#[derive(Clone, Copy)]
enum Op {
    Create,
    Edit,
    GetList,
    GetById,
    Delete,
    ChangePassword,
}

struct KindService {
    name: &'static str,
    kind: &'static Kind,
    op: Op,
    io: Io,
}

impl Service<ServerState> for KindService {
    fn name(&self) -> &'static str {
        self.name
    }
    fn io(&self) -> &Io {
        &self.io
    }
    fn handle<'a>(&'a self, ctx: &'a Ctx, input: Value) -> BoxFut<'a> {
        Box::pin(async move {
            match self.op {
                Op::Create => create(ctx, self.kind, input).await,
                Op::Edit => edit(ctx, self.kind, input).await,
                Op::GetList => get_list(ctx, self.kind, input).await,
                Op::GetById => get_by_id(ctx, self.kind, input).await,
                Op::Delete => delete(ctx, self.kind, input).await,
                Op::ChangePassword => change_password(ctx, self.kind, input).await,
            }
        })
    }
}

/// The services of every kind declared as data. Their names are made once per process.
pub fn services() -> Vec<Arc<dyn Service<ServerState>>> {
    let mut out: Vec<Arc<dyn Service<ServerState>>> = Vec::new();
    for kind in kinds::ALL {
        let mut ops = vec![
            ("create", Op::Create),
            ("edit", Op::Edit),
            ("get-list", Op::GetList),
            ("get-by-id", Op::GetById),
            ("delete", Op::Delete),
        ];
        if kind.secret().is_some() {
            ops.push(("change-password", Op::ChangePassword));
        }
        for (suffix, op) in ops {
            let name: &'static str = format!("{}.{suffix}", kind.services).leak();
            let io = io_of(kind, op);
            out.push(Arc::new(KindService { name, kind, op, io }));
        }
    }
    out
}

/// What a kind's service takes and returns, made from the kind's fields (once per process).
fn io_of(kind: &'static Kind, op: Op) -> Io {
    fn leak(v: Vec<String>) -> &'static [&'static str] {
        let v: Vec<&'static str> = v.into_iter().map(|s| &*s.leak()).collect();
        v.leak()
    }
    let label = kind.label;
    let described = {
        let mut keys = vec!["id".to_string(), "name".to_string()];
        for f in kind.fields {
            match f.ty {
                Ty::Secret => continue,
                Ty::Ref(_) | Ty::Service => keys.push(RefNames::key(f)),
                _ => {}
            }
            keys.push(f.name.to_string());
        }
        leak(keys)
    };
    let required = || {
        let mut keys = vec!["name".to_string()];
        keys.extend(
            kind.fields
                .iter()
                .filter(|f| f.required)
                .map(|f| f.name.to_string()),
        );
        leak(keys)
    };
    let fields = leak(
        known_keys(kind)
            .into_iter()
            .filter(|k| !matches!(k.as_str(), "cluster_id" | "id" | "password1" | "password2"))
            .collect(),
    );
    let doc = |text: String| -> &'static str { text.leak() };
    match op {
        Op::Create => crate::io! {
            doc: doc(format!("Creates an {label}.")),
            required: required(),
            optional: fields,
            output: &["id", "name"],
        },
        Op::Edit => crate::io! {
            doc: doc(format!("Changes an {label}; fields left out keep their values.")),
            required: &["id"],
            optional: fields,
            output: &["id", "name"],
        },
        Op::GetList => crate::io! {
            doc: doc(format!("Every {label} (secrets are never returned).")),
            output: described,
        },
        Op::GetById => crate::io! {
            doc: doc(format!("One {label}, by id.")),
            required: &["id"],
            output: described,
        },
        Op::Delete => crate::io! {
            doc: doc(format!("Deletes an {label}, unless another object uses it.")),
            required: &["id"],
            output: &["details"],
        },
        Op::ChangePassword => crate::io! {
            doc: doc(format!("Sets the secret of an {label}.")),
            required: &["id", "password1"],
            optional: &["password2"],
            output: &["id"],
        },
    }
}

/// Every input key `kind` understands.
fn known_keys(kind: &Kind) -> Vec<String> {
    let mut keys: Vec<String> = ["cluster_id", "id", "name"].map(String::from).to_vec();
    for f in kind.fields {
        keys.push(f.name.to_string());
        match f.ty {
            Ty::Ref(_) => keys.push(format!("{}_name", f.ref_stem())),
            Ty::Service => keys.extend(["service".into(), "service_name".into()]),
            Ty::Secret => keys.extend(["password1".into(), "password2".into()]),
            _ => {}
        }
    }
    keys
}

/// Refuses keys no field of `kind` has: a typo must not silently leave a setting out.
fn refuse_unknown(kind: &Kind, input: &Value) -> Result<(), ServiceError> {
    let Some(map) = input.as_object() else {
        return Ok(());
    };
    let known = known_keys(kind);
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let unknown = crate::core::unknown_keys(map.keys().map(String::as_str), &known);
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::bad_request(format!(
            "{unknown}; the fields of an {} are {}",
            kind.label,
            known.join(", ")
        )))
    }
}

fn check_value(kind: &Kind, f: &Field, v: &Value) -> Result<Value, ServiceError> {
    let bad = |what: &str| {
        ServiceError::bad_request(format!(
            "`{}` of an {} must be {what}, got {v}",
            f.name, kind.label
        ))
    };
    match f.ty {
        Ty::Int | Ty::Ref(_) | Ty::Service => {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(|| bad("an integer"))?;
            if let Some((lo, hi)) = f.range
                && !(lo..=hi).contains(&n)
            {
                return Err(bad(&format!("from {lo} to {hi}")));
            }
            Ok(Value::from(n))
        }
        Ty::Bool => match v {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::Number(n) => Ok(Value::Bool(n.as_i64().unwrap_or(0) != 0)),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "on" | "yes" => Ok(Value::Bool(true)),
                "false" | "0" | "off" | "no" => Ok(Value::Bool(false)),
                _ => Err(bad("a boolean")),
            },
            _ => Err(bad("a boolean")),
        },
        Ty::Str(_) | Ty::Secret => {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(bad("text")),
            };
            if let Ty::Str(max) = f.ty
                && s.chars().count() > usize::from(max)
            {
                return Err(bad(&format!("at most {max} characters")));
            }
            if !f.one_of.is_empty() && !f.one_of.contains(&s.as_str()) {
                return Err(bad(&format!("one of {:?}", f.one_of)));
            }
            Ok(Value::String(s))
        }
    }
}

/// A reference given by id or by name.
pub enum RefValue {
    Id(i64),
    Name(String),
}

/// What an input gives for a kind's row: every non-reference field checked (missing ones
/// from `old` or the defaults), references as given, for the caller to resolve.
pub struct Parsed {
    pub name: String,
    pub values: Values,
    /// Reference fields given (`def_id` by id or `def_name`, `service_id` or `service`).
    pub refs: Vec<(&'static Field, RefValue)>,
}

/// Reads `input` as a row of `kind` without touching the ODB.
pub fn parse(
    kind: &'static Kind,
    input: &Value,
    old: Option<&Values>,
) -> Result<Parsed, ServiceError> {
    refuse_unknown(kind, input)?;
    let mut i = Input::new(input);
    let name = match old {
        Some(o) => i
            .opt_str("name")
            .unwrap_or_else(|| o["name"].as_str().unwrap_or_default().to_string()),
        None => i.str("name"),
    };
    i.done()?;
    // The column holds 200 characters on every backend; control characters name nothing.
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ServiceError::bad_request(format!(
            "`name` of an {} must be at most 200 characters, without control characters",
            kind.label
        )));
    }
    let get = |k: &str| input.get(k).filter(|v| !v.is_null());
    let mut values = Map::new();
    let mut refs = Vec::new();
    let mut missing = Vec::new();
    for f in kind.fields.iter().filter(|f| f.ty != Ty::Secret) {
        let by_name = match f.ty {
            Ty::Ref(_) => get(&format!("{}_name", f.ref_stem())),
            Ty::Service => get("service").or_else(|| get("service_name")),
            _ => None,
        };
        let given = match (get(f.name), by_name) {
            (Some(v), _) => Some(check_value(kind, f, v)?),
            (None, Some(Value::String(n))) => {
                refs.push((f, RefValue::Name(n.clone())));
                continue;
            }
            (None, Some(other)) => Some(check_value(kind, f, other)?),
            (None, None) => None,
        };
        if let (Some(v), Ty::Ref(_) | Ty::Service) = (&given, f.ty) {
            refs.push((f, RefValue::Id(v.as_i64().unwrap_or_default())));
            continue;
        }
        let value = match (given, old) {
            (Some(v), _) => v,
            (None, Some(o)) => o.get(f.name).cloned().unwrap_or(Value::Null),
            (None, None) => f.default.value(),
        };
        let is_ref = matches!(f.ty, Ty::Ref(_) | Ty::Service);
        let kept_ref = is_ref && old.is_some_and(|o| !o[f.name].is_null());
        if f.required && value.is_null() && !kept_ref {
            missing.push(match f.ty {
                Ty::Ref(_) => format!("{} (or {}_name)", f.name, f.ref_stem()),
                Ty::Service => "service".to_string(),
                _ => f.name.to_string(),
            });
        }
        values.insert(f.name.to_string(), value);
    }
    if !missing.is_empty() {
        return Err(ServiceError::bad_request(format!(
            "Missing input: {}",
            missing.join(", ")
        )));
    }
    Ok(Parsed { name, values, refs })
}

/// The row `input` describes, its references resolved against the ODB.
async fn read(
    ctx: &Ctx,
    kind: &'static Kind,
    input: &Value,
    old: Option<&Values>,
) -> Result<(String, Values), ServiceError> {
    check_cluster(ctx, &Input::new(input))?;
    let mut parsed = parse(kind, input, old)?;
    for (f, given) in std::mem::take(&mut parsed.refs) {
        let id = match (given, f.ty) {
            (RefValue::Id(id), Ty::Ref(target)) => {
                if ctx
                    .state
                    .odb
                    .kind_by_id(target, ctx.state.cluster_id, id)
                    .await?
                    .is_none()
                {
                    return Err(ServiceError::new(
                        ErrorKind::NotFound,
                        format!("no {} with id {id}", target.label),
                    ));
                }
                Value::from(id)
            }
            (RefValue::Id(id), _) => Value::from(id),
            (RefValue::Name(n), Ty::Ref(target)) => resolve_ref(ctx, target, &n).await?,
            (RefValue::Name(n), _) => resolve_service(ctx, &n).await?,
        };
        parsed.values.insert(f.name.to_string(), id);
    }
    Ok((parsed.name, parsed.values))
}

async fn resolve_ref(ctx: &Ctx, target: &Kind, name: &str) -> Result<Value, ServiceError> {
    let row = ctx
        .state
        .odb
        .kind_by_name(target, ctx.state.cluster_id, name)
        .await?
        .ok_or_else(|| {
            ServiceError::new(
                ErrorKind::NotFound,
                format!("no {} named `{name}`", target.label),
            )
        })?;
    Ok(row["id"].clone())
}

async fn resolve_service(ctx: &Ctx, name: &str) -> Result<Value, ServiceError> {
    let row = ctx
        .state
        .odb
        .service_by_name(ctx.state.cluster_id, name)
        .await?
        .ok_or_else(|| ServiceError::not_found(name))?;
    Ok(Value::from(row.id))
}

/// The names of what rows of kinds declared as data point at (other kinds' rows and
/// services), read once for a whole list or export.
pub struct RefNames {
    rows: HashMap<(&'static str, i64), String>,
    services: HashMap<i64, String>,
}

impl RefNames {
    pub async fn load(odb: &Odb, cluster_id: i64) -> Result<Self, OdbError> {
        let mut rows = HashMap::new();
        for k in kinds::ALL {
            for r in odb.kind_list(k, cluster_id).await? {
                if let (Some(id), Some(name)) = (r["id"].as_i64(), r["name"].as_str()) {
                    rows.insert((k.name, id), name.to_string());
                }
            }
        }
        let services = odb
            .service_list(cluster_id)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        Ok(Self { rows, services })
    }

    /// The name the reference field `f` holding `value` points at (null when none).
    pub fn of(&self, f: &Field, value: &Value) -> Value {
        let name = value.as_i64().and_then(|id| match f.ty {
            Ty::Ref(target) => self.rows.get(&(target.name, id)),
            Ty::Service => self.services.get(&id),
            _ => None,
        });
        name.map_or(Value::Null, |n| Value::String(n.clone()))
    }

    /// Where an input or an export gives the name: `def_name`, `service_name`.
    pub fn key(f: &Field) -> String {
        match f.ty {
            Ty::Service => "service_name".to_string(),
            _ => format!("{}_name", f.ref_stem()),
        }
    }
}

/// A row as the admin API shows it: no secret, references also by name.
fn describe(kind: &Kind, row: &Values, names: &RefNames) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), row["id"].clone());
    out.insert("name".into(), row["name"].clone());
    for f in kind.fields {
        let v = row.get(f.name).cloned().unwrap_or(Value::Null);
        match f.ty {
            Ty::Secret => continue,
            Ty::Ref(_) | Ty::Service => {
                out.insert(RefNames::key(f), names.of(f, &v));
            }
            _ => {}
        }
        out.insert(f.name.to_string(), v);
    }
    Value::Object(out)
}

async fn find(ctx: &Ctx, kind: &Kind, input: &Value) -> Result<Values, ServiceError> {
    let mut i = Input::new(input);
    check_cluster(ctx, &i)?;
    let id = i.int("id")?;
    i.done()?;
    ctx.state
        .odb
        .kind_by_id(kind, ctx.state.cluster_id, id)
        .await?
        .ok_or_else(|| {
            ServiceError::new(
                ErrorKind::NotFound,
                format!("no {} with id {id}", kind.label),
            )
        })
}

async fn create(ctx: &Ctx, kind: &'static Kind, input: Value) -> ServiceResult {
    let (name, mut values) = read(ctx, kind, &input, None).await?;
    if let Some(f) = kind.secret() {
        // Upstream sets a random secret until change-password sets the real one.
        let given = Input::new(&input).opt_str(f.name);
        let secret = given.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        values.insert(
            f.name.to_string(),
            Value::String(ctx.state.cfg.secret_key.encrypt_for_odb(&secret)),
        );
    }
    let id = ctx
        .state
        .odb
        .kind_create(kind, ctx.state.cluster_id, &name, &values)
        .await?;
    ctx.state.changed(kind.name, Some(id)).await;
    Ok(json!({"id": id, "name": name}))
}

async fn edit(ctx: &Ctx, kind: &'static Kind, input: Value) -> ServiceResult {
    let old = find(
        ctx,
        kind,
        &json!({"id": input.get("id").cloned().unwrap_or(Value::Null)}),
    )
    .await?;
    let id = old["id"].as_i64().unwrap_or_default();
    let (name, values) = read(ctx, kind, &input, Some(&old)).await?;
    ctx.state
        .odb
        .kind_update(kind, ctx.state.cluster_id, id, &name, &values)
        .await?;
    ctx.state.changed(kind.name, Some(id)).await;
    Ok(json!({"id": id, "name": name}))
}

async fn get_list(ctx: &Ctx, kind: &'static Kind, input: Value) -> ServiceResult {
    check_cluster(ctx, &Input::new(&input))?;
    let rows = ctx.state.odb.kind_list(kind, ctx.state.cluster_id).await?;
    let names = RefNames::load(&ctx.state.odb, ctx.state.cluster_id).await?;
    Ok(Value::Array(
        rows.iter().map(|r| describe(kind, r, &names)).collect(),
    ))
}

async fn get_by_id(ctx: &Ctx, kind: &'static Kind, input: Value) -> ServiceResult {
    let row = find(ctx, kind, &input).await?;
    let names = RefNames::load(&ctx.state.odb, ctx.state.cluster_id).await?;
    Ok(describe(kind, &row, &names))
}

async fn delete(ctx: &Ctx, kind: &'static Kind, input: Value) -> ServiceResult {
    let row = find(ctx, kind, &input).await?;
    let id = row["id"].as_i64().unwrap_or_default();
    let users = ctx
        .state
        .odb
        .kind_users(kind, ctx.state.cluster_id, id)
        .await?;
    if !users.is_empty() {
        return Err(ServiceError::new(
            ErrorKind::Conflict,
            format!(
                "{} `{}` is used by {}; delete or edit those first",
                kind.label,
                row["name"].as_str().unwrap_or_default(),
                users.join(", ")
            ),
        ));
    }
    ctx.state
        .odb
        .kind_delete(kind, ctx.state.cluster_id, id)
        .await?;
    ctx.state.changed(kind.name, Some(id)).await;
    Ok(json!({"details": format!("Deleted `{}`", row["name"].as_str().unwrap_or_default())}))
}

async fn change_password(ctx: &Ctx, kind: &'static Kind, input: Value) -> ServiceResult {
    let row = find(
        ctx,
        kind,
        &json!({"id": input.get("id").cloned().unwrap_or(Value::Null)}),
    )
    .await?;
    let id = row["id"].as_i64().unwrap_or_default();
    let mut i = Input::new(&input);
    let password = new_password(&mut i, false)?;
    let Some(f) = kind.secret() else {
        return Err(ServiceError::bad_request(format!(
            "an {} has no password",
            kind.label
        )));
    };
    let mut values = Map::new();
    values.insert(
        f.name.to_string(),
        Value::String(ctx.state.cfg.secret_key.encrypt_for_odb(&password)),
    );
    let name = row["name"].as_str().unwrap_or_default().to_string();
    ctx.state
        .odb
        .kind_update(kind, ctx.state.cluster_id, id, &name, &values)
        .await?;
    ctx.state.changed(kind.name, Some(id)).await;
    Ok(json!({"id": id}))
}
