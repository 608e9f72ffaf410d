//! `zato.service.*`: listing, inspecting, editing, deleting, invoking and uploading services.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use zato_common::admin::InvokeRequest;
use zato_common::odb::services::ServiceRow;

use super::{Builtin, Ctx, Input, ServiceError, ServiceResult, check_cluster};
use crate::events::ClusterEvent;
use crate::{builtin, deploy, objects};

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

async fn find(ctx: &Ctx, input: &Value) -> Result<ServiceRow, ServiceError> {
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

pub fn services() -> Vec<Builtin> {
    vec![
        builtin!("zato.service.get-list", get_list),
        builtin!("zato.service.get-by-name", get_one),
        builtin!("zato.service.get-by-id", get_one),
        builtin!("zato.service.is-deployed", is_deployed),
        builtin!("zato.service.edit", edit),
        builtin!("zato.service.delete", delete),
        builtin!("zato.service.get-source-info", get_source_info),
        builtin!("zato.service.invoke", invoke),
        builtin!("zato.service.upload-package", upload_package),
    ]
}
