//! The web admin's life: configuration, the listening socket (HTTPS when `[tls]` is set), one
//! task per connection with a header deadline and a cap on connections, stop on a signal.
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use zato_common::config::WebAdminConfig;

use crate::WebAdminError;
use crate::backend::Backend;
use crate::web::{self, App};

/// Connections served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 512;
/// A client must send a request's headers within this (slow clients hold no task for long).
const HEADER_DEADLINE: Duration = Duration::from_secs(10);

pub async fn run(dir: &Path) -> Result<(), WebAdminError> {
    let cfg = WebAdminConfig::load(dir)?;
    let users = crate::users::load(&cfg.dir)?;
    if users.is_empty() {
        tracing::warn!(
            "no users in {}: nobody can log in; add one with `zato update password {} admin`",
            crate::users::path(&cfg.dir).display(),
            cfg.dir.display()
        );
    }
    // A one-time step for keys an earlier version stored in clear (they would fail closed).
    // Not fatal: a read-only users.conf leaves those users out, as before.
    match crate::users::seal_clear_totp_keys(&cfg.dir, &users, &cfg.secret_key) {
        Ok(names) => {
            for name in names {
                tracing::info!("the TOTP key of `{name}` was stored in clear; it is now encrypted");
            }
        }
        Err(e) => tracing::warn!(
            "cannot encrypt the TOTP keys stored in clear (their users cannot log in until it is done or `zato reset-totp-key` is run): {e}"
        ),
    }
    let acceptor = match &cfg.tls {
        Some(t) => Some(TlsAcceptor::from(Arc::new(
            zato_lb::tls::single_cert_config(&t.cert, &t.key)?,
        ))),
        None => None,
    };
    let backend = Backend::new(&cfg)?;
    let listener =
        TcpListener::bind(&cfg.main.bind)
            .await
            .map_err(|source| WebAdminError::Listen {
                bind: cfg.main.bind.clone(),
                source,
            })?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let bind = cfg.main.bind.clone();
    let cluster = cfg.main.cluster_name.clone();
    let app = Arc::new(App::new(cfg, backend, acceptor.is_some())?);
    let router = web::router(app);
    tracing::info!(
        "Web admin for cluster `{cluster}` started (pid {}) at {scheme}://{bind}",
        std::process::id()
    );
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let stop = zato_common::signals::wait_for_stop();
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            () = &mut stop => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (tcp, peer) = tokio::select! {
            () = &mut stop => break,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let router = router.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tcp.set_nodelay(true);
            match acceptor {
                Some(a) => match tokio::time::timeout(HEADER_DEADLINE, a.accept(tcp)).await {
                    Ok(Ok(tls)) => serve(TokioIo::new(tls), peer, router).await,
                    Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                    Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                },
                None => serve(TokioIo::new(tcp), peer, router).await,
            }
        });
    }
    tracing::info!("Web admin stopped");
    Ok(())
}

async fn serve<I>(io: I, peer: SocketAddr, router: axum::Router)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        tower::ServiceExt::oneshot(router.clone(), req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_DEADLINE)
        .serve_connection(io, svc);
    if let Err(e) = conn.await {
        tracing::debug!("connection from {peer}: {e}");
    }
}
