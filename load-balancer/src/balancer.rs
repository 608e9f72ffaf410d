//! The servers behind the proxy and how the next one is chosen: smooth weighted round robin,
//! precomputed as a schedule when the configuration changes, so picking is one atomic
//! increment; servers that are DOWN, in maintenance or at weight 0 are skipped.
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};

use serde::Serialize;

use crate::config::{self, LbConfig};
use crate::stats::{Snapshot, Stats};

pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    pub weight: AtomicU32,
    pub maintenance: AtomicBool,
    /// Health: set by active checks and by failed connections.
    pub up: AtomicBool,
    pub stats: Stats,
    /// Cleared when the server leaves the configuration; its health checker then stops.
    pub active: AtomicBool,
}

impl Backend {
    pub fn new(s: &config::Server, addr: SocketAddr) -> Self {
        Self {
            name: s.name.clone(),
            addr,
            weight: AtomicU32::new(s.weight),
            maintenance: AtomicBool::new(s.maintenance),
            // Optimistic until the first checks say otherwise: a fresh start serves at once.
            up: AtomicBool::new(true),
            stats: Stats::default(),
            active: AtomicBool::new(true),
        }
    }

    pub fn eligible(&self) -> bool {
        self.weight.load(Relaxed) > 0 && !self.maintenance.load(Relaxed) && self.up.load(Relaxed)
    }

    pub fn state(&self) -> &'static str {
        if self.maintenance.load(Relaxed) {
            "MAINT"
        } else if self.up.load(Relaxed) {
            "UP"
        } else {
            "DOWN"
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ServerState {
    pub name: String,
    pub address: String,
    pub weight: u32,
    pub state: &'static str,
    #[serde(flatten)]
    pub stats: Snapshot,
}

/// One configuration's servers and schedule; replaced as a whole on every change.
pub struct Pool {
    pub cfg: LbConfig,
    pub backends: Vec<Arc<Backend>>,
    schedule: Vec<usize>,
    /// Each proxy thread walks the schedule with its own counter (see stats::shard).
    next: Box<[Counter]>,
}

#[repr(align(128))]
#[derive(Default)]
struct Counter(AtomicU64);

/// Smooth weighted round robin (as nginx): for weights 3:1 → a a b a, spread evenly.
fn schedule(weights: &[u32]) -> Vec<usize> {
    // Keep the schedule short for large weights by dividing by their common divisor.
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let g = weights
        .iter()
        .copied()
        .filter(|w| *w > 0)
        .fold(0, gcd)
        .max(1);
    let w: Vec<i64> = weights.iter().map(|x| i64::from(x / g)).collect();
    let total: i64 = w.iter().sum();
    let mut current = vec![0i64; w.len()];
    let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for _ in 0..total.min(100_000) {
        for (c, wi) in current.iter_mut().zip(&w) {
            *c += wi;
        }
        let Some((best, _)) = current
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, -(*i as i64)))
        else {
            break;
        };
        current[best] -= total;
        out.push(best);
    }
    out
}

impl Pool {
    /// Builds the pool for `cfg`, keeping the state (health, statistics) of servers that stay.
    pub fn build(cfg: LbConfig, old: Option<&Pool>) -> Self {
        let mut backends = Vec::new();
        for s in &cfg.servers {
            // Validated before: every address parses.
            let Ok(addr) = s.address.parse::<SocketAddr>() else {
                continue;
            };
            let kept = old.and_then(|p| {
                p.backends
                    .iter()
                    .find(|b| b.name == s.name && b.addr == addr)
            });
            let b = match kept {
                Some(b) => {
                    b.weight.store(s.weight, Relaxed);
                    b.maintenance.store(s.maintenance, Relaxed);
                    b.clone()
                }
                None => Arc::new(Backend::new(s, addr)),
            };
            backends.push(b);
        }
        if let Some(old) = old {
            for b in &old.backends {
                if !backends.iter().any(|n| Arc::ptr_eq(n, b)) {
                    b.active.store(false, Relaxed);
                }
            }
        }
        let weights: Vec<u32> = backends.iter().map(|b| b.weight.load(Relaxed)).collect();
        Self {
            cfg,
            schedule: schedule(&weights),
            backends,
            next: (0..crate::stats::SHARDS)
                .map(|_| Counter::default())
                .collect(),
        }
    }

    /// The next eligible server, skipping `tried` ones; None when no server can take it.
    /// The index in `backends` of the next eligible server, skipping `tried` ones; None when
    /// no server can take the request.
    pub fn pick(&self, tried: &[usize]) -> Option<usize> {
        let n = self.schedule.len();
        if n == 0 {
            return None;
        }
        let start = self.next[crate::stats::shard()].0.fetch_add(1, Relaxed) as usize;
        for k in 0..n {
            let i = self.schedule[(start + k) % n];
            if self.backends[i].eligible() && !tried.contains(&i) {
                return Some(i);
            }
        }
        None
    }

    pub fn states(&self) -> Vec<ServerState> {
        self.backends
            .iter()
            .map(|b| ServerState {
                name: b.name.clone(),
                address: b.addr.to_string(),
                weight: b.weight.load(Relaxed),
                state: b.state(),
                stats: b.stats.snapshot(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_give_their_share_evenly_spread() {
        assert_eq!(schedule(&[3, 1]), vec![0, 0, 1, 0]);
        assert_eq!(
            schedule(&[30, 10]).len(),
            4,
            "divided by the common divisor"
        );
        assert_eq!(schedule(&[1, 0]), vec![0]);
        assert!(schedule(&[0, 0]).is_empty());
        let s = schedule(&[2, 3, 5]);
        assert_eq!(s.iter().filter(|i| **i == 2).count(), 5);
    }
}
