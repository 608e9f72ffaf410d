//! `GET /zato/metrics`: the process's Prometheus metrics, with the gauges read at the scrape.
//! It answers on the server's own port only (the load balancer does not forward it), needs no
//! credentials like any Prometheus target, and can be switched off with `[stats] metrics`.
use std::sync::Arc;

use crate::state::ServerState;
use crate::stats::metrics::{CONTENT_TYPE, Gauges};

use super::respond::{self, Resp};

pub const PATH: &str = "/zato/metrics";

pub async fn serve(state: &Arc<ServerState>, cid: &str) -> Resp {
    let (pool, inline) = state.python.lane_state();
    let mut stored = match state.odb.async_count(state.cluster_id).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("metrics: cannot count stored async requests: {e}");
            -1
        }
    };
    let mut held = state.deferred.held();
    if let Some(r) = &state.async_redis {
        held += r.held.held();
        match r.queue.len().await {
            Ok(n) if stored >= 0 => stored += n,
            Ok(_) => {}
            Err(e) => tracing::warn!("metrics: cannot count async requests in Redis: {e}"),
        }
    }
    let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    state.stats.metrics.set(&Gauges {
        async_held: n(held),
        async_stored: stored,
        python_threads: n(pool.threads),
        python_waiting_io: n(pool.waiting_io),
        python_stuck: n(pool.stuck),
        python_queued: n(pool.queued),
        python_inline_services: n(inline),
        services_deployed: n(state.python.names().len()),
        uptime_seconds: i64::try_from(state.started.elapsed().as_secs()).unwrap_or(i64::MAX),
        events_pushed: i64::from(state.events.listening()),
    });
    let text = state.stats.metrics.render(&state.stats.metric_counts());
    respond::build(200, Some(CONTENT_TYPE), cid, text)
}
