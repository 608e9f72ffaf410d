//! Start-up: config → TLS → frontend and agent listeners → serve until SIGTERM, then drain.
use std::path::Path;
use std::time::Instant;

use thiserror::Error;
use tokio::net::TcpListener;

use crate::config::{self, ConfigError, LbConfig};
use crate::state::Lb;
use crate::tls::{self, TlsError};

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot start a proxy thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot listen on {addr} ({what}): {source}")]
    Listen {
        addr: String,
        what: &'static str,
        source: std::io::Error,
    },
}

fn listen(
    addr: &str,
    what: &'static str,
    reuse_port: bool,
) -> Result<std::net::TcpListener, RunError> {
    let err = |source| RunError::Listen {
        addr: addr.into(),
        what,
        source,
    };
    let parsed = addr.parse().map_err(|_| {
        err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not an ip:port address",
        ))
    })?;
    zato_common::net::bind(parsed, reuse_port).map_err(err)
}

/// One proxy thread: its own single-threaded runtime and listening socket, so a client's
/// connection, its server connections and their tasks never wake another thread.
fn proxy_thread(
    n: usize,
    lb: &'static Lb,
    listener: std::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<std::thread::JoinHandle<()>, RunError> {
    std::thread::Builder::new()
        .name(format!("lb-proxy-{n}"))
        .spawn(move || {
            crate::stats::set_shard(n + 1);
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("proxy thread {n}: cannot start its runtime: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                match TcpListener::from_std(listener) {
                    Ok(l) => crate::proxy::serve(lb, l, tls, stop).await,
                    Err(e) => tracing::error!("proxy thread {n}: {e}"),
                }
            });
        })
        .map_err(RunError::Thread)
}

pub async fn run(dir: &Path) -> Result<(), RunError> {
    let started = Instant::now();
    let dir = std::path::absolute(dir).map_err(|source| ConfigError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let cfg = LbConfig::load(&dir)?;
    let repo = config::config_dir(&dir);
    let agent_tls = tls::server_config(
        &repo.join(&cfg.agent.cert),
        &repo.join(&cfg.agent.key),
        &repo.join(&cfg.agent.ca_certs),
    )?;
    let frontend_tls = match &cfg.frontend.tls {
        Some(t) => Some(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(
            tls::frontend_config(&repo, t)?,
        ))),
        None => None,
    };
    let scheme = if frontend_tls.is_some() {
        "https"
    } else {
        "http"
    };
    let threads = match cfg.frontend.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let mut frontends = Vec::new();
    for _ in 0..threads {
        frontends.push(listen(&cfg.frontend.bind, "frontend", true)?);
    }
    let agent =
        TcpListener::from_std(listen(&cfg.agent.bind, "agent", false)?).map_err(|source| {
            RunError::Listen {
                addr: cfg.agent.bind.clone(),
                what: "agent",
                source,
            }
        })?;
    let (frontend_bind, agent_bind, n) = (
        cfg.frontend.bind.clone(),
        cfg.agent.bind.clone(),
        cfg.servers.len(),
    );
    let lb = Lb::new(dir, cfg);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut proxies = Vec::new();
    for (i, l) in frontends.into_iter().enumerate() {
        proxies.push(proxy_thread(
            i,
            lb,
            l,
            frontend_tls.clone(),
            stop_rx.clone(),
        )?);
    }
    let agent = tokio::spawn(crate::agent::serve(lb, agent, agent_tls, stop_rx));
    tracing::info!(
        "Load balancer started at {scheme}://{frontend_bind} ({n} servers, {threads} proxy threads), agent at https://{agent_bind}, in {} ms",
        started.elapsed().as_millis()
    );
    zato_common::signals::wait_for_stop().await;
    tracing::info!("Load balancer stopping (pid {})", std::process::id());
    let _ = stop_tx.send(true);
    let _ = agent.await;
    // Each thread returns once its open requests are answered (at most 10 s).
    tokio::task::spawn_blocking(move || {
        for p in proxies {
            let _ = p.join();
        }
    })
    .await
    .ok();
    Ok(())
}
