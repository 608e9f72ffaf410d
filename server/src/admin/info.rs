//! `zato.server.get-list`, `zato.info.get-server-info` and `zato.cluster.get-event-position`.
use serde_json::{Value, json};

use super::{Builtin, Ctx, Input, ServiceResult, check_cluster};
use crate::{builtin, io};

async fn server_get_list(ctx: &Ctx, input: Value) -> ServiceResult {
    check_cluster(ctx, &Input::new(&input))?;
    let servers = ctx.state.odb.server_list(ctx.state.cluster_id).await?;
    Ok(serde_json::to_value(servers).unwrap_or(Value::Null))
}

async fn get_server_info(ctx: &Ctx, _input: Value) -> ServiceResult {
    let st = &ctx.state;
    Ok(json!({
        "server_id": st.server_id,
        "server_name": st.server_name,
        "cluster_id": st.cluster_id,
        "cluster_name": st.cluster_name,
        "pid": std::process::id(),
        "worker_index": st.worker_index,
        "workers": st.cfg.main.workers,
        "bind": st.cfg.main.bind,
        "uptime_seconds": st.started.elapsed().as_secs(),
        "python_threads": st.python.live_threads(),
        "python_services": st.python.names().len(),
        "builtin_services": st.builtins.len(),
        "channels": st.tables.channels.load().len(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

async fn get_event_position(ctx: &Ctx, _input: Value) -> ServiceResult {
    let st = &ctx.state;
    let latest = st.odb.last_event_id(st.cluster_id).await?;
    Ok(json!({
        "server": st.server_name,
        "applied": st.events.applied(),
        "latest": latest,
        "pid": std::process::id(),
        "workers": st.cfg.main.workers,
    }))
}

pub fn services() -> Vec<Builtin> {
    vec![
        builtin!(
            "zato.server.get-list",
            server_get_list,
            &io! {
                doc: "The cluster's servers as recorded in the ODB.",
                output: &["id", "cluster_id", "name", "host", "bind_host", "bind_port",
                    "last_join_status", "last_join_mod_date", "last_join_mod_by", "up_status",
                    "up_mod_date"],
            }
        ),
        builtin!(
            "zato.info.get-server-info",
            get_server_info,
            &io! {
                doc: "What this server process is: ids, bind address, uptime, thread and object counts.",
                output: &["server_id", "server_name", "cluster_id", "cluster_name", "pid",
                    "worker_index", "workers", "bind", "uptime_seconds", "python_threads",
                    "python_services", "builtin_services", "channels", "version"],
            }
        ),
        builtin!(
            "zato.cluster.get-event-position",
            get_event_position,
            &io! {
                doc: "How far this server process has followed the cluster's changes: `applied`, the last event it has handled, and `latest`, the last one published. `zato` commands that change the cluster wait until every process has applied `latest`.",
                output: &["server", "applied", "latest", "pid", "workers"],
            }
        ),
    ]
}
