//! `zato.enmasse.export` and `zato.enmasse.import`: the cluster's configuration as one file
//! (`zato enmasse`). Import checks the whole file first ([`plan`]) and then writes everything
//! in one ODB transaction: a file with any problem changes nothing.
use std::collections::HashMap;

use serde_json::{Value, json};

use super::{Builtin, Ctx, Input, ServiceError, ServiceResult, check_cluster};
use zato_common::odb::kinds::{self, Ty};

use super::kinds::RefValue;
use crate::events::ClusterEvent;
use crate::{builtin, io};

mod export;
pub(crate) mod plan;

use plan::{Current, Plan};

pub const SECURITY: &str = "security";
pub const CHANNEL_REST: &str = "channel_rest";
pub const CHANNEL_SOAP: &str = "channel_soap";
pub const OUTGOING_REST: &str = "outgoing_rest";
pub const OUTGOING_SOAP: &str = "outgoing_soap";
pub const OUTCONN_SQL: &str = "outconn_sql";
pub const SCHEDULER: &str = "scheduler";

async fn current(ctx: &Ctx) -> Result<Current, ServiceError> {
    let (odb, cluster) = (&ctx.state.odb, ctx.state.cluster_id);
    Ok(Current {
        secs: odb.security_list(cluster, None).await?,
        rows: odb.http_soap_list(cluster).await?,
        pools: odb.sql_pool_list(cluster).await?,
        jobs: odb.job_list(cluster).await?,
        services: odb
            .service_list(cluster)
            .await?
            .into_iter()
            .map(|s| (s.name, s.id))
            .collect(),
        kind_rows: {
            let mut rows = HashMap::new();
            for k in kinds::ALL {
                rows.insert(k.name, odb.kind_list(k, cluster).await?);
            }
            rows
        },
    })
}

/// What was written: "type `name`" lists.
#[derive(Default)]
struct Done {
    created: Vec<String>,
    updated: Vec<String>,
}

impl Done {
    fn record(&mut self, existed: bool, object_type: &str, name: &str) {
        let what = format!("{object_type} `{name}`");
        if existed {
            self.updated.push(what);
        } else {
            self.created.push(what);
        }
    }
}

/// Writes the plan in one transaction; a dry run rolls it back, so it meets every refusal the
/// ODB would give and still changes nothing.
async fn apply(
    ctx: &Ctx,
    plan: &Plan,
    current: &Current,
    dry_run: bool,
) -> Result<Done, zato_common::odb::OdbError> {
    let (odb, cluster) = (&ctx.state.odb, ctx.state.cluster_id);
    let key = &ctx.state.cfg.secret_key;
    let mut done = Done::default();
    let mut tx = odb.begin_write().await?;
    let mut sec_ids: HashMap<String, i64> = current
        .secs
        .iter()
        .map(|d| (d.name.clone(), d.id))
        .collect();
    for s in &plan.security {
        let id = match s.id {
            Some(id) => {
                odb.security_edit_on(&mut tx, cluster, id, &s.sec_type, &s.input)
                    .await?;
                if let Some(p) = &s.password {
                    odb.security_set_password_on(&mut tx, cluster, id, &key.encrypt_for_odb(p))
                        .await?;
                }
                id
            }
            None => {
                // As create does: a random secret when the file gives none.
                let password = s
                    .password
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
                odb.security_create_on(
                    &mut tx,
                    cluster,
                    &s.sec_type,
                    &s.input,
                    &key.encrypt_for_odb(&password),
                )
                .await?
            }
        };
        sec_ids.insert(s.input.name.clone(), id);
        done.record(s.id.is_some(), SECURITY, &s.input.name);
    }
    for h in &plan.http {
        let mut input = h.input.clone();
        input.security_id = h
            .security_name
            .as_ref()
            .and_then(|n| sec_ids.get(n).copied());
        input.service_id = h
            .service
            .as_ref()
            .and_then(|n| current.services.get(n).copied());
        match h.id {
            Some(id) => odb.http_soap_edit_on(&mut tx, cluster, id, &input).await?,
            None => {
                odb.http_soap_create_on(&mut tx, cluster, &input).await?;
            }
        }
        done.record(h.id.is_some(), h.object_type, &input.name);
    }
    for p in &plan.sql {
        let stored = p.password.as_deref().map(|pw| key.encrypt_for_odb(pw));
        match p.id {
            Some(id) => {
                odb.sql_pool_edit_on(&mut tx, cluster, id, &p.input).await?;
                if let Some(s) = &stored {
                    odb.sql_pool_set_password_on(&mut tx, cluster, id, s)
                        .await?;
                }
            }
            None => {
                odb.sql_pool_create_on(&mut tx, cluster, &p.input, stored.as_deref().unwrap_or(""))
                    .await?;
            }
        }
        done.record(p.id.is_some(), OUTCONN_SQL, &p.input.name);
    }
    for j in &plan.jobs {
        let mut input = j.input.clone();
        input.service_id = current
            .services
            .get(&j.service)
            .copied()
            .unwrap_or_default();
        match j.id {
            Some(id) => odb.job_edit_on(&mut tx, cluster, id, &input).await?,
            None => {
                odb.job_create_on(&mut tx, cluster, &input).await?;
            }
        }
        done.record(j.id.is_some(), SCHEDULER, &input.name);
    }
    apply_kinds(ctx, plan, current, &mut tx, &mut done).await?;
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(done)
}

/// Objects of kinds declared as data, in the kinds' order (a kind after those it points at).
async fn apply_kinds(
    ctx: &Ctx,
    plan: &Plan,
    current: &Current,
    tx: &mut sqlx::AnyConnection,
    done: &mut Done,
) -> Result<(), zato_common::odb::OdbError> {
    let (odb, cluster) = (&ctx.state.odb, ctx.state.cluster_id);
    let key = &ctx.state.cfg.secret_key;
    let mut ids: HashMap<(&'static str, String), i64> = current
        .kind_rows
        .iter()
        .flat_map(|(k, rows)| {
            rows.iter().filter_map(move |r| {
                Some(((*k, r["name"].as_str()?.to_string()), r["id"].as_i64()?))
            })
        })
        .collect();
    for kind in kinds::ALL {
        for p in plan.kinds.iter().filter(|p| p.kind == *kind) {
            let mut values = p.parsed.values.clone();
            for (f, given) in &p.parsed.refs {
                let id = match (given, f.ty) {
                    (RefValue::Name(n), Ty::Ref(target)) => {
                        ids.get(&(target.name, n.clone())).copied()
                    }
                    (RefValue::Name(n), _) => current.services.get(n).copied(),
                    (RefValue::Id(id), _) => Some(*id),
                };
                values.insert(f.name.to_string(), id.map_or(Value::Null, Value::from));
            }
            if let Some(f) = kind.secret() {
                // As create does: a random secret when the file gives none.
                let secret = match (&p.password, p.id) {
                    (Some(s), _) => Some(s.clone()),
                    (None, None) => Some(uuid::Uuid::new_v4().simple().to_string()),
                    (None, Some(_)) => None,
                };
                if let Some(s) = secret {
                    values.insert(f.name.to_string(), Value::String(key.encrypt_for_odb(&s)));
                }
            }
            let id = match p.id {
                Some(id) => {
                    odb.kind_update_on(tx, kind, cluster, id, &p.parsed.name, &values)
                        .await?;
                    id
                }
                None => {
                    odb.kind_create_on(tx, kind, cluster, &p.parsed.name, &values)
                        .await?
                }
            };
            ids.insert((kind.name, p.parsed.name.clone()), id);
            done.record(p.id.is_some(), kind.enmasse, &p.parsed.name);
        }
    }
    Ok(())
}

/// `{objects: {type: [object, ...]}, replace, ignore_missing_defs, dry_run}` →
/// `{ok, problems: [{type, name, field, message}], created, updated, skipped, dry_run}`; a dry
/// run says what would be created and updated and changes nothing.
async fn import(ctx: &Ctx, input: Value) -> ServiceResult {
    let i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let replace = i.opt_bool("replace")?.unwrap_or(false);
    let ignore = i.opt_bool("ignore_missing_defs")?.unwrap_or(false);
    let dry_run = i.opt_bool("dry_run")?.unwrap_or(false);
    let objects = input.get("objects").cloned().unwrap_or(Value::Null);
    let current = current(ctx).await?;
    let plan = Plan::build(&objects, &current, replace, ignore);
    if !plan.problems.is_empty() {
        return Ok(json!({
            "ok": false,
            "problems": plan.problems.iter().map(plan::Problem::to_json).collect::<Vec<_>>(),
            "skipped": plan.skipped,
        }));
    }
    let done = apply(ctx, &plan, &current, dry_run).await.map_err(|e| {
        let e = ServiceError::from(e);
        ServiceError::new(
            e.kind,
            format!(
                "The ODB refused the import, nothing was changed: {}",
                e.message
            ),
        )
    })?;
    if dry_run {
        return Ok(json!({
            "ok": true, "problems": [], "created": done.created, "updated": done.updated,
            "skipped": plan.skipped, "dry_run": true,
        }));
    }
    // An import touches several kinds at once.
    if let Err(e) = ctx.state.reload_all().await {
        tracing::error!("cannot reload the configuration from the ODB: {e}");
    }
    ctx.state.events.publish(&ClusterEvent::Config).await;
    Ok(json!({
        "ok": true, "problems": [], "created": done.created, "updated": done.updated,
        "skipped": plan.skipped,
    }))
}

pub fn services() -> Vec<Builtin> {
    vec![
        builtin!(
            "zato.enmasse.export",
            export::export,
            &io! {
                doc: "The cluster's configuration: a map from each enmasse type (security, channel_rest, ...) to its objects, secrets as placeholders.",
            }
        ),
        builtin!(
            "zato.enmasse.import",
            import,
            &io! {
                doc: "Checks every object first and applies all of them in one transaction, or none; `replace` updates existing ones; `dry_run` says what would be created and updated, and changes nothing.",
                required: &["objects"],
                optional: &["replace", "ignore_missing_defs", "dry_run"],
                output: &["ok", "problems", "created", "updated", "skipped", "dry_run"],
            }
        ),
    ]
}
