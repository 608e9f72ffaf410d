//! Writing what the observer counted to the ODB, and rolling old rows up: minutes older than a
//! day into hours, hours older than 35 days into days, days older than 400 days into months.
//! Every process writes its own counts (rows are summed); one process of the cluster at a
//! time, the holder of a `kv_data` lease, rolls up, as two doing it at once would count twice.
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Span, Utc};
use zato_common::odb::Odb;
use zato_common::odb::stats::Granularity;

use super::Stats;

/// How often the roll-up is tried.
const ROLL_UP_EVERY: Duration = Duration::from_secs(600);
const ROLL_UP_LEASE: &str = "zato.stats.roll-up";

/// Where the flusher writes.
pub struct Sink {
    pub odb: Odb,
    pub cluster_id: i64,
    /// Samples kept per service and kind.
    pub keep: i64,
    /// Who takes the roll-up lease.
    pub holder: String,
}

/// Writes once per `every` until the process ends; the last write is [`flush`] at shutdown.
pub async fn run(stats: Arc<Stats>, sink: Sink, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rolled: Option<Instant> = None;
    loop {
        tick.tick().await;
        flush(&stats, &sink).await;
        if rolled.is_none_or(|t| t.elapsed() >= ROLL_UP_EVERY) {
            rolled = Some(Instant::now());
            roll_up(&sink).await;
        }
    }
}

/// Writes what was counted and sampled since the last write; rows that could not be written
/// are kept for the next one.
pub async fn flush(stats: &Stats, sink: &Sink) {
    let rows = stats.take_rows();
    if !rows.is_empty()
        && let Err(e) = sink.odb.stats_add(sink.cluster_id, &rows).await
    {
        tracing::warn!("cannot store statistics, keeping them for the next try: {e}");
        stats.put_back(rows);
    }
    let (samples, dropped) = stats.take_samples();
    if dropped > 0 {
        tracing::warn!("{dropped} request/response samples dropped: too many to write at once");
    }
    if let Err(e) = sink
        .odb
        .samples_add(sink.cluster_id, &samples, sink.keep)
        .await
    {
        tracing::warn!(
            "cannot store {} request/response samples: {e}",
            samples.len()
        );
    }
}

async fn roll_up(sink: &Sink) {
    let ttl = i64::try_from(ROLL_UP_EVERY.as_secs()).unwrap_or(600);
    match sink
        .odb
        .kv_lease(sink.cluster_id, ROLL_UP_LEASE, &sink.holder, ttl)
        .await
    {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!("cannot take the statistics roll-up lease: {e}");
            return;
        }
    }
    let now = Utc::now().naive_utc();
    let steps = [
        (Granularity::Minute, Granularity::Hour, Span::days(1)),
        (Granularity::Hour, Granularity::Day, Span::days(35)),
        (Granularity::Day, Granularity::Month, Span::days(400)),
    ];
    for (from, to, age) in steps {
        // Aligned to the coarser period, so a rolled-up period holds whole periods.
        let before = to.truncate(&super::report::text(now - age));
        match sink
            .odb
            .stats_roll_up(sink.cluster_id, from, to, &before)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "statistics: {n} {} rows before {before} rolled up into {}s",
                from.as_str(),
                to.as_str()
            ),
            Err(e) => tracing::warn!("cannot roll up {} statistics: {e}", from.as_str()),
        }
    }
}
