//! Prometheus metrics of a server process (the `prometheus` crate, text format 0.0.4): calls,
//! errors and latency per service and channel, counted by the statistics observer, plus
//! gauges read when scraped (async requests, the Python lanes, deployments).
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// Latency buckets in seconds: half a millisecond to a minute (the default service timeout).
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// One service-and-channel's counter and histogram, looked up once and kept by the observer.
pub struct Handles {
    calls: IntCounter,
    duration: Histogram,
}

impl Handles {
    pub fn observe(&self, took: Duration) {
        self.calls.inc();
        self.duration.observe(took.as_secs_f64());
    }
}

/// What `/zato/metrics` reads at each scrape, besides the counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    pub async_held: i64,
    pub async_stored: i64,
    pub python_threads: i64,
    pub python_waiting_io: i64,
    pub python_stuck: i64,
    pub python_queued: i64,
    pub python_inline_services: i64,
    pub services_deployed: i64,
    pub uptime_seconds: i64,
}

/// How a gauge is read from the scrape's [`Gauges`].
type Read = fn(&Gauges) -> i64;

pub struct Metrics {
    registry: Registry,
    calls: IntCounterVec,
    errors: IntCounterVec,
    duration: HistogramVec,
    pub deploys: IntCounter,
    pub deploy_failures: IntCounter,
    gauges: Vec<(IntGauge, Read)>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let labels = &["service", "channel"];
        let calls = IntCounterVec::new(
            Opts::new("zato_service_calls_total", "Calls of a service, by channel"),
            labels,
        );
        let errors = IntCounterVec::new(
            Opts::new(
                "zato_service_errors_total",
                "Calls of a service that failed, by channel and kind of error",
            ),
            &["service", "channel", "kind"],
        );
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "zato_service_duration_seconds",
                "How long calls of a service took, by channel",
            )
            .buckets(BUCKETS.to_vec()),
            labels,
        );
        let deploys = IntCounter::new(
            "zato_deploys_total",
            "Hot deployments applied by this process",
        );
        let deploy_failures = IntCounter::new(
            "zato_deploy_failures_total",
            "Hot deployments refused by this process",
        );
        let gauge_defs: [(&str, &str, Read); 9] = [
            (
                "zato_async_requests_held",
                "Async requests this process has claimed and not finished",
                |g| g.async_held,
            ),
            (
                "zato_async_requests_stored",
                "Async requests of the cluster stored and not yet finished",
                |g| g.async_stored,
            ),
            ("zato_python_threads", "Interpreter threads alive", |g| {
                g.python_threads
            }),
            (
                "zato_python_threads_waiting_io",
                "Interpreter threads waiting on I/O the server does for them",
                |g| g.python_waiting_io,
            ),
            (
                "zato_python_threads_stuck",
                "Interpreter threads past the service timeout, being replaced",
                |g| g.python_stuck,
            ),
            (
                "zato_python_queue_depth",
                "Calls waiting for an interpreter thread",
                |g| g.python_queued,
            ),
            (
                "zato_python_inline_services",
                "Services running on the inline lane",
                |g| g.python_inline_services,
            ),
            (
                "zato_services_deployed",
                "User services deployed in this process",
                |g| g.services_deployed,
            ),
            (
                "zato_uptime_seconds",
                "Seconds since this process started",
                |g| g.uptime_seconds,
            ),
        ];
        let (calls, errors, duration, deploys, deploy_failures) =
            match (calls, errors, duration, deploys, deploy_failures) {
                (Ok(a), Ok(b), Ok(c), Ok(d), Ok(e)) => (a, b, c, d, e),
                // The names and labels above are constants: only a programming error lands here.
                _ => unreachable!("constant metric definitions are valid"),
            };
        let mut gauges = Vec::new();
        for (name, help, read) in gauge_defs {
            if let Ok(g) = IntGauge::new(name, help) {
                gauges.push((g, read));
            }
        }
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(calls.clone()),
            Box::new(errors.clone()),
            Box::new(duration.clone()),
            Box::new(deploys.clone()),
            Box::new(deploy_failures.clone()),
        ];
        for c in collectors
            .into_iter()
            .chain(gauges.iter().map(|(g, _)| Box::new(g.clone()) as Box<_>))
        {
            // Each name is registered once, here.
            let _ = registry.register(c);
        }
        Self {
            registry,
            calls,
            errors,
            duration,
            deploys,
            deploy_failures,
            gauges,
        }
    }

    pub fn handles(&self, service: &str, channel: &str) -> Handles {
        Handles {
            calls: self.calls.with_label_values(&[service, channel]),
            duration: self.duration.with_label_values(&[service, channel]),
        }
    }

    pub fn error(&self, service: &str, channel: &str, kind: &str) {
        self.errors
            .with_label_values(&[service, channel, kind])
            .inc();
    }

    pub fn set(&self, g: &Gauges) {
        for (gauge, read) in &self.gauges {
            gauge.set(read(g));
        }
    }

    /// The text format, with the content type to send it with.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec fails only on metric families that cannot be (none here).
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!("cannot render metrics: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;
