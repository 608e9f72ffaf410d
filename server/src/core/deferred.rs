//! The asynchronous requests one server process holds (`invoke::deferred` fills and drains
//! it): who the process is on their leases, how many it holds, and those that ran, waiting to
//! be deleted in batches. A handle kept in `ServerState`, below the invoker that uses it.
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

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
        }
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
        self.held.fetch_add(n, Ordering::Relaxed);
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
