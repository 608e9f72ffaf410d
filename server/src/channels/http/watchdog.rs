//! The deadline for request heads (`[main] header_read_timeout`): a connection that is not
//! running a request (it is reading one, or idle between two) for longer than that is closed.
//! A client that sends its head a byte at a time therefore goes, as does one that sends
//! nothing. hyper's own header timeout arms a timer for every request; here a request costs two
//! atomic stores, and one task per process looks at every connection four times a second
//! (deadlines are seconds long, so a quarter of a second late is fine).
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::task::AbortHandle;

const TICK: Duration = Duration::from_millis(250);

/// One connection's state, shared by its requests and the watchdog.
pub struct ConnWatch {
    busy: AtomicBool,
    /// When it last stopped running a request (or was accepted), in ms since the epoch.
    since_ms: AtomicU64,
    clock: Arc<Clock>,
}

/// Milliseconds since the watchdog started, advanced by its task: reading it is one load.
struct Clock {
    epoch: Instant,
    now_ms: AtomicU64,
}

impl Clock {
    fn tick(&self) -> u64 {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.now_ms.store(now, Relaxed);
        now
    }
}

/// Marks its connection busy while it lives (a request is being run).
pub struct Busy(Arc<ConnWatch>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0
            .since_ms
            .store(self.0.clock.now_ms.load(Relaxed), Relaxed);
        self.0.busy.store(false, Relaxed);
    }
}

impl ConnWatch {
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.busy.store(true, Relaxed);
        Busy(self.clone())
    }
}

type Watched = (Weak<ConnWatch>, AbortHandle);

pub struct Watchdog {
    clock: Arc<Clock>,
    conns: Mutex<Vec<Watched>>,
}

impl Watchdog {
    /// Starts the watchdog's task on the current runtime; it ends when the watchdog is dropped.
    pub fn start(timeout: Duration) -> Arc<Self> {
        let dog = Arc::new(Self {
            clock: Arc::new(Clock {
                epoch: Instant::now(),
                now_ms: AtomicU64::new(0),
            }),
            conns: Mutex::new(Vec::new()),
        });
        let weak = Arc::downgrade(&dog);
        let limit = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            loop {
                interval.tick().await;
                let Some(dog) = weak.upgrade() else {
                    return;
                };
                dog.check(limit);
            }
        });
        dog
    }

    /// A new connection's watch; `register` it once its task is spawned.
    pub fn conn(&self) -> Arc<ConnWatch> {
        Arc::new(ConnWatch {
            busy: AtomicBool::new(false),
            since_ms: AtomicU64::new(self.clock.tick()),
            clock: self.clock.clone(),
        })
    }

    pub fn register(&self, watch: &Arc<ConnWatch>, task: AbortHandle) {
        lock(&self.conns).push((Arc::downgrade(watch), task));
    }

    /// Closes the connections that have been waiting for a head longer than `limit` ms, and
    /// forgets the closed ones.
    fn check(&self, limit: u64) {
        let now = self.clock.tick();
        lock(&self.conns).retain(|(w, task)| {
            let Some(c) = w.upgrade() else {
                return false;
            };
            let expired =
                !c.busy.load(Relaxed) && now.saturating_sub(c.since_ms.load(Relaxed)) > limit;
            if expired {
                task.abort();
            }
            !expired
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_connections_are_closed_busy_ones_are_not() {
        let dog = Watchdog::start(Duration::from_millis(300));
        let (idle, busy) = (dog.conn(), dog.conn());
        let sleeper = || tokio::spawn(tokio::time::sleep(Duration::from_secs(30)));
        let (t_idle, t_busy) = (sleeper(), sleeper());
        dog.register(&idle, t_idle.abort_handle());
        dog.register(&busy, t_busy.abort_handle());
        let guard = busy.busy();
        let t0 = Instant::now();
        let r = t_idle.await;
        assert!(r.is_err_and(|e| e.is_cancelled()));
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(900),
            "{took:?}"
        );
        assert!(!t_busy.is_finished(), "a busy connection was closed");
        drop(guard);
        let r = t_busy.await;
        assert!(r.is_err_and(|e| e.is_cancelled()));
    }
}
