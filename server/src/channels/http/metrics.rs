//! `GET /zato/metrics`: the server's Prometheus metrics, with the gauges read at the scrape.
//! It answers on the server's own port only (the load balancer does not forward it), needs no
//! credentials like any Prometheus target, and can be switched off with `[stats] metrics`.
//!
//! A server with several worker processes (`[main] workers`) shares one port among them, so a
//! scrape lands on any one worker. Each worker therefore also listens on a loopback port of its
//! own (in `work/metrics-worker-N.port`), where it gives its counts as JSON; the worker a scrape
//! lands on asks the others and sums them, and `zato_metrics_workers_answered` says how many
//! parts the answer holds.
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use crate::state::ServerState;
use crate::stats::metrics::{CONTENT_TYPE, Gauges, Metrics, Part};

use super::respond::{self, Resp};

pub const PATH: &str = "/zato/metrics";
/// Where a worker gives its part to the others.
const PART_PATH: &str = "/zato/metrics/part";
/// How long a scrape waits for another worker's part.
const PART_WAIT: Duration = Duration::from_secs(1);
/// Connections served at once on the loopback port; more are closed at once. Its only
/// clients are the other workers, each asking once per scrape.
const PART_CONNS: usize = 16;
/// How long one connection on the loopback port may stay open, idle or not: a local process
/// that connects and sends nothing (or a byte at a time) does not hold it longer.
const PART_CONN_LIFETIME: Duration = Duration::from_secs(5);

pub async fn serve(state: &Arc<ServerState>, cid: &str) -> Resp {
    let mut parts = vec![own_part(state).await];
    if state.cfg.main.workers > 1 {
        parts.extend(other_parts(state).await);
    }
    respond::build(200, Some(CONTENT_TYPE), cid, Metrics::render_parts(&parts))
}

/// This process's counts and gauges.
async fn own_part(state: &ServerState) -> Part {
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
    let gauges = Gauges {
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
        workers_answered: 1,
    };
    state
        .stats
        .metrics
        .part(state.stats.metric_counts(), gauges)
}

fn port_file(dir: &Path, worker: u32) -> PathBuf {
    dir.join("work")
        .join(format!("metrics-worker-{worker}.port"))
}

/// The other workers' parts; one that does not answer in time is left out (and the
/// workers-answered gauge shows it).
async fn other_parts(state: &ServerState) -> Vec<Part> {
    // One client for the process, keeping no idle connections: the other workers close theirs
    // after PART_CONN_LIFETIME, and a kept one could be reused just as it is closed.
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let http = CLIENT.get_or_init(|| {
        zato_common::http::local_client_builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap_or_default()
    });
    let asks = (0..state.cfg.main.workers)
        .filter(|w| *w != state.worker_index)
        .map(|w| {
            let http = http.clone();
            let file = port_file(&state.cfg.dir, w);
            async move {
                let port: u16 = tokio::fs::read_to_string(&file)
                    .await
                    .ok()?
                    .trim()
                    .parse()
                    .ok()?;
                let url = format!("http://127.0.0.1:{port}{PART_PATH}");
                let resp = http.get(&url).timeout(PART_WAIT).send().await.ok()?;
                match resp.json::<Part>().await {
                    Ok(p) => Some(p),
                    Err(e) => {
                        tracing::warn!("metrics: worker {w}'s part at {url} is unreadable: {e}");
                        None
                    }
                }
            }
        });
    futures_util::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Listens on a loopback port for the other workers' scrapes and records it in `work/`.
pub async fn serve_part(state: Arc<ServerState>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    zato_common::files::write_atomic(
        &port_file(&state.cfg.dir, state.worker_index),
        &port.to_string(),
        0o600,
    )?;
    let slots = Arc::new(tokio::sync::Semaphore::new(PART_CONNS));
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                continue; // Dropping the stream closes it.
            };
            let state = state.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    async move {
                        let resp = if req.uri().path() == PART_PATH {
                            let part = own_part(&state).await;
                            let body = serde_json::to_vec(&part).unwrap_or_default();
                            respond::build(200, Some(respond::JSON), "", body)
                        } else {
                            respond::build(404, None, "", "")
                        };
                        Ok::<_, Infallible>(resp)
                    }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc);
                let _ = tokio::time::timeout(PART_CONN_LIFETIME, conn).await;
                drop(slot);
            });
        }
    });
    Ok(())
}
