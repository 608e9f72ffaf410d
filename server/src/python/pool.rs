//! Interpreter threads. Each keeps one Python thread state for its whole life (engineering
//! notes G1) and takes jobs from a shared, bounded queue; async callers await the result with
//! a timeout, so a service that hangs costs one thread (which is replaced), never the server.
//! A job whose caller has gone (timed out) by the time a thread takes it is skipped, never
//! run late; a full queue refuses new work at once; threads stuck where Python cannot
//! interrupt them (C code) are replaced only up to twice the configured number.
//!
//! A thread waiting on the server for I/O (an outgoing call, with the interpreter released)
//! for longer than `SLOW_WAIT` lends its seat: while jobs queue up, another thread is
//! started, up to
//! `MAX_IO_THREADS_FACTOR` times the configured number, so a service that mostly waits on a
//! remote system is not limited to `python_threads` calls at once. Threads beyond the
//! configured number end after `IDLE_EXIT` without work.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use pyo3::prelude::*;
use tokio::sync::oneshot;

type JobFn = Box<dyn FnOnce(Python<'_>) + Send>;

struct Job {
    seq: u64,
    run: JobFn,
}

/// A snapshot of the pool for `/zato/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolState {
    pub threads: usize,
    pub waiting_io: usize,
    pub stuck: usize,
    pub queued: usize,
}

/// What one interpreter thread is doing: the job it runs (0 = idle) and its Python thread id.
struct Slot {
    job: AtomicU64,
    ident: AtomicU64,
    retire: std::sync::atomic::AtomicBool,
}

pub struct Pool {
    tx: Sender<Job>,
    rx: Receiver<Job>,
    slots: std::sync::Mutex<Vec<Arc<Slot>>>,
    next_seq: AtomicU64,
    live: Arc<AtomicUsize>,
    /// Threads told to retire that have not come back yet (stuck in a service).
    retiring: Arc<AtomicUsize>,
    /// Threads in [`Pool::io_wait`]: not running Python, not counted as taking jobs.
    waiting: Arc<AtomicUsize>,
    /// Threads that should be taking jobs.
    target: usize,
    queue: usize,
}

/// Threads started while others wait on I/O never exceed `target` times this.
const MAX_IO_THREADS_FACTOR: usize = 16;

/// A wait on I/O longer than this lends its thread's seat (see [`Pool::io_wait`]).
const SLOW_WAIT: Duration = Duration::from_millis(2);

/// A thread above the configured number ends after this long without a job.
const IDLE_EXIT: Duration = Duration::from_secs(10);

/// Threads (working and stuck) never exceed `target` times this.
const MAX_THREADS_FACTOR: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("the service did not finish within {0:?}")]
    Timeout(Duration),
    #[error("the interpreter thread stopped before answering")]
    Gone,
    #[error("{0} requests are already waiting for an interpreter thread")]
    Busy(usize),
}

impl Pool {
    /// `threads` interpreter threads; at most `queue` jobs wait for one.
    pub fn new(threads: usize, queue: usize) -> Arc<Self> {
        let (tx, rx) = crossbeam_channel::bounded(queue.max(1));
        let pool = Arc::new(Self {
            tx,
            rx,
            slots: std::sync::Mutex::new(Vec::new()),
            next_seq: AtomicU64::new(1),
            live: Arc::new(AtomicUsize::new(0)),
            retiring: Arc::new(AtomicUsize::new(0)),
            waiting: Arc::new(AtomicUsize::new(0)),
            target: threads,
            queue: queue.max(1),
        });
        for _ in 0..threads {
            pool.spawn_thread();
        }
        pool
    }

    fn spawn_thread(self: &Arc<Self>) {
        let slot = Arc::new(Slot {
            job: AtomicU64::new(0),
            ident: AtomicU64::new(0),
            retire: std::sync::atomic::AtomicBool::new(false),
        });
        if let Ok(mut slots) = self.slots.lock() {
            slots.push(slot.clone());
        }
        let rx = self.rx.clone();
        let live = self.live.clone();
        let pool = Arc::downgrade(self);
        live.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("zato-py".into())
            .spawn(move || {
                // Pin a thread state for this thread's life (G1).
                // SAFETY: the interpreter is initialised before any pool exists; the GIL is
                // taken and at once released, leaving this thread's state in place.
                unsafe {
                    pyo3::ffi::PyGILState_Ensure();
                    pyo3::ffi::PyEval_SaveThread();
                }
                Python::attach(|py| {
                    let ident = py
                        .import("threading")
                        .and_then(|t| t.call_method0("get_ident"))
                        .and_then(|i| i.extract::<u64>())
                        .unwrap_or(0);
                    slot.ident.store(ident, Ordering::SeqCst);
                });
                loop {
                    let job = match rx.recv_timeout(IDLE_EXIT) {
                        Ok(job) => job,
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => match pool.upgrade() {
                            Some(p) if p.taking_jobs() > p.target => break,
                            Some(_) => continue,
                            None => break,
                        },
                        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                    };
                    Python::attach(|py| {
                        slot.job.store(job.seq, Ordering::SeqCst);
                        (job.run)(py);
                        // Cleared under the GIL, so a timeout check that holds the GIL sees
                        // a consistent value.
                        slot.job.store(0, Ordering::SeqCst);
                    });
                    if slot.retire.load(Ordering::SeqCst) {
                        break;
                    }
                }
                live.fetch_sub(1, Ordering::SeqCst);
                // A thread that ended idle leaves no slot behind.
                if !slot.retire.load(Ordering::SeqCst)
                    && let Some(pool) = pool.upgrade()
                    && let Ok(mut slots) = pool.slots.lock()
                {
                    slots.retain(|s| !Arc::ptr_eq(s, &slot));
                }
                // A stuck thread came back: if the cap kept it from being replaced, it is now.
                if slot.retire.load(Ordering::SeqCst)
                    && let Some(pool) = pool.upgrade()
                {
                    pool.retiring.fetch_sub(1, Ordering::SeqCst);
                    // Saturating: two stuck threads returning at once pass each other here.
                    let working = pool
                        .live_threads()
                        .saturating_sub(pool.retiring.load(Ordering::SeqCst));
                    if working < pool.target {
                        pool.spawn_thread();
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start an interpreter thread: {e}");
            self.live.fetch_sub(1, Ordering::SeqCst);
        }
    }

    pub fn live_threads(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// What the pool is doing now: threads alive, waiting on I/O, stuck, and jobs queued.
    pub fn state(&self) -> PoolState {
        PoolState {
            threads: self.live_threads(),
            waiting_io: self.waiting.load(Ordering::SeqCst),
            stuck: self.retiring.load(Ordering::SeqCst),
            queued: self.rx.len(),
        }
    }

    /// Threads that take jobs: neither stuck (retiring) nor waiting on I/O.
    fn taking_jobs(&self) -> usize {
        self.live_threads()
            .saturating_sub(self.retiring.load(Ordering::SeqCst))
            .saturating_sub(self.waiting.load(Ordering::SeqCst))
    }

    /// Starts a thread when jobs wait and fewer than the configured number of threads take
    /// jobs (the others wait on I/O), within the cap.
    fn grow_if_waiting(self: &Arc<Self>) {
        if !self.rx.is_empty()
            && self.taking_jobs() < self.target
            && self.live_threads() < self.target * MAX_IO_THREADS_FACTOR
        {
            self.spawn_thread();
        }
    }

    /// Runs `fut`, a wait on the server with the interpreter released, from an interpreter
    /// thread. Once it has waited `SLOW_WAIT` (2 ms), this thread's seat goes to another one if
    /// jobs are queued; a quick wait lends nothing, as more threads would only take turns
    /// with the GIL and the CPUs.
    pub fn io_wait<F: std::future::Future>(
        self: &Arc<Self>,
        rt: &tokio::runtime::Handle,
        fut: F,
    ) -> F::Output {
        struct Back<'a>(&'a AtomicUsize, bool);
        impl Drop for Back<'_> {
            fn drop(&mut self) {
                if self.1 {
                    self.0.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
        let mut back = Back(&self.waiting, false);
        rt.block_on(async {
            let mut fut = std::pin::pin!(fut);
            tokio::select! {
                biased;
                out = &mut fut => out,
                () = tokio::time::sleep(SLOW_WAIT) => {
                    self.waiting.fetch_add(1, Ordering::SeqCst);
                    back.1 = true;
                    self.grow_if_waiting();
                    fut.await
                }
            }
        })
    }

    /// Queues `f` for an interpreter thread without waiting (its result goes wherever `f`
    /// sends it; `f` should skip its work when nobody waits for it any more).
    pub fn submit<F>(self: &Arc<Self>, f: F) -> Result<(), PoolError>
    where
        F: FnOnce(Python<'_>) + Send + 'static,
    {
        let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
        self.send(Job {
            seq,
            run: Box::new(f),
        })
    }

    fn send(self: &Arc<Self>, job: Job) -> Result<(), PoolError> {
        self.tx.try_send(job).map_err(|e| match e {
            crossbeam_channel::TrySendError::Full(_) => PoolError::Busy(self.queue),
            crossbeam_channel::TrySendError::Disconnected(_) => PoolError::Gone,
        })?;
        if self.waiting.load(Ordering::Relaxed) > 0 {
            self.grow_if_waiting();
        }
        Ok(())
    }

    /// Runs `f` on an interpreter thread and waits at most `timeout` for its result. If the
    /// wait ends first, `f` is skipped when its turn comes.
    pub async fn run<T, F>(self: &Arc<Self>, timeout: Duration, f: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce(Python<'_>) -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
        let job = Job {
            seq,
            run: Box::new(move |py| {
                // The caller timed out (and answered 504) while this waited: running it now
                // would do what the caller was told did not happen.
                if tx.is_closed() {
                    return;
                }
                let _ = tx.send(f(py));
            }),
        };
        self.send(job)?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(PoolError::Gone),
            Err(_) => {
                self.interrupt(seq);
                Err(PoolError::Timeout(timeout))
            }
        }
    }

    /// A job overran its time: raise TimeoutError in its thread at the next bytecode, retire
    /// that thread once it comes back, and start a replacement so capacity stays the same.
    fn interrupt(self: &Arc<Self>, seq: u64) {
        let slot = self.slots.lock().ok().and_then(|s| {
            s.iter()
                .find(|s| s.job.load(Ordering::SeqCst) == seq)
                .cloned()
        });
        let Some(slot) = slot else {
            return;
        };
        Python::attach(|_py| {
            if slot.job.load(Ordering::SeqCst) == seq {
                // SAFETY: called with the GIL held; the exception type is a static built-in.
                unsafe {
                    pyo3::ffi::PyThreadState_SetAsyncExc(
                        slot.ident.load(Ordering::SeqCst) as _,
                        pyo3::ffi::PyExc_TimeoutError,
                    );
                }
            }
        });
        if slot.retire.swap(true, Ordering::SeqCst) {
            return;
        }
        self.retiring.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut slots) = self.slots.lock() {
            slots.retain(|s| !Arc::ptr_eq(s, &slot));
        }
        if self.live_threads() < self.target * MAX_THREADS_FACTOR {
            self.spawn_thread();
        } else {
            tracing::error!(
                "{} interpreter threads are stuck in services that do not return; no more are started until one does",
                self.retiring.load(Ordering::SeqCst)
            );
        }
    }
}
