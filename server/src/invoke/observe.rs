//! Observers of the invoker that come with the server.
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;

use super::Observer;
use crate::core::{Output, ServiceError};

/// Logs a call that took longer than its service's `slow_threshold` (milliseconds, set with
/// `zato.service.edit`; upstream's default of 99999 means "never").
pub struct SlowResponses {
    pub thresholds: Arc<ArcSwap<FxHashMap<String, u64>>>,
}

impl Observer for SlowResponses {
    /// Only services with a threshold below upstream's "never" are timed.
    fn wants(&self, service: &str) -> bool {
        self.thresholds.load().contains_key(service)
    }

    fn after(&self, name: &str, cid: &str, took: Duration, _: Result<&Output, &ServiceError>) {
        let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        if let Some(limit) = self.thresholds.load().get(name)
            && ms > *limit
        {
            tracing::warn!(
                cid,
                service = name,
                "slow response: {ms} ms, above the service's slow_threshold of {limit} ms"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_services_with_a_threshold_are_timed() {
        let thresholds = Arc::new(ArcSwap::from_pointee(
            [("slow.svc".to_string(), 10)].into_iter().collect(),
        ));
        let slow = SlowResponses { thresholds };
        assert!(slow.wants("slow.svc"));
        assert!(!slow.wants("other.svc"));
    }
}
