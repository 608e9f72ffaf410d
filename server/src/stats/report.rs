//! Upstream 3.0's statistics answers computed from `service_stats` rows: per service its usage,
//! mean, rate, total time, least and greatest time, trends, and its share of all services;
//! the top N by mean ("slowest") or by usage ("most used"); CSV with upstream's columns.
//! Unlike upstream (a trimmed mean of minute means), the mean is the true one: total time over
//! calls. A row counts when its period starts inside `[start, stop)`.
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use serde_json::{Value, json};
use zato_common::odb::stats::StatRow;

/// The most points a trend has; a longer range takes coarser steps.
const MAX_TREND_POINTS: i64 = 1000;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReportError {
    #[error(
        "`{field}` is not a UTC date and time: `{value}`; use e.g. 2026-12-07T10:00:00 or 2026-12-07"
    )]
    BadTime { field: &'static str, value: String },
    #[error("`start` ({start}) must be before `stop` ({stop})")]
    Empty { start: String, stop: String },
    #[error("`n_type` must be `mean` (the slowest services) or `usage` (the most used), not `{0}`")]
    BadNType(String),
}

/// A UTC period `[start, stop)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Period {
    pub start: NaiveDateTime,
    pub stop: NaiveDateTime,
}

/// The ODB's text form of a time (text order is time order).
pub fn text(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A time given as `2026-12-07T10:00:00[.fff][Z|+00:00]`, with a space instead of the `T`,
/// without seconds, or a date alone (its midnight).
pub fn parse_time(field: &'static str, value: &str) -> Result<NaiveDateTime, ReportError> {
    let v = value.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.naive_utc());
    }
    let v = v.trim_end_matches('Z');
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, f) {
            return Ok(t);
        }
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .ok_or_else(|| ReportError::BadTime {
            field,
            value: value.to_string(),
        })
}

impl Period {
    pub fn new(start: NaiveDateTime, stop: NaiveDateTime) -> Result<Self, ReportError> {
        if start >= stop {
            return Err(ReportError::Empty {
                start: text(start),
                stop: text(stop),
            });
        }
        Ok(Self { start, stop })
    }

    pub fn parse(start: &str, stop: &str) -> Result<Self, ReportError> {
        Self::new(parse_time("start", start)?, parse_time("stop", stop)?)
    }

    /// Upstream's summaries: the day, the week (from its Monday), the month or the year that
    /// `start` (`2026-12-07`, `2026-12`, `2026`) names.
    pub fn summary(kind: Summary, start: &str) -> Result<Self, ReportError> {
        let bad = || ReportError::BadTime {
            field: "start",
            value: start.to_string(),
        };
        let s = start.trim();
        let first = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).ok_or_else(bad);
        let (from, to) = match kind {
            Summary::Day | Summary::Week => {
                let day = parse_time("start", s)?.date();
                if kind == Summary::Day {
                    (day, day + Duration::days(1))
                } else {
                    let monday =
                        day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
                    (monday, monday + Duration::days(7))
                }
            }
            Summary::Month => {
                let d = NaiveDate::parse_from_str(
                    &format!("{}-01", s.get(..7).unwrap_or(s)),
                    "%Y-%m-%d",
                )
                .map_err(|_| bad())?;
                let next = if d.month() == 12 {
                    first(d.year() + 1, 1, 1)?
                } else {
                    first(d.year(), d.month() + 1, 1)?
                };
                (d, next)
            }
            Summary::Year => {
                let y: i32 = s.get(..4).and_then(|y| y.parse().ok()).ok_or_else(bad)?;
                (first(y, 1, 1)?, first(y + 1, 1, 1)?)
            }
        };
        Self::new(
            from.and_time(Default::default()),
            to.and_time(Default::default()),
        )
    }

    fn seconds(&self) -> f64 {
        (self.stop - self.start).num_seconds().max(1) as f64
    }

    /// The step of trends: minutes up to three hours, hours up to a week, then days (and
    /// longer steps when even days would make too many points).
    fn step(&self) -> Duration {
        let span = self.stop - self.start;
        let step = if span <= Duration::hours(3) {
            Duration::minutes(1)
        } else if span <= Duration::days(7) {
            Duration::hours(1)
        } else {
            Duration::days(1)
        };
        let points = span.num_seconds() / step.num_seconds().max(1);
        if points > MAX_TREND_POINTS {
            Duration::seconds(span.num_seconds() / MAX_TREND_POINTS + 1)
        } else {
            step
        }
    }
}

/// Which summary of upstream's `zato.stats.summary.get-summary-by-*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    Day,
    Week,
    Month,
    Year,
}

/// What to rank by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NType {
    /// The slowest services.
    Mean,
    /// The most used services.
    Usage,
}

impl NType {
    pub fn parse(s: &str) -> Result<Self, ReportError> {
        match s {
            "mean" => Ok(Self::Mean),
            "usage" => Ok(Self::Usage),
            other => Err(ReportError::BadNType(other.to_string())),
        }
    }
}

/// One service over a period, as upstream's StatsElem.
#[derive(Debug, Clone, PartialEq)]
pub struct Elem {
    pub service_name: String,
    pub usage: i64,
    pub errors: i64,
    /// Milliseconds.
    pub mean: f64,
    /// Calls per second over the period.
    pub rate: f64,
    /// Total milliseconds.
    pub time: f64,
    pub min_resp_time: f64,
    pub max_resp_time: f64,
    pub usage_trend: Vec<i64>,
    pub mean_trend: Vec<i64>,
    pub all_services_usage: i64,
    pub all_services_time: f64,
    pub mean_all_services: f64,
    pub usage_perc_all_services: f64,
    pub time_perc_all_services: f64,
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

/// Every service with calls in `period`, by name.
pub fn compute(rows: &[StatRow], period: &Period, trends: bool) -> Vec<Elem> {
    struct Acc {
        usage: i64,
        errors: i64,
        total_us: i64,
        min_us: i64,
        max_us: i64,
        points: Vec<(i64, i64)>,
    }
    let step = period.step();
    let points = usize::try_from(
        ((period.stop - period.start).num_seconds() + step.num_seconds() - 1)
            / step.num_seconds().max(1),
    )
    .unwrap_or(0);
    let mut by_service: std::collections::BTreeMap<&str, Acc> = Default::default();
    for r in rows {
        let Ok(start) = NaiveDateTime::parse_from_str(&r.period_start, "%Y-%m-%dT%H:%M:%S") else {
            continue;
        };
        if start < period.start || start >= period.stop {
            continue;
        }
        let a = by_service.entry(&r.service).or_insert_with(|| Acc {
            usage: 0,
            errors: 0,
            total_us: 0,
            min_us: i64::MAX,
            max_us: 0,
            points: if trends {
                vec![(0, 0); points]
            } else {
                Vec::new()
            },
        });
        a.usage += r.usage;
        a.errors += r.errors;
        a.total_us = a.total_us.saturating_add(r.total_us);
        a.min_us = a.min_us.min(r.min_us);
        a.max_us = a.max_us.max(r.max_us);
        let i = (start - period.start).num_seconds() / step.num_seconds().max(1);
        if let Some(p) = usize::try_from(i).ok().and_then(|i| a.points.get_mut(i)) {
            p.0 += r.usage;
            p.1 = p.1.saturating_add(r.total_us);
        }
    }
    let all_usage: i64 = by_service.values().map(|a| a.usage).sum();
    let all_us: i64 = by_service.values().map(|a| a.total_us).sum();
    let pct = |part: f64, all: f64| {
        if all > 0.0 {
            round2(100.0 * part / all)
        } else {
            0.0
        }
    };
    by_service
        .into_iter()
        .map(|(name, a)| Elem {
            service_name: name.to_string(),
            usage: a.usage,
            errors: a.errors,
            mean: if a.usage > 0 {
                round2(ms(a.total_us) / a.usage as f64)
            } else {
                0.0
            },
            rate: round2(a.usage as f64 / period.seconds()),
            time: round2(ms(a.total_us)),
            min_resp_time: if a.min_us == i64::MAX {
                0.0
            } else {
                round2(ms(a.min_us))
            },
            max_resp_time: round2(ms(a.max_us)),
            usage_trend: a.points.iter().map(|p| p.0).collect(),
            mean_trend: a
                .points
                .iter()
                .map(|p| if p.0 > 0 { p.1 / p.0 / 1000 } else { 0 })
                .collect(),
            all_services_usage: all_usage,
            all_services_time: round2(ms(all_us)),
            mean_all_services: if all_usage > 0 {
                round2(ms(all_us) / all_usage as f64)
            } else {
                0.0
            },
            usage_perc_all_services: pct(a.usage as f64, all_usage as f64),
            time_perc_all_services: pct(a.total_us as f64, all_us as f64),
        })
        .collect()
}

/// The `n` services with the greatest mean or usage (ties by name).
pub fn top(mut elems: Vec<Elem>, n: usize, by: NType) -> Vec<Elem> {
    elems.sort_by(|a, b| {
        let (x, y) = match by {
            NType::Mean => (a.mean, b.mean),
            NType::Usage => (a.usage as f64, b.usage as f64),
        };
        y.total_cmp(&x)
            .then_with(|| a.service_name.cmp(&b.service_name))
    });
    elems.truncate(n);
    elems
}

fn joined(v: &[i64]) -> String {
    v.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

impl Elem {
    /// Upstream's output elements (plus `errors`); trends only when computed.
    pub fn to_json(&self, trends: bool) -> Value {
        let mut v = json!({
            "service_name": self.service_name,
            "usage": self.usage,
            "errors": self.errors,
            "mean": self.mean,
            "rate": self.rate,
            "time": self.time,
            "min_resp_time": self.min_resp_time,
            "max_resp_time": self.max_resp_time,
            "all_services_usage": self.all_services_usage,
            "all_services_time": self.all_services_time,
            "mean_all_services": self.mean_all_services,
            "usage_perc_all_services": self.usage_perc_all_services,
            "time_perc_all_services": self.time_perc_all_services,
        });
        if trends && let Value::Object(m) = &mut v {
            m.insert("usage_trend".into(), joined(&self.usage_trend).into());
            m.insert("mean_trend".into(), joined(&self.mean_trend).into());
        }
        v
    }
}

/// Upstream web admin's `zato-stats.csv`: its columns for `mean` or for `usage` (the two
/// differ in the value ranked, its companion and the trend).
pub fn csv(elems: &[Elem], by: NType, period: &Period) -> Result<String, csv::Error> {
    let (ranked, companion, trend) = match by {
        NType::Mean => ("mean", "mean_all_services", "mean_trend"),
        NType::Usage => ("usage", "rate", "usage_trend"),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "start",
        "stop",
        "service_name",
        ranked,
        companion,
        "usage_perc_all_services",
        "time_perc_all_services",
        "all_services_usage",
        trend,
    ])?;
    let (start, stop) = (text(period.start), text(period.stop));
    for e in elems {
        let (value, with, points) = match by {
            NType::Mean => (
                e.mean.to_string(),
                e.mean_all_services.to_string(),
                &e.mean_trend,
            ),
            NType::Usage => (e.usage.to_string(), e.rate.to_string(), &e.usage_trend),
        };
        w.write_record([
            start.clone(),
            stop.clone(),
            e.service_name.clone(),
            value,
            with,
            e.usage_perc_all_services.to_string(),
            e.time_perc_all_services.to_string(),
            e.all_services_usage.to_string(),
            joined(points),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zato_common::odb::stats::Granularity;

    fn row(service: &str, g: Granularity, start: &str, usage: i64, total_ms: i64) -> StatRow {
        StatRow {
            service: service.into(),
            granularity: g,
            period_start: start.into(),
            usage,
            errors: 0,
            total_us: total_ms * 1000,
            min_us: 1000,
            max_us: 9000,
        }
    }

    #[test]
    fn slowest_and_most_used_over_a_period() {
        let rows = vec![
            row("fast", Granularity::Minute, "2026-12-07T10:00:00", 30, 30),
            row("fast", Granularity::Minute, "2026-12-07T10:01:00", 10, 10),
            row("slow", Granularity::Minute, "2026-12-07T10:01:00", 4, 400),
            row("old", Granularity::Hour, "2026-12-07T09:00:00", 99, 99),
        ];
        let p = Period::parse("2026-12-07T10:00", "2026-12-07T10:05:00Z").unwrap();
        let all = compute(&rows, &p, true);
        assert_eq!(all.len(), 2, "the row before the period is left out");
        let used = top(all.clone(), 1, NType::Usage);
        assert_eq!(used[0].service_name, "fast");
        assert_eq!(used[0].usage, 40);
        assert_eq!(used[0].usage_trend, [30, 10, 0, 0, 0]);
        assert_eq!(used[0].rate, 0.13);
        let slow = top(all, 1, NType::Mean);
        assert_eq!(slow[0].service_name, "slow");
        assert_eq!(slow[0].mean, 100.0);
        assert_eq!(slow[0].mean_trend, [0, 100, 0, 0, 0]);
        assert_eq!(slow[0].all_services_usage, 44);
        assert_eq!(slow[0].usage_perc_all_services, 9.09);
        assert_eq!(slow[0].time_perc_all_services, 90.91);
        let text = csv(&slow, NType::Mean, &p).unwrap();
        assert_eq!(
            text.lines().nth(1),
            Some(
                "2026-12-07T10:00:00,2026-12-07T10:05:00,slow,100,10,9.09,90.91,44,\"0,100,0,0,0\""
            )
        );
    }

    #[test]
    fn summaries_name_their_period() {
        let p = Period::summary(Summary::Week, "2026-12-09").unwrap();
        assert_eq!(text(p.start), "2026-12-07T00:00:00");
        assert_eq!(text(p.stop), "2026-12-14T00:00:00");
        let p = Period::summary(Summary::Month, "2026-12").unwrap();
        assert_eq!(text(p.stop), "2027-01-01T00:00:00");
        let p = Period::summary(Summary::Year, "2026").unwrap();
        assert_eq!(text(p.stop), "2027-01-01T00:00:00");
        assert!(Period::summary(Summary::Month, "December").is_err());
        assert!(Period::parse("2026-12-07", "2026-12-07").is_err());
        assert!(parse_time("start", "yesterday").is_err());
    }
}
