//! `zato.stats.*` (upstream 3.0's statistics services, with their input and output elements),
//! `zato.stats.get-csv` (the web admin's CSV export, through the admin API),
//! `zato.service.get-stats-table`, and the sampled and slow request/response pairs of 3.0's
//! service page (`zato.service.get-request-response`, `configure-request-response`,
//! `slow-response.get-list`, `slow-response.get`). Answers come from the ODB's rows, which
//! every server writes once a second; this process writes its own first, so what it just ran
//! is counted.
use serde_json::{Value, json};
use zato_common::odb::cache::CacheEntry;

use super::{Builtin, Ctx, Input, ServiceError, ServiceResult, check_cluster};
use crate::stats::report::{self, Elem, NType, Period, ReportError, Summary};
use crate::{builtin, io, objects};

impl From<ReportError> for ServiceError {
    fn from(e: ReportError) -> Self {
        ServiceError::bad_request(e.to_string())
    }
}

/// The rows of `period` (of one service or all), after writing what this process counted.
async fn elems(
    ctx: &Ctx,
    period: &Period,
    service: Option<&str>,
    trends: bool,
) -> Result<Vec<Elem>, ServiceError> {
    let state = &ctx.state;
    if state.cfg.stats.enabled {
        crate::stats::flush::flush(&state.stats, &state.stats_sink()).await;
    }
    let rows = state
        .odb
        .stats_between(
            state.cluster_id,
            &report::text(period.start),
            &report::text(period.stop),
            service,
        )
        .await?;
    Ok(report::compute(&rows, period, trends))
}

/// `n` as a count: 0 or less (or none) means all.
fn count(n: Option<i64>) -> usize {
    n.and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(usize::MAX)
}

async fn ranked(
    ctx: &Ctx,
    mut i: Input<'_>,
    period: impl FnOnce(&mut Input<'_>) -> Result<Period, ServiceError>,
    trends: bool,
) -> ServiceResult {
    check_cluster(ctx, &i)?;
    let n = i.int("n")?;
    let n_type = i.str("n_type");
    let service = i.opt_str("service_name");
    let period = period(&mut i)?;
    let (n, n_type) = (count(Some(n)), NType::parse(&n_type)?);
    let all = elems(ctx, &period, None, trends).await?;
    let all = match service {
        Some(s) => all.into_iter().filter(|e| e.service_name == s).collect(),
        None => all,
    };
    Ok(Value::Array(
        report::top(all, n, n_type)
            .iter()
            .map(|e| e.to_json(trends))
            .collect(),
    ))
}

fn range(i: &mut Input<'_>) -> Result<Period, ServiceError> {
    let (start, stop) = (i.str("start"), i.str("stop"));
    i.done()?;
    Ok(Period::parse(&start, &stop)?)
}

async fn get_trends(ctx: &Ctx, input: Value) -> ServiceResult {
    ranked(ctx, Input::new(&input), range, true).await
}

async fn summary_by_range(ctx: &Ctx, input: Value) -> ServiceResult {
    ranked(ctx, Input::new(&input), range, false).await
}

async fn summary(ctx: &Ctx, input: Value, kind: Summary) -> ServiceResult {
    let by = move |i: &mut Input<'_>| {
        let start = i.str("start");
        i.done()?;
        Ok(Period::summary(kind, &start)?)
    };
    ranked(ctx, Input::new(&input), by, false).await
}

async fn summary_by_day(ctx: &Ctx, input: Value) -> ServiceResult {
    summary(ctx, input, Summary::Day).await
}
async fn summary_by_week(ctx: &Ctx, input: Value) -> ServiceResult {
    summary(ctx, input, Summary::Week).await
}
async fn summary_by_month(ctx: &Ctx, input: Value) -> ServiceResult {
    summary(ctx, input, Summary::Month).await
}
async fn summary_by_year(ctx: &Ctx, input: Value) -> ServiceResult {
    summary(ctx, input, Summary::Year).await
}

async fn get_by_service(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let period = range(&mut i)?;
    let name = match (i.opt_int("service_id")?, i.opt_str("service_name")) {
        (Some(id), _) => ctx
            .state
            .odb
            .service_by_id(ctx.state.cluster_id, id)
            .await?
            .map(|s| s.name)
            .ok_or_else(|| {
                ServiceError::new(
                    crate::core::ErrorKind::NotFound,
                    format!("No service with id {id}"),
                )
            })?,
        (None, Some(name)) => name,
        (None, None) => {
            return Err(ServiceError::bad_request(
                "Missing input: service_id or service_name",
            ));
        }
    };
    let found = elems(ctx, &period, Some(&name), true).await?;
    Ok(found
        .first()
        .map(|e| e.to_json(true))
        .unwrap_or_else(|| json!({"service_name": name, "usage": 0})))
}

async fn get_csv(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let n_type = i.str("n_type");
    let n = count(i.opt_int("n")?);
    let period = range(&mut i)?;
    let n_type = NType::parse(&n_type)?;
    let all = elems(ctx, &period, None, true).await?;
    let data = report::csv(&report::top(all, n, n_type), n_type, &period)
        .map_err(|e| ServiceError::internal(&format!("Cannot write CSV: {e}")))?;
    Ok(json!({"name": "zato-stats.csv", "data": data}))
}

async fn delete(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let period = range(&mut i)?;
    let deleted = ctx
        .state
        .odb
        .stats_delete(
            ctx.state.cluster_id,
            &report::text(period.start),
            &report::text(period.stop),
        )
        .await?;
    Ok(json!({"deleted": deleted}))
}

/// A number of milliseconds as people read it.
fn human_ms(ms: f64) -> String {
    match ms {
        m if m < 1000.0 => format!("{m:.0} ms"),
        m if m < 60_000.0 => format!("{:.1} s", m / 1000.0),
        m if m < 3_600_000.0 => format!("{:.1} min", m / 60_000.0),
        m => format!("{:.1} h", m / 3_600_000.0),
    }
}

/// 1234567 → `1,234,567`.
fn human_count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

async fn get_stats_table(ctx: &Ctx, input: Value) -> ServiceResult {
    let i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let start = i.opt_str("start").unwrap_or_else(|| "1970-01-01".into());
    let stop = match i.opt_str("stop") {
        Some(s) => s,
        None => report::text(chrono::Utc::now().naive_utc() + chrono::Duration::days(1)),
    };
    i.done()?;
    let period = Period::parse(&start, &stop)?;
    let all = elems(ctx, &period, None, false).await?;
    Ok(Value::Array(
        report::top(all, usize::MAX, NType::Usage)
            .iter()
            .map(|e| {
                json!({
                    "name": e.service_name,
                    "item_max": e.max_resp_time,
                    "item_min": e.min_resp_time,
                    "item_mean": e.mean,
                    "item_total_time": e.time,
                    "item_usage_share": e.usage_perc_all_services,
                    "item_time_share": e.time_perc_all_services,
                    "item_total_usage": e.usage,
                    "item_total_time_human": human_ms(e.time),
                    "item_total_usage_human": human_count(e.usage),
                })
            })
            .collect(),
    ))
}

async fn get_request_response(ctx: &Ctx, input: Value) -> ServiceResult {
    let row = super::service::find(ctx, &input).await?;
    let state = &ctx.state;
    let freq = state
        .tables
        .watched
        .load()
        .get(&row.name)
        .map_or(0, |w| w.sample_every);
    if state.cfg.stats.enabled {
        crate::stats::flush::flush(&state.stats, &state.stats_sink()).await;
    }
    let latest = state
        .odb
        .samples_list(state.cluster_id, &row.name, "sample", None)
        .await?;
    let mut out = json!({"service_id": row.id, "sample_req_resp_freq": freq});
    if let (Some(s), Value::Object(m)) = (latest.first(), &mut out) {
        m.insert("sample_cid".into(), s.cid.clone().into());
        m.insert("sample_req_ts".into(), s.req_ts.clone().into());
        m.insert("sample_resp_ts".into(), s.resp_ts.clone().into());
        m.insert("sample_req".into(), s.request.clone().into());
        m.insert("sample_resp".into(), s.response.clone().into());
    }
    Ok(out)
}

async fn configure_request_response(ctx: &Ctx, input: Value) -> ServiceResult {
    let row = super::service::find(ctx, &input).await?;
    let freq = Input::new(&input).int("sample_req_resp_freq")?;
    if freq < 0 {
        return Err(ServiceError::bad_request(format!(
            "`sample_req_resp_freq` must be 0 (no samples) or more (one call in N), not {freq}"
        )));
    }
    let now = zato_common::time::utc_now_iso();
    let entry = CacheEntry {
        key: row.name.clone(),
        value: freq.to_string(),
        expiry_ms: 0,
        expires_at: None,
        last_modified: now.clone(),
    };
    ctx.state
        .odb
        .cache_set(
            ctx.state.cluster_id,
            objects::SAMPLE_FREQ_CACHE,
            &entry,
            &now,
        )
        .await?;
    ctx.state.changed(objects::SERVICE, Some(row.id)).await;
    Ok(json!({"service_id": row.id, "sample_req_resp_freq": freq}))
}

async fn slow_responses(ctx: &Ctx, input: &Value, cid: Option<&str>) -> ServiceResult {
    let row = super::service::find(ctx, input).await?;
    let state = &ctx.state;
    if state.cfg.stats.enabled {
        crate::stats::flush::flush(&state.stats, &state.stats_sink()).await;
    }
    let slow = state
        .odb
        .samples_list(state.cluster_id, &row.name, "slow", cid)
        .await?;
    let describe = |s: &zato_common::odb::stats::Sample, full: bool| {
        let mut v = json!({
            "cid": s.cid, "req_ts": s.req_ts, "resp_ts": s.resp_ts,
            "proc_time": s.proc_time_us / 1000,
        });
        if full && let Value::Object(m) = &mut v {
            m.insert("req".into(), s.request.clone().into());
            m.insert("resp".into(), s.response.clone().into());
        }
        v
    };
    Ok(match cid {
        None => Value::Array(slow.iter().map(|s| describe(s, false)).collect()),
        Some(cid) => slow.first().map(|s| describe(s, true)).ok_or_else(|| {
            ServiceError::new(
                crate::core::ErrorKind::NotFound,
                format!("No slow response of `{}` with CID `{cid}`", row.name),
            )
        })?,
    })
}

async fn slow_get_list(ctx: &Ctx, input: Value) -> ServiceResult {
    slow_responses(ctx, &input, None).await
}

async fn slow_get(ctx: &Ctx, input: Value) -> ServiceResult {
    let cid = Input::new(&input).str("cid");
    slow_responses(ctx, &input, Some(&cid)).await
}

const STATS_OUT: &[&str] = &[
    "service_name",
    "usage",
    "errors",
    "mean",
    "rate",
    "time",
    "usage_trend",
    "mean_trend",
    "min_resp_time",
    "max_resp_time",
    "all_services_usage",
    "all_services_time",
    "mean_all_services",
    "usage_perc_all_services",
    "time_perc_all_services",
];

pub fn services() -> Vec<Builtin> {
    const SUMMARY: crate::core::Io = io! {
        doc: "The top `n` services (0: all) by `n_type` (`mean`: slowest, `usage`: most used) in the day, week (from its Monday), month (`2026-12`) or year (`2026`) that `start` names.",
        required: &["start", "n", "n_type"],
        optional: &["service_name"],
        output: STATS_OUT,
    };
    vec![
        builtin!(
            "zato.stats.trends.get-trends",
            get_trends,
            &io! {
                doc: "The top `n` services (0: all) by `n_type` (`mean`: slowest, `usage`: most used) between `start` and `stop` (UTC), with per-step trends.",
                required: &["start", "stop", "n", "n_type"],
                optional: &["service_name"],
                output: STATS_OUT,
            }
        ),
        builtin!(
            "zato.stats.summary.get-summary-by-range",
            summary_by_range,
            &io! {
                doc: "The top `n` services (0: all) by `n_type` (`mean`: slowest, `usage`: most used) between `start` and `stop` (UTC), without trends.",
                required: &["start", "stop", "n", "n_type"],
                optional: &["service_name"],
                output: STATS_OUT,
            }
        ),
        builtin!(
            "zato.stats.summary.get-summary-by-day",
            summary_by_day,
            &SUMMARY
        ),
        builtin!(
            "zato.stats.summary.get-summary-by-week",
            summary_by_week,
            &SUMMARY
        ),
        builtin!(
            "zato.stats.summary.get-summary-by-month",
            summary_by_month,
            &SUMMARY
        ),
        builtin!(
            "zato.stats.summary.get-summary-by-year",
            summary_by_year,
            &SUMMARY
        ),
        builtin!(
            "zato.stats.get-by-service",
            get_by_service,
            &io! {
                doc: "One service's statistics between `start` and `stop` (UTC), by `service_id` or `service_name`.",
                required: &["start", "stop"],
                optional: &["service_id", "service_name"],
                output: STATS_OUT,
            }
        ),
        builtin!(
            "zato.stats.get-csv",
            get_csv,
            &io! {
                doc: "The web admin's `zato-stats.csv` between `start` and `stop` (UTC): the top `n` (default all) by `n_type`, with upstream's columns for `mean` or `usage`.",
                required: &["start", "stop", "n_type"],
                optional: &["n"],
                output: &["name", "data"],
            }
        ),
        builtin!(
            "zato.stats.delete",
            delete,
            &io! {
                doc: "Deletes the statistics of every service between `start` and `stop` (UTC).",
                required: &["start", "stop"],
                output: &["deleted"],
            }
        ),
        builtin!(
            "zato.service.get-stats-table",
            get_stats_table,
            &io! {
                doc: "Every service's usage and times, all-time or between `start` and `stop` (UTC), most used first.",
                optional: &["start", "stop"],
                output: &["name", "item_max", "item_min", "item_mean", "item_total_time",
                    "item_usage_share", "item_time_share", "item_total_usage",
                    "item_total_time_human", "item_total_usage_human"],
            }
        ),
        builtin!(
            "zato.service.get-request-response",
            get_request_response,
            &io! {
                doc: "A service's sampling frequency (one call in N) and its latest sampled request and response.",
                optional: &["name", "id"],
                output: &["service_id", "sample_req_resp_freq", "sample_cid", "sample_req_ts",
                    "sample_resp_ts", "sample_req", "sample_resp"],
            }
        ),
        builtin!(
            "zato.service.configure-request-response",
            configure_request_response,
            &io! {
                doc: "Keeps one request/response pair in `sample_req_resp_freq` calls of a service (0: none), on every server.",
                required: &["sample_req_resp_freq"],
                optional: &["name", "id"],
                output: &["service_id", "sample_req_resp_freq"],
            }
        ),
        builtin!(
            "zato.service.slow-response.get-list",
            slow_get_list,
            &io! {
                doc: "A service's latest calls slower than its `slow_threshold`, newest first.",
                required: &["name"],
                output: &["cid", "req_ts", "resp_ts", "proc_time"],
            }
        ),
        builtin!(
            "zato.service.slow-response.get",
            slow_get,
            &io! {
                doc: "One slow call of a service, with its request and response.",
                required: &["cid", "name"],
                output: &["cid", "req_ts", "resp_ts", "proc_time", "req", "resp"],
            }
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_read_numbers() {
        assert_eq!(human_count(1_234_567), "1,234,567");
        assert_eq!(human_count(999), "999");
        assert_eq!(human_ms(1500.0), "1.5 s");
        assert_eq!(human_ms(12.0), "12 ms");
    }
}
