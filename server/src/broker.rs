//! The ODB-backed broker: cluster events are rows in `cluster_event`, which every server
//! process polls. A change made on one server is live on all of them within one poll.
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use crate::hotdeploy;
use crate::state::ServerState;

pub const DEPLOY: &str = "deploy";
pub const CONFIG: &str = zato_common::odb::events::EVENT_CONFIG;
pub const SERVICE_DELETE: &str = "service_delete";
/// A logged-out JWT (`{jti, exp}`): added to every process's revoked set, nothing reloaded.
pub const JWT_REVOKED: &str = "jwt_revoked";
/// New Redis settings (`zato.outgoing.redis.*`), the password encrypted with the cluster key.
pub const KVDB: &str = "kvdb";

const POLL: Duration = Duration::from_millis(200);
/// Ids may commit out of order on PostgreSQL/MySQL; re-reading a window below the highest id
/// seen (and remembering what was handled) means none is skipped.
const WINDOW: i64 = 100;

pub async fn publish(state: &ServerState, event_type: &str, payload: Value) {
    if let Err(e) = state
        .odb
        .publish_event(
            state.cluster_id,
            event_type,
            &payload.to_string(),
            &state.origin,
        )
        .await
    {
        tracing::error!("cannot publish a `{event_type}` cluster event: {e}");
    }
}

/// Reloads this process's channel table and tells every other server process to do the same.
pub async fn config_changed(state: &ServerState) {
    if let Err(e) = state.reload_config().await {
        tracing::error!("cannot reload the configuration from the ODB: {e}");
    }
    publish(state, CONFIG, Value::Null).await;
}

async fn handle(state: &Arc<ServerState>, event_type: &str, payload: &str) {
    let payload: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    match event_type {
        CONFIG => {
            if let Err(e) = state.reload_config().await {
                tracing::error!("cannot reload the configuration after a cluster event: {e}");
            }
        }
        DEPLOY => {
            if let Some(id) = payload.get("package_id").and_then(Value::as_i64)
                && let Err(e) = hotdeploy::apply_package(state, id, false).await
            {
                tracing::error!("deployment package {id} did not deploy here: {}", e.message);
            }
        }
        SERVICE_DELETE => {
            if let Some(name) = payload.get("name").and_then(Value::as_str) {
                state.python.remove(name).await;
            }
        }
        JWT_REVOKED => match (payload["jti"].as_str(), payload["exp"].as_i64()) {
            (Some(jti), Some(exp)) => state.revoke_jwt(jti, exp),
            _ => tracing::error!("ignoring a `jwt_revoked` cluster event that cannot be read"),
        },
        KVDB => match crate::services::redis::from_wire(state, &payload) {
            Some(cfg) => crate::services::redis::use_settings(state, &cfg),
            None => tracing::error!("ignoring a `kvdb` cluster event that cannot be read"),
        },
        other => tracing::warn!("ignoring an unknown cluster event `{other}`"),
    }
}

/// Polls for events until shutdown. `start_after` is the last event id at start-up.
pub async fn run(state: Arc<ServerState>, start_after: i64, mut shutdown: watch::Receiver<bool>) {
    let mut high = start_after;
    let mut handled: BTreeSet<i64> = BTreeSet::new();
    let mut since_prune = 0u32;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => return,
        }
        let events = match state
            .odb
            .events_after(state.cluster_id, (high - WINDOW).max(start_after))
            .await
        {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("cannot read cluster events: {e}");
                continue;
            }
        };
        for ev in events {
            if !handled.insert(ev.id) {
                continue;
            }
            high = high.max(ev.id);
            if ev.origin != state.origin {
                handle(&state, &ev.event_type, &ev.payload).await;
            }
        }
        let floor = high - WINDOW;
        handled = handled.split_off(&floor);
        since_prune += 1;
        // About every ten minutes, one process per server trims old events.
        if since_prune >= 3000 && state.worker_index == 0 {
            since_prune = 0;
            if let Err(e) = state
                .odb
                .prune_events(state.cluster_id, high - 10_000)
                .await
            {
                tracing::warn!("cannot prune old cluster events: {e}");
            }
        }
    }
}
