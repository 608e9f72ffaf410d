//! `zato.service.*`: listing, inspecting, editing, deleting, invoking and uploading services.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use zato_common::admin::InvokeRequest;
use zato_common::odb::services::ServiceRow;

use super::{Builtin, Ctx, Input, ServiceError, ServiceResult, check_cluster};
use crate::events::ClusterEvent;
use crate::{builtin, deploy, io, objects};

fn describe(ctx: &Ctx, s: &ServiceRow) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "is_active": s.is_active,
        "impl_name": s.impl_name,
        "is_internal": s.is_internal,
        "may_be_deleted": !s.is_internal,
        "slow_threshold": s.slow_threshold,
        "is_deployed": ctx.state.service_exists(&s.name),
    })
}

pub(super) async fn find(ctx: &Ctx, input: &Value) -> Result<ServiceRow, ServiceError> {
    let i = Input::new(input);
    check_cluster(ctx, &i)?;
    let cluster = ctx.state.cluster_id;
    if let Some(id) = i.opt_int("id")? {
        return ctx
            .state
            .odb
            .service_by_id(cluster, id)
            .await?
            .ok_or_else(|| {
                ServiceError::new(
                    crate::core::ErrorKind::NotFound,
                    format!("No service with id {id}"),
                )
            });
    }
    match i.opt_str("name") {
        Some(name) => ctx
            .state
            .odb
            .service_by_name(cluster, &name)
            .await?
            .ok_or_else(|| ServiceError::not_found(&name)),
        None => Err(ServiceError::bad_request("Missing input: id or name")),
    }
}

async fn get_list(ctx: &Ctx, input: Value) -> ServiceResult {
    let i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let query = i.opt_str("query").unwrap_or_default().to_lowercase();
    let rows = ctx.state.odb.service_list(ctx.state.cluster_id).await?;
    Ok(Value::Array(
        rows.iter()
            .filter(|s| query.is_empty() || s.name.to_lowercase().contains(&query))
            .map(|s| describe(ctx, s))
            .collect(),
    ))
}

async fn get_one(ctx: &Ctx, input: Value) -> ServiceResult {
    let row = find(ctx, &input).await?;
    Ok(describe(ctx, &row))
}

async fn is_deployed(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    let name = i.str("name");
    i.done()?;
    Ok(json!({"is_deployed": ctx.state.service_exists(&name)}))
}

async fn edit(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let id = i.int("id")?;
    let is_active = i.opt_bool("is_active")?;
    let slow_threshold = i.opt_int("slow_threshold")?;
    i.done()?;
    if ctx
        .state
        .odb
        .service_edit(ctx.state.cluster_id, id, is_active, slow_threshold)
        .await?
        == 0
    {
        return Err(ServiceError::new(
            crate::core::ErrorKind::NotFound,
            format!("No service with id {id}"),
        ));
    }
    ctx.state.changed(objects::SERVICE, Some(id)).await;
    get_one(ctx, json!({"id": id})).await
}

async fn delete(ctx: &Ctx, input: Value) -> ServiceResult {
    let row = find(ctx, &input).await?;
    if row.is_internal {
        return Err(ServiceError::bad_request(format!(
            "Service `{}` is internal and cannot be deleted",
            row.name
        )));
    }
    ctx.state
        .odb
        .service_delete(ctx.state.cluster_id, row.id)
        .await?;
    ctx.state.python.remove(&row.name).await;
    ctx.state
        .events
        .publish(&ClusterEvent::ServiceDelete {
            name: row.name.clone(),
        })
        .await;
    Ok(json!({"details": format!("Service `{}` deleted", row.name)}))
}

async fn get_source_info(ctx: &Ctx, input: Value) -> ServiceResult {
    let row = find(ctx, &input).await?;
    let deployed = ctx.state.odb.deployed_on(row.id).await?;
    let mine = deployed
        .iter()
        .find(|d| d.server_id == ctx.state.server_id)
        .or(deployed.first());
    Ok(match mine {
        Some(d) => json!({
            "service_id": row.id,
            "name": row.name,
            "server_name": d.server_name,
            "source": d.source.as_ref().map(|s| String::from_utf8_lossy(s).into_owned()),
            "source_path": d.source_path,
            "source_hash": d.source_hash,
            "source_hash_method": "sha256",
            "deployment_time": d.deployment_time,
        }),
        None => json!({"service_id": row.id, "name": row.name, "source": null}),
    })
}

/// The admin-invoke request shape as a service (so `self.invoke('zato.service.invoke')` works).
async fn invoke(ctx: &Ctx, input: Value) -> ServiceResult {
    let req: InvokeRequest = serde_json::from_value(input)
        .map_err(|e| ServiceError::bad_request(format!("Invalid invoke request: {e}")))?;
    let data = crate::invoke::request::invoke_from_request(&ctx.state, &ctx.cid, &req).await?;
    Ok(json!({"response": B64.encode(data.to_string())}))
}

async fn upload_package(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let payload = i.str("payload");
    let payload_name = i.str("payload_name");
    i.done()?;
    let bytes = B64
        .decode(payload.trim())
        .map_err(|e| ServiceError::bad_request(format!("Invalid base64 in `payload`: {e}")))?;
    let names = deploy::deploy_new(&ctx.state, &payload_name, &bytes, "upload-package").await?;
    Ok(json!({"services_deployed": names}))
}

const DESCRIBED: &[&str] = &[
    "id",
    "name",
    "is_active",
    "impl_name",
    "is_internal",
    "may_be_deleted",
    "slow_threshold",
    "is_deployed",
];

/// Paging and filtering keys upstream's list services take.
const LIST_IGNORED: &[&str] = &["cur_page", "paginate", "should_include_scheduler"];

pub fn services() -> Vec<Builtin> {
    vec![
        builtin!(
            "zato.service.get-list",
            get_list,
            &io! {
                doc: "The cluster's services; `query` keeps those whose name contains it.",
                optional: &["query"],
                ignored: LIST_IGNORED,
                output: DESCRIBED,
            }
        ),
        builtin!(
            "zato.service.get-by-name",
            get_one,
            &io! {
                doc: "One service, by name (or id).",
                optional: &["name", "id"],
                output: DESCRIBED,
            }
        ),
        builtin!(
            "zato.service.get-by-id",
            get_one,
            &io! {
                doc: "One service, by id (or name).",
                optional: &["id", "name"],
                output: DESCRIBED,
            }
        ),
        builtin!(
            "zato.service.is-deployed",
            is_deployed,
            &io! {
                doc: "Whether a service of that name is deployed on this server.",
                required: &["name"],
                output: &["is_deployed"],
            }
        ),
        builtin!(
            "zato.service.edit",
            edit,
            &io! {
                doc: "Activates or deactivates a service, or sets its slow-response threshold (ms).",
                required: &["id"],
                optional: &["is_active", "slow_threshold"],
                ignored: &["is_json_schema_enabled", "needs_json_schema_err_details",
                    "is_rate_limit_active", "rate_limit_type", "rate_limit_def",
                    "rate_limit_check_parent_def"],
                output: DESCRIBED,
            }
        ),
        builtin!(
            "zato.service.delete",
            delete,
            &io! {
                doc: "Deletes a service (not an internal one) from the cluster and undeploys it.",
                optional: &["id", "name"],
                output: &["details"],
            }
        ),
        builtin!(
            "zato.service.get-source-info",
            get_source_info,
            &io! {
                doc: "The source code a service was deployed from, and where.",
                optional: &["id", "name"],
                output: &["service_id", "name", "server_name", "source", "source_path",
                    "source_hash", "source_hash_method", "deployment_time"],
            }
        ),
        builtin!(
            "zato.service.invoke",
            invoke,
            &io! {
                doc: "Invokes a service by name or id with a base64 payload; the answer is base64 too.",
                optional: &["name", "id", "payload", "channel", "data_format", "transport",
                    "is_async", "async"],
                ignored: &["expiration", "pid", "all_pids", "timeout", "skip_response_elem",
                    "needs_response_time", "needs_headers"],
                output: &["response"],
            }
        ),
        builtin!(
            "zato.service.upload-package",
            upload_package,
            &io! {
                doc: "Deploys a Python file (base64 `payload`, file name `payload_name`) on every server.",
                required: &["payload", "payload_name"],
                output: &["services_deployed"],
            }
        ),
    ]
}
