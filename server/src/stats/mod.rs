//! Statistics: an [`Observer`] of the one invoker that counts and times every call per service,
//! by the minute, with no change in services. A call costs a map lookup and a short lock on
//! the calling thread's own shard (threads never share one counter, which would bounce between
//! CPU caches); [`flush`] writes the minutes to the ODB (`service_stats`, summed
//! across every server process) once a second and rolls old minutes up into hours, days and
//! months; [`report`] answers upstream's `zato.stats.*` questions from those rows; [`metrics`]
//! renders the counts as Prometheus metrics at `GET /zato/metrics`.
//! Request/response pairs of services with sampling or a slow threshold are kept too
//! (`service_sample`), written with the minutes.
pub mod flush;
pub mod metrics;
pub mod report;

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;
use zato_common::odb::stats::{Granularity, Sample, StatRow};

use crate::core::{Body, Observer, Ran};
use crate::objects::Watch;

/// Samples waiting to be written; more are dropped (and counted) until the next write.
const MAX_PENDING_SAMPLES: usize = 1000;
/// Longest request or response text kept in a sample.
const MAX_SAMPLE_TEXT: usize = 64 * 1024;
/// Accumulators; each thread counts into one of them (see [`shard`]).
const SHARDS: usize = 16;

thread_local! {
    static SHARD: Cell<Option<usize>> = const { Cell::new(None) };
}
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

/// The calling thread's shard: threads are dealt shards in turn on first use, so the few
/// runtime and interpreter threads of a process rarely share one and never wait on each other
/// (one shared counter per service would bounce between CPU caches on every call).
fn shard() -> usize {
    SHARD.with(|s| match s.get() {
        Some(i) => i,
        None => {
            let i = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
            s.set(Some(i));
            i
        }
    })
}

/// One service's calls in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub usage: i64,
    pub errors: i64,
    pub total_us: i64,
    pub min_us: i64,
    pub max_us: i64,
}

impl Bucket {
    fn one(us: i64, ok: bool) -> Self {
        Self {
            usage: 1,
            errors: i64::from(!ok),
            total_us: us,
            min_us: us,
            max_us: us,
        }
    }

    fn merge(&mut self, other: &Bucket) {
        self.usage += other.usage;
        self.errors += other.errors;
        self.total_us = self.total_us.saturating_add(other.total_us);
        self.min_us = self.min_us.min(other.min_us);
        self.max_us = self.max_us.max(other.max_us);
    }
}

/// One service as one shard counted it.
#[derive(Default)]
struct Svc {
    /// (minute since the epoch, its calls) since the last write, in the order minutes came.
    minutes: Vec<(i64, Bucket)>,
    /// Calls ever counted (upstream's `self.usage`; the 1-in-N sampler's clock).
    calls: u64,
    /// For `/zato/metrics`, by channel name.
    channels: Vec<(Box<str>, metrics::Counts)>,
}

impl Svc {
    fn add(&mut self, minute: i64, b: Bucket) {
        match self.minutes.iter_mut().rev().find(|(m, _)| *m == minute) {
            Some((_, have)) => have.merge(&b),
            None => self.minutes.push((minute, b)),
        }
    }
}

/// A shard, on a cache line of its own.
#[repr(align(128))]
#[derive(Default)]
struct Shard(Mutex<FxHashMap<Box<str>, Svc>>);

impl Shard {
    fn lock(&self) -> MutexGuard<'_, FxHashMap<Box<str>, Svc>> {
        // A panic while counting leaves the numbers whole enough to go on with.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct Stats {
    shards: Box<[Shard]>,
    watched: Arc<ArcSwap<FxHashMap<String, Watch>>>,
    samples: Mutex<Vec<Sample>>,
    dropped_samples: AtomicU64,
    pub metrics: metrics::Metrics,
}

impl Stats {
    pub fn new(watched: Arc<ArcSwap<FxHashMap<String, Watch>>>) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            watched,
            samples: Default::default(),
            dropped_samples: AtomicU64::new(0),
            metrics: metrics::Metrics::new(),
        }
    }

    /// Calls of `service` counted in this process since it started.
    pub fn usage(&self, service: &str) -> u64 {
        self.shards
            .iter()
            .map(|s| s.lock().get(service).map_or(0, |svc| svc.calls))
            .sum()
    }

    /// Everything counted since the last call, as minute rows, emptying the accumulators.
    pub fn take_rows(&self) -> Vec<StatRow> {
        let mut merged: FxHashMap<(Box<str>, i64), Bucket> = FxHashMap::default();
        for shard in self.shards.iter() {
            for (name, svc) in shard.lock().iter_mut() {
                for (minute, b) in svc.minutes.drain(..) {
                    merged
                        .entry((name.clone(), minute))
                        .and_modify(|have| have.merge(&b))
                        .or_insert(b);
                }
            }
        }
        merged
            .into_iter()
            .map(|((name, m), b)| StatRow {
                service: name.into(),
                granularity: Granularity::Minute,
                period_start: minute_start(m),
                usage: b.usage,
                errors: b.errors,
                total_us: b.total_us,
                min_us: b.min_us,
                max_us: b.max_us,
            })
            .collect()
    }

    /// Rows a failed write could not store, counted again so the next write carries them.
    pub fn put_back(&self, rows: Vec<StatRow>) {
        let mut shard = self.shards[shard()].lock();
        for r in rows {
            let Some(minute) = minute_from_start(&r.period_start) else {
                continue;
            };
            let b = Bucket {
                usage: r.usage,
                errors: r.errors,
                total_us: r.total_us,
                min_us: r.min_us,
                max_us: r.max_us,
            };
            match shard.get_mut(r.service.as_str()) {
                Some(svc) => svc.add(minute, b),
                None => shard.entry(r.service.into()).or_default().add(minute, b),
            }
        }
    }

    /// Each service's and channel's counts for `/zato/metrics`, summed over the shards.
    pub fn metric_counts(&self) -> Vec<((String, String), metrics::Counts)> {
        let mut all: FxHashMap<(String, String), metrics::Counts> = FxHashMap::default();
        for shard in self.shards.iter() {
            for (name, svc) in shard.lock().iter() {
                for (channel, counts) in &svc.channels {
                    all.entry((name.to_string(), channel.to_string()))
                        .or_default()
                        .merge(counts);
                }
            }
        }
        let mut all: Vec<_> = all.into_iter().collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Samples kept since the last call, and how many were dropped for want of room.
    pub fn take_samples(&self) -> (Vec<Sample>, u64) {
        let samples = std::mem::take(&mut *self.samples.lock().unwrap_or_else(|e| e.into_inner()));
        (samples, self.dropped_samples.swap(0, Ordering::Relaxed))
    }

    fn keep_sample(&self, sample: Sample) {
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.len() < MAX_PENDING_SAMPLES {
            samples.push(sample);
        } else {
            self.dropped_samples.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Observer for Stats {
    fn keeps_request(&self, service: &str) -> bool {
        self.watched
            .load()
            .get(service)
            .is_some_and(|w| w.slow_ms.is_some() || w.sample_every > 0)
    }

    fn after(&self, ran: &Ran<'_>) {
        let now = ran.ended;
        let us = i64::try_from(ran.took.as_micros()).unwrap_or(i64::MAX);
        let channel = ran.channel;
        let error = ran.result.err().map(|e| e.kind.as_str());
        let nth = {
            let mut shard = self.shards[shard()].lock();
            let svc = match shard.get_mut(ran.name) {
                Some(svc) => svc,
                None => shard.entry(ran.name.into()).or_default(),
            };
            svc.add(minute_of(now), Bucket::one(us, error.is_none()));
            svc.calls += 1;
            let counts = match svc.channels.iter().position(|(c, _)| &**c == channel) {
                Some(i) => &mut svc.channels[i].1,
                None => {
                    svc.channels.push((channel.into(), Default::default()));
                    let last = svc.channels.len() - 1;
                    &mut svc.channels[last].1
                }
            };
            counts.observe(ran.took, error);
            svc.calls
        };
        // Only services with a sampling frequency or a threshold have their request kept.
        if ran.request.is_none() {
            return;
        }
        let Some(watch) = self.watched.load().get(ran.name).copied() else {
            return;
        };
        let sampled = watch.sample_every > 0 && nth.is_multiple_of(watch.sample_every);
        let slow = watch.slow_ms.is_some_and(|limit| ran.log_if_slow(limit));
        for (kind, keep) in [("sample", sampled), ("slow", slow)] {
            if keep {
                self.keep_sample(Sample {
                    service: ran.name.to_string(),
                    kind: kind.into(),
                    cid: ran.cid.to_string(),
                    req_ts: iso(now.checked_sub(ran.took).unwrap_or(now)),
                    resp_ts: iso(now),
                    proc_time_us: us,
                    ok: ran.result.is_ok(),
                    request: clip(ran.request.unwrap_or_default()),
                    response: clip(&response_text(ran)),
                });
            }
        }
    }
}

fn response_text(ran: &Ran<'_>) -> String {
    match ran.result {
        Ok(out) => match &out.body {
            Body::Empty => String::new(),
            Body::Json(v) => v.to_string(),
            Body::Text(t) => t.clone(),
            Body::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        },
        Err(e) => e.message.clone(),
    }
}

/// `text` cut to [`MAX_SAMPLE_TEXT`] bytes at a character boundary.
fn clip(text: &str) -> String {
    if text.len() <= MAX_SAMPLE_TEXT {
        return text.to_string();
    }
    let mut end = MAX_SAMPLE_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

fn minute_of(t: SystemTime) -> i64 {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    i64::try_from(secs / 60).unwrap_or(0)
}

fn iso(t: SystemTime) -> String {
    zato_common::time::to_iso(chrono::DateTime::<chrono::Utc>::from(t))
}

/// `YYYY-MM-DDTHH:MM:00` of a minute since the epoch.
pub fn minute_start(minute: i64) -> String {
    chrono::DateTime::from_timestamp(minute.saturating_mul(60), 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:00")
        .to_string()
}

fn minute_from_start(start: &str) -> Option<i64> {
    let t = chrono::NaiveDateTime::parse_from_str(start, "%Y-%m-%dT%H:%M:%S").ok()?;
    Some(t.and_utc().timestamp() / 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Output, ServiceError};
    use serde_json::json;
    use std::time::Duration;

    fn ran<'a>(
        name: &'a str,
        channel: &'a str,
        took_ms: u64,
        result: Result<&'a Output, &'a ServiceError>,
    ) -> Ran<'a> {
        Ran {
            name,
            cid: "c1",
            channel,
            request: Some("{\"a\":1}"),
            took: Duration::from_millis(took_ms),
            ended: std::time::SystemTime::now(),
            result,
        }
    }

    #[test]
    fn calls_are_counted_per_service_and_minute_then_taken_once() {
        let stats = Stats::new(Default::default());
        let ch = "my.channel";
        let out = Output::json(json!({"ok": true}));
        let err = ServiceError::bad_request("no");
        stats.after(&ran("a", ch, 3, Ok(&out)));
        stats.after(&ran("a", ch, 7, Err(&err)));
        stats.after(&ran("b", ch, 1, Ok(&out)));
        let mut rows = stats.take_rows();
        rows.sort_by(|x, y| x.service.cmp(&y.service));
        assert_eq!(rows.len(), 2);
        let a = &rows[0];
        assert_eq!((a.usage, a.errors), (2, 1));
        assert_eq!((a.min_us, a.max_us, a.total_us), (3000, 7000, 10_000));
        assert!(stats.take_rows().is_empty(), "rows are taken once");
        stats.put_back(rows);
        assert_eq!(
            stats.take_rows().len(),
            2,
            "rows put back are written next time"
        );
        let text = stats.metrics.render(&stats.metric_counts());
        assert!(text.contains("zato_service_calls_total{channel=\"my.channel\",service=\"a\"} 2"));
        assert!(text.contains("zato_service_errors_total{channel=\"my.channel\",kind=\"bad_input\",service=\"a\"} 1"), "{text}");
    }

    #[test]
    fn sampled_and_slow_calls_are_kept() {
        let watched: FxHashMap<String, Watch> = [(
            "s".to_string(),
            Watch {
                slow_ms: Some(5),
                sample_every: 2,
            },
        )]
        .into_iter()
        .collect();
        let stats = Stats::new(Arc::new(ArcSwap::from_pointee(watched)));
        assert!(stats.keeps_request("s"));
        assert!(!stats.keeps_request("other"));
        let ch = "";
        let out = Output::json(json!({"r": 1}));
        stats.after(&ran("s", ch, 1, Ok(&out)));
        stats.after(&ran("s", ch, 1, Ok(&out)));
        stats.after(&ran("s", ch, 9, Ok(&out)));
        let (samples, dropped) = stats.take_samples();
        assert_eq!(dropped, 0);
        let kinds: Vec<&str> = samples.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, ["sample", "slow"]);
        assert_eq!(samples[0].request, "{\"a\":1}");
        assert_eq!(samples[0].response, "{\"r\":1}");
    }

    #[test]
    fn minutes_round_trip_through_their_start() {
        let m = 29_420_000;
        assert_eq!(minute_from_start(&minute_start(m)), Some(m));
        assert_eq!(clip(&"é".repeat(MAX_SAMPLE_TEXT)).len(), MAX_SAMPLE_TEXT);
    }
}
