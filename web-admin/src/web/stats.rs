//! Statistics: the slowest and the most used services of a period (the last hour, today,
//! yesterday, this week, month or year, or a chosen one), each next to the period before it
//! of the same length; the period's CSV as the admin API gives it.
use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::render::page;
use super::{App, Sess, Shared};

pub const PERIODS: &[(&str, &str)] = &[
    ("hour", "Last hour"),
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("week", "This week"),
    ("month", "This month"),
    ("year", "This year"),
    ("custom", "Chosen period"),
];

#[derive(Deserialize, Default)]
pub struct StatsQuery {
    #[serde(default)]
    period: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    stop: String,
    #[serde(default)]
    n: Option<i64>,
    #[serde(default)]
    n_type: String,
}

/// A time as the statistics services take it (UTC).
pub fn text(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_hms_opt(0, 0, 0).unwrap_or_default()
}

fn parse(v: &str) -> Option<NaiveDateTime> {
    let v = v.trim();
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
    .or_else(|| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok().map(midnight))
}

/// What is wrong with the period a statistics query names.
#[derive(Debug, thiserror::Error)]
pub enum PeriodError {
    #[error("The start `{0}` is not a date and time (YYYY-MM-DD HH:MM).")]
    Start(String),
    #[error("The end `{0}` is not a date and time (YYYY-MM-DD HH:MM).")]
    Stop(String),
    #[error("The end must be after the start.")]
    Backwards,
    #[error("There is no period `{0}`.")]
    Unknown(String),
}

/// The period a query names, `[start, stop)` in UTC, or what is wrong with it.
pub fn period(
    q: &StatsQuery,
    now: NaiveDateTime,
) -> Result<(NaiveDateTime, NaiveDateTime), PeriodError> {
    let today = midnight(now.date());
    // "Up to now" periods end a minute ahead so that the current minute is in.
    let soon = now + Duration::minutes(1);
    Ok(match q.period.as_str() {
        "" | "hour" => (now - Duration::hours(1), soon),
        "today" => (today, soon),
        "yesterday" => (today - Duration::days(1), today),
        "week" => (
            today - Duration::days(i64::from(now.weekday().num_days_from_monday())),
            soon,
        ),
        "month" => (midnight(now.date().with_day(1).unwrap_or(now.date())), soon),
        "year" => (
            midnight(NaiveDate::from_ymd_opt(now.year(), 1, 1).unwrap_or(now.date())),
            soon,
        ),
        "custom" => {
            let start = parse(&q.start).ok_or_else(|| PeriodError::Start(q.start.clone()))?;
            let stop = parse(&q.stop).ok_or_else(|| PeriodError::Stop(q.stop.clone()))?;
            if stop <= start {
                return Err(PeriodError::Backwards);
            }
            (start, stop)
        }
        other => return Err(PeriodError::Unknown(other.to_string())),
    })
}

async fn summary(
    app: &App,
    start: NaiveDateTime,
    stop: NaiveDateTime,
    n: i64,
    n_type: &str,
) -> Result<Vec<Value>, String> {
    app.backend
        .list(
            "zato.stats.summary.get-summary-by-range",
            json!({"start": text(start), "stop": text(stop), "n": n, "n_type": n_type}),
        )
        .await
        .map_err(|e| e.message())
}

fn by_name(rows: &[Value]) -> HashMap<String, Value> {
    rows.iter()
        .filter_map(|r| Some((r.get("service_name")?.as_str()?.to_string(), r.clone())))
        .collect()
}

/// The top rows with the previous period's usage and mean next to them.
fn compared(top: Vec<Value>, before: &HashMap<String, Value>) -> Vec<Value> {
    top.into_iter()
        .map(|r| {
            let name = r.get("service_name").and_then(Value::as_str).unwrap_or("");
            let prev = before.get(name);
            json!({
                "row": r,
                "prev_usage": prev.and_then(|p| p.get("usage")).cloned(),
                "prev_mean": prev.and_then(|p| p.get("mean")).cloned(),
            })
        })
        .collect()
}

pub async fn page_get(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Query(q): Query<StatsQuery>,
) -> Response {
    let now = Utc::now().naive_utc();
    let n = q.n.unwrap_or(10).clamp(0, 1000);
    let mut ctx = json!({
        "title": "Statistics", "periods": PERIODS, "period": if q.period.is_empty() { "hour" } else { q.period.as_str() },
        "start": q.start, "stop": q.stop, "n": n,
    });
    match period(&q, now) {
        Err(e) => ctx["error"] = json!(e.to_string()),
        Ok((start, stop)) => {
            let span = stop - start;
            let (prev_start, prev_stop) = (start - span, start);
            let (slow, used, before) = tokio::join!(
                summary(&app, start, stop, n, "mean"),
                summary(&app, start, stop, n, "usage"),
                summary(&app, prev_start, prev_stop, 0, "usage"),
            );
            let before = by_name(&before.unwrap_or_default());
            match (slow, used) {
                (Ok(slow), Ok(used)) => {
                    ctx["slowest"] = json!(compared(slow, &before));
                    ctx["most_used"] = json!(compared(used, &before));
                }
                (Err(e), _) | (_, Err(e)) => ctx["error"] = json!(e),
            }
            ctx["range"] = json!({"start": text(start), "stop": text(stop), "prev_start": text(prev_start), "prev_stop": text(prev_stop)});
        }
    }
    page(&app, Some(&sess), StatusCode::OK, "stats.html", ctx)
}

/// The period's statistics as upstream's `zato-stats.csv`.
pub async fn csv(
    State(app): State<Shared>,
    Extension(_sess): Extension<Sess>,
    Query(q): Query<StatsQuery>,
) -> Response {
    let (start, stop) = match period(&q, Utc::now().naive_utc()) {
        Ok(p) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let n_type = if q.n_type == "mean" { "mean" } else { "usage" };
    let mut input = json!({"start": text(start), "stop": text(stop), "n_type": n_type});
    if let Some(n) = q.n.filter(|n| *n > 0) {
        input["n"] = json!(n);
    }
    match app.backend.call("zato.stats.get-csv", input).await {
        Ok(data) => {
            let body = data
                .get("data")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"zato-stats.csv\"".to_string(),
                    ),
                ],
                body,
            )
                .into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.message()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        let now = parse("2026-12-09T15:30:00").unwrap();
        let q = |p: &str| StatsQuery {
            period: p.into(),
            ..Default::default()
        };
        let (s, e) = period(&q("yesterday"), now).unwrap();
        assert_eq!(
            (text(s), text(e)),
            ("2026-12-08T00:00:00".into(), "2026-12-09T00:00:00".into())
        );
        let (s, _) = period(&q("week"), now).unwrap();
        assert_eq!(text(s), "2026-12-07T00:00:00");
        let (s, _) = period(&q("month"), now).unwrap();
        assert_eq!(text(s), "2026-12-01T00:00:00");
        assert!(period(&q("decade"), now).is_err());
        let bad = StatsQuery {
            period: "custom".into(),
            start: "2026-12-09".into(),
            stop: "2026-12-08".into(),
            ..Default::default()
        };
        assert!(period(&bad, now).is_err());
    }
}
