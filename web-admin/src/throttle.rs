//! Failed log-ins: after `max_failures` in a row for one user name or one client address,
//! that name or address is refused for `lockout` whatever the password. A success clears the
//! user name's count (not the address's: one account's success says nothing of the others an
//! address guesses at).
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys kept at most; beyond, the stale ones go first, then the oldest.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

pub struct Throttle {
    map: Mutex<HashMap<String, Entry>>,
    max_failures: u32,
    lockout: Duration,
}

impl Throttle {
    pub fn new(max_failures: u32, lockout: Duration) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            max_failures,
            lockout,
        }
    }

    /// How long `keys` are still locked out, the longest of them; None when none is.
    pub fn locked(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|k| map.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    pub fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS {
            let stale = self.lockout.max(Duration::from_secs(3600));
            map.retain(|_, e| now.duration_since(e.last) < stale);
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        for k in keys {
            let e = map.entry(k.clone()).or_insert(Entry {
                failures: 0,
                last: now,
                locked_until: None,
            });
            // A lockout that ended starts a new count.
            if e.locked_until.is_some_and(|u| u <= now) {
                e.failures = 0;
                e.locked_until = None;
            }
            e.failures += 1;
            e.last = now;
            if e.failures >= self.max_failures {
                e.locked_until = Some(now + self.lockout);
            }
        }
    }

    pub fn succeeded(&self, key: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_then_frees() {
        let t = Throttle::new(3, Duration::from_millis(60));
        let keys = vec!["user:admin".to_string(), "addr:127.0.0.1".to_string()];
        t.failed(&keys);
        t.failed(&keys);
        assert!(t.locked(&keys).is_none());
        t.failed(&keys);
        assert!(t.locked(&keys).is_some());
        assert!(t.locked(&["user:other".to_string()]).is_none());
        std::thread::sleep(Duration::from_millis(80));
        assert!(t.locked(&keys).is_none());
        t.succeeded("user:admin");
        t.failed(&keys);
        assert!(t.locked(&keys).is_none());
    }
}
