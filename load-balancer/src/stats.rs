//! Per-server counters and a lock-free latency histogram (log buckets, 4 per doubling, so a
//! percentile is within about 19% of the true value), read by the agent's statistics.
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use serde::Serialize;

const BUCKETS: usize = 128;

#[derive(Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    /// Open connections to the server.
    pub connections: AtomicU64,
    /// Requests sent and not yet answered.
    pub in_flight: AtomicU64,
    latency: Latency,
}

struct Latency([AtomicU64; BUCKETS]);

impl Default for Latency {
    fn default() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
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
    pub in_flight: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl Stats {
    pub fn record(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency.0[bucket(us)].fetch_add(1, Relaxed);
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
        let counts: Vec<u64> = self.latency.0.iter().map(|b| b.load(Relaxed)).collect();
        let total = counts.iter().sum();
        Snapshot {
            requests: self.requests.load(Relaxed),
            errors: self.errors.load(Relaxed),
            active_connections: self.connections.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
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
            s.record(Duration::from_micros(1000));
        }
        s.record(Duration::from_millis(100));
        let snap = s.snapshot();
        let p50 = snap.p50_ms.unwrap_or(0.0);
        assert!((1.0..1.25).contains(&p50), "{p50}");
        assert!(snap.p99_ms.unwrap_or(0.0) < 1.25);
    }
}
