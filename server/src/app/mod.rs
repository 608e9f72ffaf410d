//! Wiring: start-up and shutdown of one server process. Builds the handles, registers the
//! built-in services and the event handlers, spawns the tasks.
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arc_swap::ArcSwap;
use serde_json::json;
use thiserror::Error;
use tokio::sync::watch;
use zato_common::config::{ConfigError, ServerConfig};
use zato_common::odb::services::Deployment;
use zato_common::odb::{Odb, OdbError, schema};

use crate::events::{Bus, ClusterEvent, changed_topic};
use crate::python::{PyHost, PyHostError, native};
use crate::state::ServerState;
use crate::{admin, channels, deploy, objects};

mod bridge;

use bridge::ServerBridge;

#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Odb(#[from] OdbError),
    #[error(
        "this server's token is not in the ODB (was the ODB re-created?); create the server again with `zato create server`"
    )]
    UnknownServer,
    #[error("the server's cluster (id {0}) is missing from the ODB")]
    NoCluster(i64),
    #[error(transparent)]
    Python(#[from] PyHostError),
    #[error("[kvdb]: {0}")]
    Kvdb(crate::connectors::ConnError),
    #[error("[main] bind = `{0}` is not an address:port")]
    BadBind(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

fn listen(bind: &str, reuse_port: bool) -> Result<tokio::net::TcpListener, StartError> {
    let addr: SocketAddr = bind
        .parse()
        .map_err(|_| StartError::BadBind(bind.to_string()))?;
    let err = |source| StartError::Listen {
        addr: bind.to_string(),
        source,
    };
    // Worker processes of one server share the port.
    let std = zato_common::net::bind(addr, reuse_port).map_err(err)?;
    tokio::net::TcpListener::from_std(std).map_err(err)
}

/// Runs a server process until SIGTERM or SIGINT.
pub async fn run(dir: &Path, worker_index: u32) -> Result<(), StartError> {
    let started = Instant::now();
    let cfg = ServerConfig::load(dir)?;
    let odb = Odb::connect(&cfg.odb).await?;
    schema::upgrade(&odb).await?;
    let server = odb
        .server_by_token(&cfg.main.token)
        .await?
        .ok_or(StartError::UnknownServer)?;
    let cluster = odb
        .cluster_by_id(server.cluster_id)
        .await?
        .ok_or(StartError::NoCluster(server.cluster_id))?;

    let init = json!({
        "server_name": server.name,
        "cluster_name": cluster.name,
        "cluster_id": cluster.id,
        "server_id": server.id,
        "return_tracebacks": cfg.misc.return_tracebacks,
        "user_config_dir": cfg.dir.join("config/repo/user-conf").to_string_lossy(),
        "server_dir": cfg.dir.to_string_lossy(),
        "python_env": cfg.python.env_dir(&cfg.dir).map(|p| p.to_string_lossy().into_owned()),
    });
    let python = PyHost::start(
        &cfg.dir.join("work/python"),
        cfg.main.python_threads,
        cfg.main.python_queue_size,
        std::time::Duration::from_secs_f64(cfg.main.service_timeout),
        &init,
    )?;
    let reuse_port = cfg.main.workers > 1;
    let bind = cfg.main.bind.clone();
    let redis_wake = if cfg.kvdb.is_configured() {
        match zato_common::kvdb_wake::RedisWake::new(&cfg.kvdb, &cluster.name) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!("no wake-ups through Redis ({e}); other servers are polled");
                None
            }
        }
    } else {
        None
    };
    let events = Arc::new(Bus::new(
        odb.clone(),
        cluster.id,
        format!("{}:{}", server.name, std::process::id()),
        redis_wake,
    ));
    let tables = crate::objects::Tables::default();
    let watched = tables.watched.clone();
    let stats = Arc::new(crate::stats::Stats::new(watched.clone()));
    // The statistics observer logs slow responses itself (and keeps them).
    let observers: Vec<Arc<dyn crate::core::Observer>> = if cfg.stats.enabled {
        vec![stats.clone()]
    } else {
        vec![Arc::new(crate::invoke::observe::SlowResponses { watched })]
    };
    let mut connectors = crate::connectors::Connectors::default();
    #[cfg(feature = "amqp")]
    {
        let out = Arc::new(crate::connectors::amqp::AmqpOut::new(
            cfg.secret_key.clone(),
        ));
        tables.listen(out.clone());
        connectors.insert("amqp", out);
    }
    // This process on the leases of async requests (server name, pid and start time).
    let holder = format!(
        "{}:{}.{worker_index}:{}",
        server.name,
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    let async_redis = if cfg.kvdb.is_configured() {
        let lease = crate::core::deferred::LEASE
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(3));
        let queue = zato_common::kvdb_queue::RedisQueue::new(&cfg.kvdb, &cluster.name, lease)
            .map_err(|e| StartError::Kvdb(crate::connectors::ConnError::config(e.to_string())))?;
        Some(crate::core::deferred::RedisDeferred {
            queue: Arc::new(queue),
            held: crate::core::deferred::Deferred::new(holder.clone()),
        })
    } else {
        None
    };
    let state = Arc::new(ServerState {
        events,
        cluster_id: cluster.id,
        cluster_name: cluster.name.clone(),
        server_id: server.id,
        server_name: server.name.clone(),
        worker_index,
        builtins: admin::registry(),
        python,
        tables,
        connectors,
        observers,
        stats,
        sql_sessions: Default::default(),
        kvdb: arc_swap::ArcSwapOption::new(
            crate::connectors::Kvdb::new(&cfg.kvdb)
                .map_err(StartError::Kvdb)?
                .map(Arc::new),
        ),
        revoked_jwts: ArcSwap::from_pointee(Default::default()),
        login_throttle: Default::default(),
        jwt_keys: crate::security::jwt::JwtKeys::new(&cfg.secret_key),
        applied: Mutex::new(Default::default()),
        background: tokio::sync::Semaphore::new((cfg.main.python_queue_size / 2).max(1)),
        deferred: crate::core::deferred::Deferred::new(holder.clone()),
        async_redis,
        rt: tokio::runtime::Handle::current(),
        started,
        started_wall: std::time::SystemTime::now() - started.elapsed(),
        odb,
        cfg,
    });
    native::set_bridge(Arc::new(ServerBridge {
        state: Arc::downgrade(&state),
    }));
    subscribe(&state);
    tokio::spawn(crate::invoke::deferred::serve(state.clone()));
    if state.async_redis.is_some() {
        tokio::spawn(crate::invoke::deferred::serve_redis(state.clone()));
    }
    if state.cfg.stats.enabled {
        tokio::spawn(crate::stats::flush::run(
            state.stats.clone(),
            state.stats_sink(),
            std::time::Duration::from_secs_f64(state.cfg.stats.flush_interval),
        ));
    }
    if worker_index == 0 {
        tokio::spawn(crate::connectors::cache::prune_forever(
            state.odb.clone(),
            state.cluster_id,
        ));
    }
    // Events published from here on are seen by the broker loop.
    let last_event = state.odb.last_event_id(state.cluster_id).await?;
    if worker_index == 0 {
        let mut names: Vec<&'static str> = state.builtins.keys().copied().collect();
        names.sort_unstable();
        let items: Vec<Deployment<'_>> = names
            .iter()
            .map(|n| Deployment {
                name: n,
                impl_name: n,
                is_internal: true,
                source: None,
                source_path: None,
                source_hash: None,
            })
            .collect();
        state
            .odb
            .record_deployments(state.cluster_id, state.server_id, &items)
            .await?;
    }
    state.reload_all().await?;
    admin::redis::take_stored(&state).await;
    let mut user_services = deploy::load_packages(&state).await;
    if worker_index == 0 {
        deploy::initial_scan(&state).await;
        user_services = state.python.names().len();
    }
    tracing::info!(
        "Deployed {user_services} user-defined services ({})",
        state.server_name
    );
    // Broker channels start once the services they call are deployed: a message must not
    // meet a service that is not there yet (it would be retried, then dead-lettered).
    #[cfg(feature = "amqp")]
    state
        .tables
        .listen(Arc::new(channels::amqp::AmqpChannels::new(Arc::downgrade(
            &state,
        ))));

    let listener = listen(&bind, reuse_port)?;
    // Workers share the port, so each gives its metrics to the others on a port of its own.
    if reuse_port && let Err(e) = channels::http::metrics::serve_part(state.clone()).await {
        tracing::warn!("metrics: the other workers cannot read this one's counts: {e}");
    }
    if worker_index == 0 {
        let (host, port) = bind.rsplit_once(':').unwrap_or((&bind, "0"));
        let host_name = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        state
            .odb
            .set_server_up(
                state.server_id,
                &host_name,
                host,
                port.parse().unwrap_or(0),
                "running",
            )
            .await?;
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(
        state
            .events
            .clone()
            .run(last_event, worker_index == 0, stop_rx.clone()),
    );
    if worker_index == 0 {
        tokio::spawn(deploy::watch_pickup(state.clone(), stop_rx.clone()));
    }
    tracing::info!(
        "Started `{}@{}` (pid: {}) at http://{bind} in {} ms",
        state.server_name,
        state.cluster_name,
        std::process::id(),
        started.elapsed().as_millis()
    );
    let server = tokio::spawn(channels::http::serve(state.clone(), listener, stop_rx));
    zato_common::signals::wait_for_stop().await;
    tracing::info!(
        "Stopping server process ({}:{})",
        state.server_name,
        std::process::id()
    );
    let _ = stop_tx.send(true);
    let _ = server.await;
    // Consumers of broker channels finish their running services and settle their messages.
    state.tables.stop_listeners().await;
    if state.cfg.stats.enabled {
        crate::stats::flush::flush(&state.stats, &state.stats_sink()).await;
    }
    if worker_index == 0 {
        let _ = state
            .odb
            .set_server_up(state.server_id, "", "", 0, "clean-down")
            .await;
    }
    state.odb.close().await;
    Ok(())
}

/// Who reacts to which cluster event. Handlers hold the state weakly: the bus is part of it.
fn subscribe(state: &Arc<ServerState>) {
    let bus = state.events.clone();
    let on = |topic: String, f: fn(Arc<ServerState>, ClusterEvent) -> crate::events::HandlerFut| {
        let weak = Arc::downgrade(state);
        bus.subscribe(
            topic,
            Arc::new(move |ev| match weak.upgrade() {
                Some(st) => f(st, ev),
                None => Box::pin(async {}),
            }),
        );
    };
    for kind in objects::Tables::kinds() {
        on(changed_topic(kind), |st, ev| {
            Box::pin(async move {
                if let ClusterEvent::Changed { kind, id } = ev
                    && let Err(e) = st.tables.reload(&st.source(), &kind, id).await
                {
                    tracing::error!("cannot reload `{kind}` objects from the ODB: {e}");
                }
            })
        });
    }
    // Jobs are the schedulers' (they read these events from the ODB); servers hold no table.
    on(changed_topic(crate::admin::scheduler::JOB), |_, _| {
        Box::pin(async {})
    });
    on(ClusterEvent::Config.topic(), |st, _| {
        Box::pin(async move {
            if let Err(e) = st.reload_all().await {
                tracing::error!("cannot reload the configuration from the ODB: {e}");
            }
        })
    });
    on("deploy".into(), |st, ev| {
        Box::pin(async move {
            if let ClusterEvent::Deploy { package_id } = ev
                && let Err(e) = deploy::apply_package(&st, package_id, false).await
            {
                tracing::error!(
                    "deployment package {package_id} did not deploy here: {}",
                    e.message
                );
            }
        })
    });
    on("service_delete".into(), |st, ev| {
        Box::pin(async move {
            if let ClusterEvent::ServiceDelete { name } = ev {
                st.python.remove(&name).await;
            }
        })
    });
    on("jwt_revoked".into(), |st, ev| {
        Box::pin(async move {
            if let ClusterEvent::JwtRevoked { jti, exp } = ev {
                st.revoke_jwt(&jti, exp);
            }
        })
    });
    on("kvdb".into(), |st, ev| {
        Box::pin(async move {
            if let ClusterEvent::Kvdb(payload) = ev {
                match admin::redis::from_wire(&st, &payload) {
                    Some(cfg) => admin::redis::use_settings(&st, &cfg),
                    None => tracing::error!("ignoring a `kvdb` cluster event that cannot be read"),
                }
            }
        })
    });
}
