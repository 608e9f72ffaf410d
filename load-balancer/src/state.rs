//! The running load balancer: its directory, the live pool (swapped whole on every change, so
//! in-flight requests finish on the servers they started on) and the health checkers.
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use arc_swap::ArcSwap;
use tokio::sync::Mutex;

use crate::balancer::Pool;
use crate::config::{ConfigError, LbConfig};
use crate::health;

pub struct Lb {
    pub dir: PathBuf,
    pub pool: ArcSwap<Pool>,
    pub started: Instant,
    /// Requests answered 503 because no server was available.
    pub no_server: AtomicU64,
    /// Serialises configuration changes (read, change, save, apply).
    pub changes: Mutex<()>,
}

impl Lb {
    /// The process's one load balancer. It lives as long as the process, so it is leaked into
    /// a `&'static`: requests then share it without touching a reference count (a counter
    /// every proxy thread bumped per request would bounce between CPU caches).
    pub fn new(dir: PathBuf, cfg: LbConfig) -> &'static Self {
        let pool = Pool::build(cfg, None);
        let lb: &'static Self = Box::leak(Box::new(Self {
            dir,
            pool: ArcSwap::from_pointee(pool),
            started: Instant::now(),
            no_server: AtomicU64::new(0),
            changes: Mutex::new(()),
        }));
        lb.spawn_checks(None);
        lb
    }

    /// Health checkers for servers the previous pool did not have.
    fn spawn_checks(&self, old: Option<&Pool>) {
        let pool = self.pool.load();
        for b in &pool.backends {
            let known = old.is_some_and(|o| o.backends.iter().any(|x| Arc::ptr_eq(x, b)));
            if !known {
                tokio::spawn(health::run(b.clone(), pool.cfg.health.clone()));
            }
        }
    }

    /// Validates, saves and applies a new configuration; the frontend and agent addresses
    /// take effect at the next start.
    pub fn apply(&self, cfg: LbConfig) -> Result<(), ConfigError> {
        cfg.validate()?;
        cfg.save(&self.dir)?;
        let old = self.pool.load_full();
        let health_changed = old.cfg.health != cfg.health;
        if health_changed {
            // New check settings: every checker restarts with them.
            for b in &old.backends {
                b.active.store(false, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let new = Pool::build(cfg, if health_changed { None } else { Some(&old) });
        self.pool.store(Arc::new(new));
        self.spawn_checks(if health_changed { None } else { Some(&old) });
        Ok(())
    }

    /// The current configuration, to be changed and passed to `apply`.
    pub fn config(&self) -> LbConfig {
        self.pool.load().cfg.clone()
    }
}
