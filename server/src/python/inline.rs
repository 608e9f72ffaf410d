//! Running fast Python services inline on the async runtime's threads, by flat combining.
//!
//! Handing each request to an interpreter thread costs two thread wake-ups, and letting every
//! runtime thread enter Python makes them fight over the GIL; both cost more than a fast
//! service itself. Instead, a request queues its job and whichever runtime thread finds the
//! interpreter free runs the queue inline in a combiner task (its thread state is pinned); the
//! others just await their results, which wake them on that thread without a system call.
//!
//! Only services that have proved fast run here ([`Lanes`]): new ones, and any that ever ran
//! long, use the interpreter-thread pool, where a hang costs one replaceable thread. If an
//! inline job stalls anyway, a watchdog diverts the queue to the pool, marks the service slow
//! and, past the timeout, raises `TimeoutError` in it.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use pyo3::prelude::*;
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;

use crate::core::Call;
use crate::core::{Output, ServiceError};

/// Runs shorter than this count towards promotion to the inline lane.
const FAST: Duration = Duration::from_millis(2);
/// A run this long (or an error raised as a timeout) sends a service to the pool for good.
const SLOW: Duration = Duration::from_millis(20);
/// Fast runs needed before a service runs inline.
const PROMOTE_AFTER: u32 = 8;
/// Jobs run back to back before the combiner yields to the requesters it woke.
const BATCH: usize = 16;
const WATCHDOG_TICK: Duration = Duration::from_millis(5);

/// What is known of one service's run times.
#[derive(Default)]
pub struct Lane {
    fast_runs: AtomicU32,
    slow: AtomicBool,
}

impl Lane {
    pub fn inline(&self) -> bool {
        !self.slow.load(Ordering::Relaxed)
            && self.fast_runs.load(Ordering::Relaxed) >= PROMOTE_AFTER
    }

    pub fn record(&self, took: Duration, timed_out: bool) {
        if timed_out || took >= SLOW {
            self.slow.store(true, Ordering::Relaxed);
        } else if took < FAST && self.fast_runs.load(Ordering::Relaxed) < PROMOTE_AFTER {
            self.fast_runs.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn mark_slow(&self) {
        self.slow.store(true, Ordering::Relaxed);
    }
}

/// Service name → lane; read lock-free per request, replaced when names are added or reset.
#[derive(Default)]
pub struct Lanes {
    map: ArcSwap<FxHashMap<String, Arc<Lane>>>,
}

impl Lanes {
    /// Services that run on the inline lane now.
    pub fn inline_count(&self) -> usize {
        self.map.load().values().filter(|l| l.inline()).count()
    }

    pub fn get(&self, name: &str) -> Arc<Lane> {
        if let Some(l) = self.map.load().get(name) {
            return l.clone();
        }
        let lane = Arc::new(Lane::default());
        self.map.rcu(|m| {
            let mut m = FxHashMap::clone(m);
            m.entry(name.to_string()).or_insert_with(|| lane.clone());
            m
        });
        self.map.load().get(name).cloned().unwrap_or(lane)
    }

    /// A redeployed service starts over in the pool.
    pub fn reset(&self) {
        self.map.store(Arc::default());
    }
}

pub type JobResult = Result<Output, ServiceError>;

struct Job {
    req: Call,
    lane: Arc<Lane>,
    tx: oneshot::Sender<JobResult>,
}

/// The inline job being run now, for the watchdog.
struct Current {
    seq: u64,
    started: Instant,
    lane: Arc<Lane>,
    ident: u64,
    interrupted: bool,
}

#[derive(Default)]
pub struct Combiner {
    /// Wakes the combiner task when the first job arrives while it is idle.
    pub wake: Arc<tokio::sync::Notify>,
    queue: Mutex<VecDeque<Job>>,
    busy: AtomicBool,
    /// Set by the watchdog while an inline job stalls: new jobs go to the pool meanwhile.
    diverted: AtomicBool,
    next_seq: AtomicU64,
    current: Mutex<Option<Current>>,
}

impl Combiner {
    pub fn diverted(&self) -> bool {
        self.diverted.load(Ordering::Relaxed)
    }

    fn push(&self, job: Job) {
        if let Ok(mut q) = self.queue.lock() {
            q.push_back(job);
        }
    }

    fn pop(&self) -> Option<Job> {
        self.queue.lock().ok().and_then(|mut q| q.pop_front())
    }

    fn is_empty(&self) -> bool {
        self.queue.lock().map(|q| q.is_empty()).unwrap_or(true)
    }

    /// The inline job running now waits on I/O (an outgoing call, the ODB): its service runs
    /// on the pool from now on, since a blocked runtime thread holds up every request it serves.
    pub fn demote_current(&self) {
        if let Ok(cur) = self.current.lock()
            && let Some(c) = cur.as_ref()
        {
            c.lane.mark_slow();
        }
    }

    fn set_current(&self, c: Option<Current>) {
        if let Ok(mut cur) = self.current.lock() {
            *cur = c;
        }
    }
}

/// What the combiner needs from the host: running one request under the GIL, and the pool.
pub trait Runner: Send + Sync + 'static {
    fn run(&self, py: Python<'_>, req: Call) -> JobResult;
    fn to_pool(self: &Arc<Self>, req: Call, tx: oneshot::Sender<JobResult>);
    fn combiner(&self) -> &Combiner;
}

/// Queues `req`; if the combiner is idle, wakes it (then true: it runs next on this thread).
/// Returns the receiver of the result.
pub fn submit<R: Runner>(
    runner: &Arc<R>,
    req: Call,
    lane: Arc<Lane>,
) -> (oneshot::Receiver<JobResult>, bool) {
    let (tx, rx) = oneshot::channel();
    let c = runner.combiner();
    c.push(Job { req, lane, tx });
    let woke = c
        .busy
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_ok();
    if woke {
        c.wake.notify_one();
    }
    (rx, woke)
}

/// Jobs run under one GIL acquisition.
const PER_ATTACH: usize = 8;

/// The combiner: one long-lived task (so a requester awaiting its result can still time out
/// while a job runs long) that runs queued jobs on whichever runtime thread it is woken on,
/// yielding now and then so the requesters it woke there answer. If a job stalls, at most the
/// last requester woken on that thread waits for it (tokio's LIFO slot is not stolen);
/// everyone else is served by the other threads, and new jobs go to the interpreter threads.
pub async fn combiner<R: Runner>(runner: std::sync::Weak<R>, wake: Arc<tokio::sync::Notify>) {
    loop {
        wake.notified().await;
        let Some(runner) = runner.upgrade() else {
            return;
        };
        let c = runner.combiner();
        let mut since_yield = 0usize;
        loop {
            let ran = Python::attach(|py| {
                let ident = thread_ident();
                let mut ran = 0;
                while ran < PER_ATTACH {
                    let Some(job) = c.pop() else { break };
                    ran += 1;
                    // Its caller timed out meanwhile and was told so: skip it.
                    if job.tx.is_closed() {
                        continue;
                    }
                    if c.diverted() {
                        runner.to_pool(job.req, job.tx);
                        continue;
                    }
                    let seq = c.next_seq.fetch_add(1, Ordering::Relaxed) + 1;
                    c.set_current(Some(Current {
                        seq,
                        started: Instant::now(),
                        lane: job.lane.clone(),
                        ident,
                        interrupted: false,
                    }));
                    let out = runner.run(py, job.req);
                    // Cleared while still holding the GIL, so the watchdog (which checks under
                    // the GIL) never interrupts a job that has already finished.
                    c.set_current(None);
                    let _ = job.tx.send(out);
                }
                ran
            });
            if ran == 0 {
                c.busy.store(false, Ordering::Release);
                // A job pushed between the empty pop and the store would be left waiting.
                if c.is_empty()
                    || c.busy
                        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                        .is_err()
                {
                    break;
                }
                continue;
            }
            since_yield += ran;
            if since_yield >= BATCH {
                since_yield = 0;
                // Let the requesters just woken on this thread answer.
                tokio::task::yield_now().await;
            }
        }
    }
}

fn thread_ident() -> u64 {
    // SAFETY: reads the calling thread's id; no preconditions.
    unsafe { pyo3::ffi::PyThread_get_thread_ident() as u64 }
}

/// Watches inline jobs: a stall diverts the queue to the pool; a timeout interrupts the job.
pub fn start_watchdog<R: Runner>(runner: std::sync::Weak<R>, timeout: Duration) {
    let spawned = std::thread::Builder::new()
        .name("zato-watchdog".into())
        .spawn(move || {
            loop {
                std::thread::sleep(WATCHDOG_TICK);
                let Some(runner) = runner.upgrade() else { return };
                let c = runner.combiner();
                let stalled = c.current.lock().ok().and_then(|cur| {
                    cur.as_ref().map(|j| (j.seq, j.started.elapsed(), j.lane.clone(), j.ident, j.interrupted))
                });
                match stalled {
                    Some((seq, age, lane, ident, interrupted)) if age >= SLOW => {
                        lane.mark_slow();
                        if !c.diverted.swap(true, Ordering::Relaxed) {
                            tracing::warn!("an inline Python service has run {age:?}; sending queued requests to the interpreter threads");
                            while let Some(job) = c.pop() {
                                runner.to_pool(job.req, job.tx);
                            }
                        }
                        if age >= timeout && !interrupted {
                            interrupt(c, seq, ident);
                        }
                    }
                    Some(_) => {}
                    None => {
                        c.diverted.store(false, Ordering::Relaxed);
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the inline watchdog: {e}");
    }
}

fn interrupt(c: &Combiner, seq: u64, ident: u64) {
    Python::attach(|_py| {
        if let Ok(mut cur) = c.current.lock()
            && let Some(job) = cur.as_mut()
            && job.seq == seq
        {
            job.interrupted = true;
            // SAFETY: the GIL is held; TimeoutError is a static built-in type.
            unsafe {
                pyo3::ffi::PyThreadState_SetAsyncExc(ident as _, pyo3::ffi::PyExc_TimeoutError);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_waiting_inline_goes_to_the_pool_for_good() {
        let lane = Arc::new(Lane::default());
        for _ in 0..PROMOTE_AFTER {
            lane.record(Duration::from_micros(300), false);
        }
        assert!(lane.inline());
        let c = Combiner::default();
        c.set_current(Some(Current {
            seq: 1,
            started: Instant::now(),
            lane: lane.clone(),
            ident: 0,
            interrupted: false,
        }));
        c.demote_current();
        assert!(!lane.inline());
        lane.record(Duration::from_micros(300), false);
        assert!(!lane.inline(), "fast runs do not bring it back");
    }
}
