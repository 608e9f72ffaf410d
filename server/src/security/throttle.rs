//! Failed log-ins, throttled per client and per user (GCRA from the governor crate): each
//! failure takes a cell; a key whose cells are gone is refused until one comes back. Successful
//! log-ins take nothing, so a busy but honest client is never slowed down.
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Failures allowed at once per key, then one more every `REFILL`.
const BURST: u32 = 10;
const REFILL: Duration = Duration::from_secs(6);
/// Past this many keys, entries no longer limiting anything are dropped.
const MAX_KEYS: usize = 10_000;

pub struct Throttle {
    failures: DefaultKeyedRateLimiter<String>,
    blocked: Mutex<HashMap<String, Instant>>,
}

impl Default for Throttle {
    fn default() -> Self {
        // The BURST-th failure is the one refused by the limiter, which is what blocks a key.
        let burst = NonZeroU32::new(BURST - 1).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(REFILL)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            failures: RateLimiter::keyed(quota),
            blocked: Mutex::new(HashMap::new()),
        }
    }
}

impl Throttle {
    /// How long `key` must still wait, if it is blocked.
    pub fn blocked_for(&self, key: &str) -> Option<Duration> {
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        let until = *blocked.get(key)?;
        let now = Instant::now();
        if until <= now {
            blocked.remove(key);
            return None;
        }
        Some(until - now)
    }

    /// Records a failure of `key`; once its cells are gone it is blocked until one is back.
    pub fn failed(&self, key: &str) {
        if let Err(not_until) = self.failures.check_key(&key.to_string()) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
            if blocked.len() >= MAX_KEYS {
                let now = Instant::now();
                blocked.retain(|_, until| *until > now);
            }
            blocked.insert(key.to_string(), Instant::now() + wait);
        }
        if self.failures.len() >= MAX_KEYS {
            self.failures.retain_recent();
            self.failures.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_block_a_key_and_only_that_key() {
        let t = Throttle::default();
        for _ in 0..BURST {
            assert!(t.blocked_for("u1").is_none());
            t.failed("u1");
        }
        let wait = t.blocked_for("u1");
        assert!(wait.is_some_and(|w| w <= REFILL), "{wait:?}");
        assert!(t.blocked_for("u2").is_none());
    }
}
