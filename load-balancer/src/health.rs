//! Active health checks: every `interval`, `GET <path>` on a fresh connection to each server;
//! `fall` failures in a row take it DOWN, `rise` successes bring it back UP (as HAProxy's
//! `check inter rise fall`). Failed connections from the proxy take a server DOWN at once.
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::balancer::Backend;
use crate::config::Health;

/// One check: true on any 2xx or 3xx answer within the timeout.
pub async fn check(b: &Backend, path: &str, timeout: Duration) -> bool {
    let work = async {
        let mut stream = TcpStream::connect(b.addr).await.ok()?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: zato-lb-health\r\nConnection: close\r\n\r\n",
            b.addr
        );
        stream.write_all(req.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        // "HTTP/1.1 200"
        let code = std::str::from_utf8(&head[9..12])
            .ok()?
            .parse::<u16>()
            .ok()?;
        Some((200..400).contains(&code))
    };
    matches!(tokio::time::timeout(timeout, work).await, Ok(Some(true)))
}

/// Checks `b` until it leaves the configuration.
pub async fn run(b: Arc<Backend>, cfg: Health) {
    let interval = Duration::from_secs_f64(cfg.interval);
    let timeout = Duration::from_secs_f64(cfg.timeout);
    let (mut ok_streak, mut fail_streak) = (0u32, 0u32);
    while b.active.load(Relaxed) {
        if check(&b, &cfg.path, timeout).await {
            ok_streak += 1;
            fail_streak = 0;
            if !b.up.load(Relaxed) && ok_streak >= cfg.rise {
                b.up.store(true, Relaxed);
                tracing::info!("Server {} ({}) is UP", b.name, b.addr);
            }
        } else {
            fail_streak += 1;
            ok_streak = 0;
            if b.up.load(Relaxed) && fail_streak >= cfg.fall {
                b.up.store(false, Relaxed);
                tracing::warn!(
                    "Server {} ({}) is DOWN: health check failed",
                    b.name,
                    b.addr
                );
            }
        }
        tokio::time::sleep(interval).await;
    }
}

/// The proxy could not connect: DOWN now, back UP only through `rise` good checks.
pub fn connect_failed(b: &Backend) {
    if b.up.swap(false, Relaxed) {
        tracing::warn!("Server {} ({}) is DOWN: connection failed", b.name, b.addr);
    }
}
