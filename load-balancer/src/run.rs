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
    #[error("cannot listen on {addr} ({what}): {source}")]
    Listen {
        addr: String,
        what: &'static str,
        source: std::io::Error,
    },
}

async fn listen(addr: &str, what: &'static str) -> Result<TcpListener, RunError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| RunError::Listen {
            addr: addr.into(),
            what,
            source,
        })
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
    let frontend = listen(&cfg.frontend.bind, "frontend").await?;
    let agent = listen(&cfg.agent.bind, "agent").await?;
    let (frontend_bind, agent_bind, n) = (
        cfg.frontend.bind.clone(),
        cfg.agent.bind.clone(),
        cfg.servers.len(),
    );
    let lb = Lb::new(dir, cfg);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let proxy = tokio::spawn(crate::proxy::serve(lb.clone(), frontend, stop_rx.clone()));
    let agent = tokio::spawn(crate::agent::serve(lb.clone(), agent, agent_tls, stop_rx));
    tracing::info!(
        "Load balancer started at http://{frontend_bind} ({n} servers), agent at https://{agent_bind}, in {} ms",
        started.elapsed().as_millis()
    );
    wait_for_signal().await;
    tracing::info!("Load balancer stopping (pid {})", std::process::id());
    let _ = stop_tx.send(true);
    let _ = proxy.await;
    let _ = agent.await;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
