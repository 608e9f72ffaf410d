//! Interpreter threads. Each keeps one Python thread state for its whole life (engineering
//! notes G1) and takes jobs from a shared queue; async callers await the result with a
//! timeout, so a service that hangs costs one thread (which is replaced), never the server.
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
}

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("the service did not finish within {0:?}")]
    Timeout(Duration),
    #[error("the interpreter thread stopped before answering")]
    Gone,
}

impl Pool {
    pub fn new(threads: usize) -> Arc<Self> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let pool = Arc::new(Self {
            tx,
            rx,
            slots: std::sync::Mutex::new(Vec::new()),
            next_seq: AtomicU64::new(1),
            live: Arc::new(AtomicUsize::new(0)),
        });
        for _ in 0..threads {
            pool.spawn_thread();
        }
        pool
    }

    fn spawn_thread(&self) {
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
                while let Ok(job) = rx.recv() {
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
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start an interpreter thread: {e}");
            self.live.fetch_sub(1, Ordering::SeqCst);
        }
    }

    pub fn live_threads(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Queues `f` for an interpreter thread without waiting (its result goes wherever `f`
    /// sends it). False when the pool is gone.
    pub fn submit<F>(&self, f: F) -> bool
    where
        F: FnOnce(Python<'_>) + Send + 'static,
    {
        let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
        self.tx
            .send(Job {
                seq,
                run: Box::new(f),
            })
            .is_ok()
    }

    /// Runs `f` on an interpreter thread and waits at most `timeout` for its result.
    pub async fn run<T, F>(&self, timeout: Duration, f: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce(Python<'_>) -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
        let job = Job {
            seq,
            run: Box::new(move |py| {
                let _ = tx.send(f(py));
            }),
        };
        if self.tx.send(job).is_err() {
            return Err(PoolError::Gone);
        }
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
    fn interrupt(&self, seq: u64) {
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
        slot.retire.store(true, Ordering::SeqCst);
        if let Ok(mut slots) = self.slots.lock() {
            slots.retain(|s| !Arc::ptr_eq(s, &slot));
        }
        self.spawn_thread();
    }
}
