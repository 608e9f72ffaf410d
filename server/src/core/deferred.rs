//! The asynchronous requests one server process holds (`invoke::deferred` fills and drains
//! it): who the process is on their leases, how many it holds, and those that ran, waiting to
//! be deleted in batches. A handle kept in `ServerState`, below the invoker that uses it.
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use chrono::{TimeDelta, Utc};
use tokio::sync::mpsc;

/// How long a claim holds without renewal: a dead holder's requests are claimed again after
/// at most this long.
pub const LEASE: TimeDelta = TimeDelta::seconds(3);

pub struct Deferred {
    holder: String,
    /// Requests this process holds (waiting, running, or ran and not yet deleted): leases
    /// are renewed only while some.
    held: AtomicUsize,
    done: mpsc::UnboundedSender<i64>,
    done_rx: Mutex<Option<mpsc::UnboundedReceiver<i64>>>,
    /// When this process's leases were last known good (renewed, or first granted), in
    /// milliseconds since `epoch`.
    renewed_ms: AtomicU64,
    epoch: Instant,
}

impl Deferred {
    /// `holder`: this process on the leases (server name, pid and start time).
    pub fn new(holder: String) -> Self {
        let (done, rx) = mpsc::unbounded_channel();
        Self {
            holder,
            held: AtomicUsize::new(0),
            done,
            done_rx: Mutex::new(Some(rx)),
            renewed_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// This process's leases were renewed just now.
    pub fn renewed(&self) {
        self.renewed_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Whether this process's leases may have lapsed (not renewed for a lease's length, say
    /// while it is cut off from the ODB): what it holds may be another server's by now, so
    /// it starts none of it.
    pub fn lease_lapsed(&self) -> bool {
        let lease = u64::try_from(LEASE.num_milliseconds()).unwrap_or(3000);
        self.now_ms()
            .saturating_sub(self.renewed_ms.load(Ordering::Relaxed))
            > lease
    }

    /// A held request is left to whichever server claims it next (not run here).
    pub fn abandoned(&self) {
        self.held.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The holder and lease end that requests stored now for this process carry.
    pub fn claim(&self) -> (&str, String) {
        (&self.holder, zato_common::time::to_iso(Utc::now() + LEASE))
    }

    /// `n` more requests are held by this process (stored claimed or claimed): their leases
    /// are renewed until each is deleted.
    pub fn hold(&self, n: usize) {
        // The first requests held: their leases were granted just now.
        if self.held.fetch_add(n, Ordering::Relaxed) == 0 {
            self.renewed();
        }
    }

    /// How many requests this process holds.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// A request ran (or expired): it is deleted soon; its lease is renewed until then, so no
    /// other server takes a request that already ran while its delete waits for the ODB.
    pub fn finished(&self, id: i64) {
        let _ = self.done.send(id);
    }

    /// `n` finished requests were deleted: they are no longer held.
    pub fn deleted(&self, n: usize) {
        self.held.fetch_sub(n, Ordering::Relaxed);
    }

    /// The ids of finished requests, for the one task that deletes them (None after the
    /// first call).
    pub fn take_finished(&self) -> Option<mpsc::UnboundedReceiver<i64>> {
        self.done_rx.lock().ok().and_then(|mut r| r.take())
    }
}

/// The Redis transport of async requests (`[kvdb]` configured): the stream and what this
/// process holds of it.
pub struct RedisDeferred {
    pub queue: std::sync::Arc<zato_common::kvdb_queue::RedisQueue>,
    pub held: Deferred,
}
