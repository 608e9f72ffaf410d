//! Per-server counters and a lock-free latency histogram (log buckets, 4 per doubling, so a
//! percentile is within about 19% of the true value), read by the agent's statistics.
//!
//! Every proxy thread counts into its own cache-line-aligned shard: counters shared by threads
//! would bounce between CPU caches on every request. Readers sum the shards.
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use serde::Serialize;

const BUCKETS: usize = 128;
pub const SHARDS: usize = 16;

thread_local! {
    static SHARD: Cell<usize> = const { Cell::new(0) };
}

/// Makes the calling thread count into shard `n` (modulo SHARDS); proxy thread n calls it.
pub fn set_shard(n: usize) {
    SHARD.with(|s| s.set(n % SHARDS));
}

pub fn shard() -> usize {
    SHARD.with(Cell::get)
}

#[repr(align(128))]
struct Shard {
    requests: AtomicU64,
    errors: AtomicU64,
    in_flight: AtomicU64,
    latency: [AtomicU64; BUCKETS],
}

impl Default for Shard {
    fn default() -> Self {
        Self {
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

pub struct Stats {
    shards: Box<[Shard]>,
    /// Open connections to the server, idle kept-alive ones included (changes only on
    /// connect and close, so one counter).
    pub connections: AtomicU64,
    /// Connections ever opened to the server.
    pub opened: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            connections: AtomicU64::new(0),
            opened: AtomicU64::new(0),
        }
    }
}

/// Bucket i holds latencies up to 2^(i/4) µs.
fn bucket(us: u64) -> usize {
    if us <= 1 {
        return 0;
    }
    ((us as f64).log2() * 4.0).ceil().min((BUCKETS - 1) as f64) as usize
}

fn bucket_upper_us(i: usize) -> f64 {
    2f64.powf(i as f64 / 4.0)
}

#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub requests: u64,
    pub errors: u64,
    pub active_connections: u64,
    pub connections_opened: u64,
    pub in_flight: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl Stats {
    fn mine(&self) -> &Shard {
        &self.shards[shard()]
    }

    /// A request answered after `took`.
    pub fn answered(&self, took: Duration) {
        let s = self.mine();
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        s.requests.fetch_add(1, Relaxed);
        s.latency[bucket(us)].fetch_add(1, Relaxed);
    }

    pub fn error(&self) {
        self.mine().errors.fetch_add(1, Relaxed);
    }

    pub fn sent(&self) {
        self.mine().in_flight.fetch_add(1, Relaxed);
    }

    pub fn done(&self) {
        self.mine().in_flight.fetch_sub(1, Relaxed);
    }

    fn percentile(&self, counts: &[u64], total: u64, p: f64) -> Option<f64> {
        if total == 0 {
            return None;
        }
        let want = ((total as f64) * p).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return Some(bucket_upper_us(i) / 1000.0);
            }
        }
        None
    }

    pub fn snapshot(&self) -> Snapshot {
        let counts: Vec<u64> = (0..BUCKETS)
            .map(|i| self.shards.iter().map(|s| s.latency[i].load(Relaxed)).sum())
            .collect();
        let total = counts.iter().sum();
        let sum = |f: fn(&Shard) -> &AtomicU64| -> u64 {
            self.shards
                .iter()
                .map(|s| f(s).load(Relaxed))
                .fold(0u64, u64::wrapping_add)
        };
        Snapshot {
            requests: sum(|s| &s.requests),
            errors: sum(|s| &s.errors),
            active_connections: self.connections.load(Relaxed),
            connections_opened: self.opened.load(Relaxed),
            // A request may start on one thread's shard and end on the same one, so the sum
            // is exact; single shards may wrap.
            in_flight: sum(|s| &s.in_flight),
            p50_ms: self.percentile(&counts, total, 0.50),
            p99_ms: self.percentile(&counts, total, 0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_grow_monotonically_and_percentiles_are_close() {
        let mut last = 0;
        for us in 1..100_000u64 {
            let b = bucket(us);
            assert!(b >= last, "{us}");
            assert!(bucket_upper_us(b) >= us as f64 * 0.99, "{us} -> {b}");
            last = b;
        }
        let s = Stats::default();
        for _ in 0..99 {
            s.answered(Duration::from_micros(1000));
        }
        s.answered(Duration::from_millis(100));
        let snap = s.snapshot();
        let p50 = snap.p50_ms.unwrap_or(0.0);
        assert!((1.0..1.25).contains(&p50), "{p50}");
        assert!(snap.p99_ms.unwrap_or(0.0) < 1.25);
    }
}
