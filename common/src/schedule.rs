//! When a job runs: its start date with its interval or cron definition, turned into planned
//! times (naive UTC, as upstream). The admin services check definitions with it; the scheduler
//! plans with it. Planned times are deterministic (an interval job runs at `start + k·every`),
//! so a run is known by its time across restarts and schedulers, and `repeats` counts runs `k`.
use chrono::{DateTime, NaiveDateTime, TimeDelta, Timelike as _};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use thiserror::Error;

use crate::odb::jobs::{CRON_STYLE, INTERVAL_BASED, Interval, ONE_TIME};

/// The text form of planned times and start dates.
pub const FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error(
        "`start_date` `{0}` is not a date and time; give it as YYYY-MM-DDTHH:MM:SS (UTC), e.g. 2027-01-31T09:00:00"
    )]
    StartDate(String),
    #[error("unknown `job_type` `{0}`; use one_time, interval_based or cron_style")]
    JobType(String),
    #[error(
        "an interval_based job needs at least one of `weeks`, `days`, `hours`, `minutes` or `seconds` above 0"
    )]
    NoInterval,
    #[error("`{0}` must not be negative")]
    Negative(&'static str),
    #[error("`repeats` must be 1 or more; leave it out for a job that runs until stopped")]
    Repeats,
    #[error("a cron_style job needs a `cron_definition`, e.g. `*/5 * * * *`")]
    NoCron,
    #[error("the cron definition `{def}` cannot be used: {why}")]
    Cron { def: String, why: String },
}

/// A start date as upstream's clients send it: `2027-01-31T09:00:00`, with a space instead of
/// the `T`, fractions of a second, or an offset (then converted to UTC). Fractions are dropped:
/// jobs are planned to the second.
pub fn parse_start_date(text: &str) -> Result<NaiveDateTime, ScheduleError> {
    let t = text.trim();
    let err = || ScheduleError::StartDate(text.to_string());
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(&t.replace(' ', "T")) {
        return Ok(trunc(with_offset.naive_utc()));
    }
    let t = t.strip_suffix('Z').unwrap_or(t);
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(trunc(d));
        }
    }
    chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .ok_or_else(err)
}

fn trunc(d: NaiveDateTime) -> NaiveDateTime {
    d.with_nanosecond(0).unwrap_or(d)
}

pub fn format(d: NaiveDateTime) -> String {
    d.format(FORMAT).to_string()
}

/// A cron definition: 5 fields, or 6 with seconds first, or `@hourly`, `@daily`... It must
/// match some time in the future.
pub fn parse_cron(def: &str) -> Result<Cron, ScheduleError> {
    let def = def.trim();
    if def.is_empty() {
        return Err(ScheduleError::NoCron);
    }
    let why = |why: String| ScheduleError::Cron {
        def: def.to_string(),
        why,
    };
    let cron = CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(def)
        .map_err(|e| why(e.to_string()))?;
    let now = chrono::Utc::now();
    cron.find_next_occurrence(&now, false)
        .map_err(|e| why(format!("it never matches ({e})")))?;
    Ok(cron)
}

/// How a job is planned.
#[derive(Debug, Clone)]
pub enum Plan {
    OneTime(NaiveDateTime),
    Interval {
        start: NaiveDateTime,
        every: TimeDelta,
        repeats: Option<i64>,
    },
    Cron {
        start: NaiveDateTime,
        cron: Box<Cron>,
    },
}

impl Plan {
    /// Checks a job's definition and makes its plan.
    pub fn new(
        job_type: &str,
        start_date: &str,
        interval: &Interval,
        cron_definition: Option<&str>,
    ) -> Result<Self, ScheduleError> {
        let start = parse_start_date(start_date)?;
        match job_type {
            ONE_TIME => Ok(Self::OneTime(start)),
            INTERVAL_BASED => {
                let parts = interval.parts();
                if let Some((name, _)) = parts[..5].iter().find(|(_, v)| v.is_some_and(|v| v < 0)) {
                    return Err(ScheduleError::Negative(name));
                }
                if interval.repeats.is_some_and(|r| r < 1) {
                    return Err(ScheduleError::Repeats);
                }
                let secs = interval.total_seconds();
                if secs <= 0 {
                    return Err(ScheduleError::NoInterval);
                }
                Ok(Self::Interval {
                    start,
                    every: TimeDelta::try_seconds(secs).ok_or(ScheduleError::NoInterval)?,
                    repeats: interval.repeats,
                })
            }
            CRON_STYLE => Ok(Self::Cron {
                start,
                cron: Box::new(parse_cron(cron_definition.unwrap_or_default())?),
            }),
            other => Err(ScheduleError::JobType(other.to_string())),
        }
    }

    /// The first planned run at or after `from`, or None when the job has no more runs.
    pub fn next_from(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        match self {
            Self::OneTime(at) => (*at >= from).then_some(*at),
            Self::Interval {
                start,
                every,
                repeats,
            } => {
                let k = if from <= *start {
                    0
                } else {
                    let behind = (from - *start).num_seconds();
                    let step = every.num_seconds();
                    // Rounded up: the first run not before `from`.
                    (behind + step - 1) / step
                };
                if repeats.is_some_and(|r| k >= r) {
                    return None;
                }
                let offset = every.checked_mul(i32::try_from(k).ok()?)?;
                start.checked_add_signed(offset)
            }
            Self::Cron { start, cron } => {
                let from = from.max(*start).and_utc();
                cron.find_next_occurrence(&from, true)
                    .ok()
                    .map(|d| d.naive_utc())
            }
        }
    }

    /// The last planned run before `before` that is at or after `since` (a run missed while no
    /// scheduler ran), if any.
    pub fn last_between(
        &self,
        since: NaiveDateTime,
        before: NaiveDateTime,
    ) -> Option<NaiveDateTime> {
        match self {
            Self::OneTime(at) => (*at >= since && *at < before).then_some(*at),
            Self::Interval { start, every, .. } => {
                if before <= *start {
                    return None;
                }
                let step = every.num_seconds();
                let k = ((before - *start).num_seconds() - 1) / step;
                let at = start.checked_add_signed(every.checked_mul(i32::try_from(k).ok()?)?)?;
                let within_repeats = self.next_from(at) == Some(at);
                (at >= since && within_repeats).then_some(at)
            }
            Self::Cron { start, cron } => {
                let before = before.and_utc();
                let at = cron
                    .find_previous_occurrence(&before, false)
                    .ok()?
                    .naive_utc();
                (at >= since && at >= *start).then_some(at)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str) -> NaiveDateTime {
        parse_start_date(t).unwrap_or_default()
    }

    #[test]
    fn start_dates_in_the_forms_clients_send() {
        for t in [
            "2027-01-31T09:00:00",
            "2027-01-31 09:00:00",
            "2027-01-31T09:00:00.123456",
            "2027-01-31T09:00:00Z",
            "2027-01-31T10:00:00+01:00",
            "2027-01-31T09:00",
        ] {
            assert_eq!(format(at(t)), "2027-01-31T09:00:00", "{t}");
        }
        assert!(parse_start_date("tomorrow").is_err());
        assert!(parse_start_date("2027-02-30T09:00:00").is_err());
    }

    #[test]
    fn interval_runs_are_start_plus_k_intervals() {
        let i = Interval {
            seconds: Some(10),
            repeats: Some(3),
            ..Interval::default()
        };
        let p = Plan::new(INTERVAL_BASED, "2027-01-01T00:00:00", &i, None)
            .unwrap_or_else(|e| panic!("{e}"));
        let next = |t| p.next_from(at(t)).map(format);
        assert_eq!(
            next("2026-12-31T00:00:00").as_deref(),
            Some("2027-01-01T00:00:00")
        );
        assert_eq!(
            next("2027-01-01T00:00:01").as_deref(),
            Some("2027-01-01T00:00:10")
        );
        assert_eq!(
            next("2027-01-01T00:00:20").as_deref(),
            Some("2027-01-01T00:00:20")
        );
        // Three runs: 0, 10 and 20 s after the start.
        assert_eq!(next("2027-01-01T00:00:21"), None);
        let missed = p.last_between(at("2027-01-01T00:00:00"), at("2027-01-01T00:00:15"));
        assert_eq!(missed.map(format).as_deref(), Some("2027-01-01T00:00:10"));
        assert_eq!(
            p.last_between(at("2027-01-01T00:00:11"), at("2027-01-01T00:00:15")),
            None
        );
    }

    #[test]
    fn definitions_are_checked() {
        let none = Interval::default();
        let err = |t, i: &Interval, c| Plan::new(t, "2027-01-01T00:00:00", i, c).err();
        assert_eq!(
            err(INTERVAL_BASED, &none, None),
            Some(ScheduleError::NoInterval)
        );
        let negative = Interval {
            minutes: Some(-1),
            seconds: Some(5),
            ..Interval::default()
        };
        assert_eq!(
            err(INTERVAL_BASED, &negative, None),
            Some(ScheduleError::Negative("minutes"))
        );
        assert_eq!(
            err("weekly", &none, None),
            Some(ScheduleError::JobType("weekly".into()))
        );
        assert_eq!(err(CRON_STYLE, &none, None), Some(ScheduleError::NoCron));
        assert!(matches!(
            err(CRON_STYLE, &none, Some("61 * * * *")),
            Some(ScheduleError::Cron { .. })
        ));
        for ok in [
            "*/5 * * * *",
            "*/2 * * * * *",
            "@hourly",
            " 0 9 * * MON-FRI ",
        ] {
            assert!(parse_cron(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn cron_with_seconds_plans_each_second() {
        let p = Plan::new(
            CRON_STYLE,
            "2020-01-01T00:00:00",
            &Interval::default(),
            Some("* * * * * *"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            p.next_from(at("2027-01-01T00:00:05"))
                .map(format)
                .as_deref(),
            Some("2027-01-01T00:00:05")
        );
        assert_eq!(
            p.last_between(at("2027-01-01T00:00:00"), at("2027-01-01T00:00:05"))
                .map(format)
                .as_deref(),
            Some("2027-01-01T00:00:04")
        );
    }
}
