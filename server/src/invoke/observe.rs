//! Observers of the invoker that come with the server (statistics are in `stats/`).
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;

use super::Observer;
use crate::core::Ran;
use crate::objects::Watch;

/// Logs a call that took longer than its service's `slow_threshold` (milliseconds, set with
/// `zato.service.edit`; upstream's default of 99999 means "never").
pub struct SlowResponses {
    pub watched: Arc<ArcSwap<FxHashMap<String, Watch>>>,
}

impl SlowResponses {
    fn limit(&self, service: &str) -> Option<u64> {
        self.watched.load().get(service).and_then(|w| w.slow_ms)
    }
}

impl Observer for SlowResponses {
    /// Only services with a threshold below upstream's "never" are timed.
    fn wants(&self, service: &str) -> bool {
        self.limit(service).is_some()
    }

    /// The CID, for the log line.
    fn keeps_request(&self, service: &str) -> bool {
        self.wants(service)
    }

    fn after(&self, ran: &Ran<'_>) {
        if let Some(limit) = self.limit(ran.name) {
            ran.log_if_slow(limit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_services_with_a_threshold_are_timed() {
        let watch = Watch {
            slow_ms: Some(10),
            sample_every: 0,
        };
        let sampled = Watch {
            slow_ms: None,
            sample_every: 5,
        };
        let watched = Arc::new(ArcSwap::from_pointee(
            [
                ("slow.svc".to_string(), watch),
                ("sampled.svc".to_string(), sampled),
            ]
            .into_iter()
            .collect(),
        ));
        let slow = SlowResponses { watched };
        assert!(slow.wants("slow.svc"));
        assert!(!slow.wants("sampled.svc"));
        assert!(!slow.wants("other.svc"));
    }
}
