//! Prometheus metrics of a server process (the `prometheus` crate's model and text format
//! 0.0.4): calls, errors and latency per service and channel, counted by the statistics
//! observer into its per-thread shards ([`Counts`]) and summed at the scrape, plus gauges read
//! when scraped (async requests, the Python lanes, deployments).
use std::borrow::Cow;
use std::time::Duration;

use prometheus::proto::{Bucket, Counter, Histogram, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder, IntCounter, IntGauge, Registry, TextEncoder};

/// Latency buckets in seconds: half a millisecond to a minute (the default service timeout).
const BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// One service-and-channel's calls, errors by kind and latency histogram.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub calls: u64,
    pub sum_seconds: f64,
    /// Calls per bucket of [`BUCKETS`] (not cumulative); the last one is above them all.
    pub buckets: [u64; BUCKETS.len() + 1],
    /// Borrowed when counted here, owned when read from another worker's part.
    pub errors: Vec<(Cow<'static, str>, u64)>,
}

impl Counts {
    pub fn observe(&mut self, took: Duration, error: Option<&'static str>) {
        let secs = took.as_secs_f64();
        self.calls += 1;
        self.sum_seconds += secs;
        let i = BUCKETS.partition_point(|le| *le < secs);
        self.buckets[i] += 1;
        if let Some(kind) = error {
            match self.errors.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => self.errors.push((Cow::Borrowed(kind), 1)),
            }
        }
    }

    pub fn merge(&mut self, other: &Counts) {
        self.calls += other.calls;
        self.sum_seconds += other.sum_seconds;
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
        for (kind, n) in &other.errors {
            match self.errors.iter_mut().find(|(k, _)| k == kind) {
                Some((_, have)) => *have += n,
                None => self.errors.push((kind.clone(), *n)),
            }
        }
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(k, v)| {
            let mut l = LabelPair::default();
            l.set_name(k.to_string());
            l.set_value(v.to_string());
            l
        })
        .collect()
}

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.into());
    f.set_help(help.into());
    f.set_field_type(kind);
    f.set_metric(metrics);
    f
}

/// The per-service families from the observer's counts (labels in name order).
fn service_families(counts: &[((String, String), Counts)]) -> Vec<MetricFamily> {
    let (mut calls, mut errors, mut durations) = (Vec::new(), Vec::new(), Vec::new());
    for ((service, channel), c) in counts {
        let mut m = Metric::default();
        m.set_label(labels(&[("channel", channel), ("service", service)]));
        let mut counter = Counter::default();
        counter.set_value(c.calls as f64);
        m.set_counter(counter);
        calls.push(m);
        for (kind, n) in &c.errors {
            let mut m = Metric::default();
            m.set_label(labels(&[
                ("channel", channel),
                ("kind", kind),
                ("service", service),
            ]));
            let mut counter = Counter::default();
            counter.set_value(*n as f64);
            m.set_counter(counter);
            errors.push(m);
        }
        let mut h = Histogram::default();
        h.set_sample_count(c.calls);
        h.set_sample_sum(c.sum_seconds);
        let mut cumulative = 0;
        h.set_bucket(
            BUCKETS
                .iter()
                .zip(c.buckets)
                .map(|(le, n)| {
                    cumulative += n;
                    let mut b = Bucket::default();
                    b.set_upper_bound(*le);
                    b.set_cumulative_count(cumulative);
                    b
                })
                .collect(),
        );
        let mut m = Metric::default();
        m.set_label(labels(&[("channel", channel), ("service", service)]));
        m.set_histogram(h);
        durations.push(m);
    }
    vec![
        family(
            "zato_service_calls_total",
            "Calls of a service, by channel",
            MetricType::COUNTER,
            calls,
        ),
        family(
            "zato_service_errors_total",
            "Calls of a service that failed, by channel and kind of error",
            MetricType::COUNTER,
            errors,
        ),
        family(
            "zato_service_duration_seconds",
            "How long calls of a service took, by channel",
            MetricType::HISTOGRAM,
            durations,
        ),
    ]
}

/// What `/zato/metrics` reads at each scrape, besides the counters.
#[derive(Debug, Default, Clone, Copy, serde::Serialize, serde::Deserialize)]
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
    pub events_pushed: i64,
    /// Worker processes whose part the scrape holds.
    pub workers_answered: i64,
}

impl Gauges {
    /// Another worker's gauges into these: what each process holds adds up; what is the
    /// cluster's (stored requests) or every process's alike (services deployed) is taken once;
    /// the server is up as long as its oldest worker; events are pushed only if to every one.
    pub fn merge(&mut self, o: &Gauges) {
        self.async_held += o.async_held;
        self.async_stored = self.async_stored.max(o.async_stored);
        self.python_threads += o.python_threads;
        self.python_waiting_io += o.python_waiting_io;
        self.python_stuck += o.python_stuck;
        self.python_queued += o.python_queued;
        self.python_inline_services = self.python_inline_services.max(o.python_inline_services);
        self.services_deployed = self.services_deployed.max(o.services_deployed);
        self.uptime_seconds = self.uptime_seconds.max(o.uptime_seconds);
        self.events_pushed = self.events_pushed.min(o.events_pushed);
        self.workers_answered += o.workers_answered;
    }
}

/// What one worker process of a server counted: the scrape of a server with several workers
/// sums every worker's part.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Part {
    pub counts: Vec<(String, String, Counts)>,
    pub gauges: Gauges,
    pub deploys: u64,
    pub deploy_failures: u64,
}

/// How a gauge is read from the scrape's [`Gauges`].
type Read = fn(&Gauges) -> i64;

pub struct Metrics {
    registry: Registry,
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
        let deploys = IntCounter::new(
            "zato_deploys_total",
            "Hot deployments applied by this process",
        );
        let deploy_failures = IntCounter::new(
            "zato_deploy_failures_total",
            "Hot deployments refused by this process",
        );
        let gauge_defs: [(&str, &str, Read); 11] = [
            (
                "zato_metrics_workers_answered",
                "Worker processes of this server whose counts this scrape sums",
                |g| g.workers_answered,
            ),
            (
                "zato_cluster_events_pushed",
                "1 when other servers' events wake this process at once (PostgreSQL LISTEN/NOTIFY), 0 when it polls",
                |g| g.events_pushed,
            ),
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
        let (deploys, deploy_failures) = match (deploys, deploy_failures) {
            (Ok(d), Ok(e)) => (d, e),
            // The names above are constants: only a programming error lands here.
            _ => unreachable!("constant metric definitions are valid"),
        };
        let mut gauges = Vec::new();
        for (name, help, read) in gauge_defs {
            if let Ok(g) = IntGauge::new(name, help) {
                gauges.push((g, read));
            }
        }
        let collectors: Vec<Box<dyn prometheus::core::Collector>> =
            vec![Box::new(deploys.clone()), Box::new(deploy_failures.clone())];
        for c in collectors
            .into_iter()
            .chain(gauges.iter().map(|(g, _)| Box::new(g.clone()) as Box<_>))
        {
            // Each name is registered once, here.
            let _ = registry.register(c);
        }
        Self {
            registry,
            deploys,
            deploy_failures,
            gauges,
        }
    }

    pub fn set(&self, g: &Gauges) {
        for (gauge, read) in &self.gauges {
            gauge.set(read(g));
        }
    }

    /// This process's part: its counters and `gauges` read now.
    pub fn part(&self, counts: Vec<((String, String), Counts)>, gauges: Gauges) -> Part {
        Part {
            counts: counts.into_iter().map(|((s, c), n)| (s, c, n)).collect(),
            gauges,
            deploys: self.deploys.get(),
            deploy_failures: self.deploy_failures.get(),
        }
    }

    /// The text format of several workers' parts summed, as one server.
    pub fn render_parts(parts: &[Part]) -> String {
        let mut counts: std::collections::BTreeMap<(String, String), Counts> =
            std::collections::BTreeMap::new();
        let mut gauges: Option<Gauges> = None;
        let sum = Metrics::new();
        for p in parts {
            for (service, channel, c) in &p.counts {
                counts
                    .entry((service.clone(), channel.clone()))
                    .or_default()
                    .merge(c);
            }
            match &mut gauges {
                Some(g) => g.merge(&p.gauges),
                None => gauges = Some(p.gauges),
            }
            sum.deploys.inc_by(p.deploys);
            sum.deploy_failures.inc_by(p.deploy_failures);
        }
        sum.set(&gauges.unwrap_or_default());
        sum.render(&counts.into_iter().collect::<Vec<_>>())
    }

    /// The text format of the gauges and counters here and of the observer's `counts`.
    pub fn render(&self, counts: &[((String, String), Counts)]) -> String {
        let mut families = self.registry.gather();
        families.extend(
            service_families(counts)
                .into_iter()
                .filter(|f| !f.get_metric().is_empty()),
        );
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        // Encoding into a Vec fails only on metric families that cannot be (none here).
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::warn!("cannot render metrics: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_workers_sum_as_one_server() {
        let mut a = Counts::default();
        a.observe(Duration::from_millis(2), None);
        a.observe(Duration::from_millis(3), Some("raised"));
        let mut b = Counts::default();
        b.observe(Duration::from_millis(2), Some("raised"));
        let key = || ("svc".to_string(), "ch".to_string());
        let part = |c: Counts, threads: i64, stored: i64, deploys: u64| Part {
            counts: vec![(key().0, key().1, c)],
            gauges: Gauges {
                python_threads: threads,
                async_stored: stored,
                services_deployed: 5,
                events_pushed: 1,
                workers_answered: 1,
                ..Gauges::default()
            },
            deploys,
            deploy_failures: 0,
        };
        // A part travels between workers as JSON.
        let b = serde_json::from_slice(&serde_json::to_vec(&part(b, 3, 7, 1)).unwrap()).unwrap();
        let text = Metrics::render_parts(&[part(a, 4, 7, 2), b]);
        for line in [
            "zato_service_calls_total{channel=\"ch\",service=\"svc\"} 3",
            "zato_service_errors_total{channel=\"ch\",kind=\"raised\",service=\"svc\"} 2",
            "zato_python_threads 7",
            "zato_async_requests_stored 7",
            "zato_services_deployed 5",
            "zato_metrics_workers_answered 2",
            "zato_deploys_total 3",
        ] {
            assert!(text.contains(line), "`{line}` not in:\n{text}");
        }
    }
}
