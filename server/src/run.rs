//! Start-up and shutdown of one server process.
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

use crate::invoke::ServerBridge;
use crate::python::{PyHost, PyHostError, native};
use crate::state::ServerState;
use crate::{broker, hotdeploy, http, services};

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
    Kvdb(String),
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
        "return_tracebacks": cfg.misc.return_tracebacks,
        "user_config_dir": cfg.dir.join("config/repo/user-conf").to_string_lossy(),
    });
    let python = PyHost::start(
        &cfg.dir.join("work/python"),
        &cfg.python.virtualenv,
        cfg.main.python_threads,
        cfg.main.python_queue_size,
        std::time::Duration::from_secs_f64(cfg.main.service_timeout),
        &init,
    )?;
    let reuse_port = cfg.main.workers > 1;
    let bind = cfg.main.bind.clone();
    let state = Arc::new(ServerState {
        origin: format!("{}:{}", server.name, std::process::id()),
        cluster_id: cluster.id,
        cluster_name: cluster.name.clone(),
        server_id: server.id,
        server_name: server.name.clone(),
        worker_index,
        builtins: services::registry(),
        python,
        routes: ArcSwap::from_pointee(Default::default()),
        outgoing: ArcSwap::from_pointee(Default::default()),
        sql_sessions: Default::default(),
        kvdb: arc_swap::ArcSwapOption::new(
            crate::outgoing::Kvdb::new(&cfg.kvdb)
                .map_err(StartError::Kvdb)?
                .map(Arc::new),
        ),
        revoked_jwts: ArcSwap::from_pointee(Default::default()),
        jwt_logins: ArcSwap::from_pointee(Default::default()),
        login_throttle: Default::default(),
        jwt_keys: crate::http::jwt::JwtKeys::new(&cfg.secret_key),
        inactive: ArcSwap::from_pointee(Default::default()),
        applied: Mutex::new(Default::default()),
        rt: tokio::runtime::Handle::current(),
        started,
        odb,
        cfg,
    });
    native::set_bridge(Arc::new(ServerBridge {
        state: Arc::downgrade(&state),
    }));
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
    state.reload_config().await?;
    crate::services::redis::take_stored(&state).await;
    let mut user_services = hotdeploy::load_packages(&state).await;
    if worker_index == 0 {
        hotdeploy::initial_scan(&state).await;
        user_services = state.python.names().len();
    }
    tracing::info!(
        "Deployed {user_services} user-defined services ({})",
        state.server_name
    );

    let listener = listen(&bind, reuse_port)?;
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
    tokio::spawn(broker::run(state.clone(), last_event, stop_rx.clone()));
    if worker_index == 0 {
        tokio::spawn(hotdeploy::watch_pickup(state.clone(), stop_rx.clone()));
    }
    tracing::info!(
        "Started `{}@{}` (pid: {}) at http://{bind} in {} ms",
        state.server_name,
        state.cluster_name,
        std::process::id(),
        started.elapsed().as_millis()
    );
    let server = tokio::spawn(http::serve(state.clone(), listener, stop_rx));
    zato_common::signals::wait_for_stop().await;
    tracing::info!(
        "Stopping server process ({}:{})",
        state.server_name,
        std::process::id()
    );
    let _ = stop_tx.send(true);
    let _ = server.await;
    if worker_index == 0 {
        let _ = state
            .odb
            .set_server_up(state.server_id, "", "", 0, "clean-down")
            .await;
    }
    state.odb.close().await;
    Ok(())
}
