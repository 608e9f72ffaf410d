//! `zato.scheduler.job.*`: scheduler jobs (`job` with `job_interval_based` / `job_cron_style`).
//! Definitions are checked here (start date, interval, cron) by `zato_common::schedule`, the
//! one planner the scheduler also uses. `fire` (ours) is how a scheduler runs a planned run:
//! the run is recorded in the ODB by its planned time first, so it runs once whoever asks again.
use std::collections::BTreeMap;

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::{Value, json};
use zato_common::odb::async_requests::AsyncRequest;
use zato_common::odb::jobs::{
    CRON_STYLE, FireTarget, INTERVAL_BASED, Interval, Job, JobInput, ONE_TIME,
};
use zato_common::schedule::{self, Plan};

use super::{Builtin, Ctx, Input, ServiceError, ServiceResult, check_cluster};
use crate::core::ErrorKind;
use crate::events::ClusterEvent;
use crate::invoke::deferred;
use crate::{builtin, io};

/// The topic suffix of job changes (`changed:job`), which schedulers follow.
pub const JOB: &str = "job";

fn describe(j: &Job) -> Value {
    let mut v = json!({
        "id": j.id, "name": j.name, "is_active": j.is_active, "job_type": j.job_type,
        "start_date": j.start_date, "extra": j.extra.clone().unwrap_or_default(),
        "service_id": j.service_id, "service_name": j.service_name,
    });
    match j.job_type.as_str() {
        INTERVAL_BASED => {
            for (k, val) in j.interval.parts() {
                v[k] = json!(val);
            }
        }
        CRON_STYLE => v["cron_definition"] = json!(j.cron_definition),
        _ => {}
    }
    v
}

/// A job's fields as given, checked as the scheduler will plan them; the service comes back
/// as given (by name or id) for the caller to resolve (`input.service_id` is the old one, or 0).
pub struct JobFields {
    pub input: JobInput,
    pub service: Option<String>,
    pub service_id: Option<i64>,
}

/// Create/edit input over the job as it is (`old`).
pub fn parse(i: &mut Input<'_>, old: Option<&Job>) -> Result<JobFields, ServiceError> {
    let text = |i: &mut Input<'_>, k: &'static str, old: Option<String>| match old {
        Some(o) => i.opt_str(k).unwrap_or(o),
        None => i.str(k),
    };
    let name = text(i, "name", old.map(|o| o.name.clone()));
    let job_type = text(i, "job_type", old.map(|o| o.job_type.clone()));
    let start_date = text(i, "start_date", old.map(|o| o.start_date.clone()));
    let service = i
        .opt_str("service")
        .or_else(|| i.opt_str("service_name"))
        .filter(|s| !s.is_empty());
    let service_id = i.opt_int("service_id")?;
    if service.is_none() && service_id.is_none() && old.is_none() {
        i.str("service");
    }
    i.done()?;
    let is_active = i
        .opt_bool("is_active")?
        .or(old.map(|o| o.is_active))
        .unwrap_or(true);
    let extra = i.opt_str("extra").or(old.and_then(|o| o.extra.clone()));
    // A part given as 0 or empty is not set, as upstream.
    let part = |i: &Input<'_>, k: &str, old: Option<i64>| -> Result<Option<i64>, ServiceError> {
        Ok(match i.opt_int(k)? {
            Some(0) => None,
            Some(v) => Some(v),
            None if i.opt_str(k).is_some() => None,
            None => old,
        })
    };
    let o = old.map(|o| &o.interval);
    let interval = Interval {
        weeks: part(i, "weeks", o.and_then(|o| o.weeks))?,
        days: part(i, "days", o.and_then(|o| o.days))?,
        hours: part(i, "hours", o.and_then(|o| o.hours))?,
        minutes: part(i, "minutes", o.and_then(|o| o.minutes))?,
        seconds: part(i, "seconds", o.and_then(|o| o.seconds))?,
        repeats: part(i, "repeats", o.and_then(|o| o.repeats))?,
    };
    let cron_definition = i
        .opt_str("cron_definition")
        .or(old.and_then(|o| o.cron_definition.clone()))
        .map(|c| c.trim().to_string());
    Plan::new(
        &job_type,
        &start_date,
        &interval,
        cron_definition.as_deref(),
    )
    .map_err(|e| ServiceError::bad_request(e.to_string()))?;
    let start = schedule::parse_start_date(&start_date)
        .map_err(|e| ServiceError::bad_request(e.to_string()))?;
    Ok(JobFields {
        input: JobInput {
            name,
            is_active,
            job_type: job_type.clone(),
            start_date: schedule::format(start),
            extra,
            service_id: old.map_or(0, |o| o.service_id),
            interval: if job_type == INTERVAL_BASED {
                interval
            } else {
                Interval::default()
            },
            cron_definition: cron_definition.filter(|_| job_type == CRON_STYLE),
        },
        service,
        service_id,
    })
}

/// [`parse`], with the service resolved against the ODB.
async fn read(ctx: &Ctx, i: &mut Input<'_>, old: Option<&Job>) -> Result<JobInput, ServiceError> {
    let fields = parse(i, old)?;
    let mut input = fields.input;
    let odb = &ctx.state.odb;
    if let Some(name) = fields.service {
        input.service_id = odb
            .service_by_name(ctx.state.cluster_id, &name)
            .await?
            .ok_or_else(|| {
                ServiceError::bad_request(format!("No service named `{name}`; deploy it first"))
            })?
            .id;
    } else if let Some(id) = fields.service_id {
        input.service_id = odb
            .service_by_id(ctx.state.cluster_id, id)
            .await?
            .ok_or_else(|| ServiceError::bad_request(format!("No service with id {id}")))?
            .id;
    }
    Ok(input)
}

async fn find(ctx: &Ctx, id: Option<i64>, name: Option<&str>) -> Result<Job, ServiceError> {
    ctx.state
        .odb
        .job_get(ctx.state.cluster_id, id, name)
        .await?
        .ok_or_else(|| {
            let which = id.map_or_else(
                || format!("named `{}`", name.unwrap_or_default()),
                |id| format!("with id {id}"),
            );
            ServiceError::new(ErrorKind::NotFound, format!("No job {which}"))
        })
}

/// The job named by the input's required `id`.
async fn by_id(ctx: &Ctx, i: &mut Input<'_>) -> Result<Job, ServiceError> {
    check_cluster(ctx, i)?;
    let id = i.int("id")?;
    i.done()?;
    find(ctx, Some(id), None).await
}

/// Tells the schedulers (servers keep no table of jobs).
async fn changed(ctx: &Ctx, id: i64) {
    ctx.state
        .events
        .publish(&ClusterEvent::changed(JOB, Some(id)))
        .await;
}

async fn get_list(ctx: &Ctx, input: Value) -> ServiceResult {
    let i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let service = i.opt_str("service_name").filter(|s| !s.is_empty());
    let jobs = ctx.state.odb.job_list(ctx.state.cluster_id).await?;
    Ok(Value::Array(
        jobs.iter()
            .filter(|j| service.as_ref().is_none_or(|s| *s == j.service_name))
            .map(describe)
            .collect(),
    ))
}

async fn get_by_id(ctx: &Ctx, input: Value) -> ServiceResult {
    Ok(describe(&by_id(ctx, &mut Input::new(&input)).await?))
}

async fn get_by_name(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let name = i.str("name");
    i.done()?;
    Ok(describe(&find(ctx, None, Some(&name)).await?))
}

async fn create(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let ignore_existing = i.opt_bool("should_ignore_existing")?.unwrap_or(false);
    if ignore_existing && let Some(name) = i.opt_str("name") {
        let existing = ctx
            .state
            .odb
            .job_get(ctx.state.cluster_id, None, Some(&name))
            .await?;
        if let Some(j) = existing {
            return Ok(json!({"id": j.id, "name": j.name, "cron_definition": j.cron_definition}));
        }
    }
    let data = read(ctx, &mut i, None).await?;
    let id = ctx
        .state
        .odb
        .job_create(ctx.state.cluster_id, &data)
        .await?;
    changed(ctx, id).await;
    Ok(json!({"id": id, "name": data.name, "cron_definition": data.cron_definition}))
}

async fn edit(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    let old = by_id(ctx, &mut i).await?;
    let id = old.id;
    let data = read(ctx, &mut i, Some(&old)).await?;
    ctx.state
        .odb
        .job_edit(ctx.state.cluster_id, id, &data)
        .await?;
    changed(ctx, id).await;
    Ok(json!({"id": id, "name": data.name, "cron_definition": data.cron_definition}))
}

async fn delete(ctx: &Ctx, input: Value) -> ServiceResult {
    let job = by_id(ctx, &mut Input::new(&input)).await?;
    ctx.state
        .odb
        .job_delete(ctx.state.cluster_id, job.id)
        .await?;
    changed(ctx, job.id).await;
    Ok(json!({"details": format!("Deleted job `{}`", job.name)}))
}

async fn set_active_status(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let id = i.int("id")?;
    let is_active = i.bool("is_active")?;
    i.done()?;
    ctx.state
        .odb
        .job_set_active(ctx.state.cluster_id, id, is_active)
        .await?;
    changed(ctx, id).await;
    Ok(json!({"id": id, "is_active": is_active}))
}

/// A run of the job's service as a scheduler starts it, as the asynchronous request that is
/// stored with its record (`invoke::deferred`): the service sees `self.channel.type ==
/// 'scheduler'` and the run in `self.request.scheduler` (`fired_at` is set when the run is
/// released to the invoker). Not started before `planned`.
fn run_request(job: &FireTarget, planned: &str) -> AsyncRequest {
    let extra = job.extra.clone().unwrap_or_default();
    let origin = json!({
        "transport": "scheduler",
        "meta": {"job_id": job.id, "job_name": job.name, "job_type": job.job_type, "planned": planned},
        "channel": {"id": job.id, "name": job.name, "type": "scheduler", "data_format": "dict", "is_internal": false},
        "raw_request": extra,
    });
    AsyncRequest {
        id: 0,
        cid: zato_common::new_cid(),
        service: job.service_name.clone(),
        payload: extra_payload(&extra).to_string(),
        channel: "scheduler".into(),
        callback: None,
        in_reply_to: None,
        expires_at: None,
        not_before: Some(planned.to_string()),
        origin: Some(origin.to_string()),
    }
}

/// Releases stored runs planned for `at` (held by this process) to the invoker then: at
/// once when `at` has come, else by one timer for all of them. Their `fired_at` is that
/// moment, the same for all: how long each then waits for a place
/// ([`crate::state::ServerState::background`]) and an interpreter is the server's load, seen
/// as the service's own start time.
fn start_at(ctx: &Ctx, at: NaiveDateTime, runs: Vec<AsyncRequest>) {
    let state = ctx.state.clone();
    let wait = (at - chrono::Utc::now().naive_utc())
        .to_std()
        .unwrap_or_default();
    // From now, not from when the task first runs: this one may keep its thread a while yet.
    let deadline = tokio::time::Instant::now() + wait;
    let start = move || {
        let fired_at = zato_common::time::utc_now_iso();
        for req in runs {
            deferred::run(&state, req, Some(fired_at.clone()));
        }
    };
    if wait.is_zero() {
        start();
    } else {
        ctx.state.rt.spawn(async move {
            tokio::time::sleep_until(deadline).await;
            start();
        });
    }
}

/// A job's `extra` as the service's payload, as upstream: JSON is parsed, `key=value` lines
/// become a dict, anything else stays text (and nothing is None).
pub fn extra_payload(extra: &str) -> Value {
    let text = extra.trim();
    if text.is_empty() {
        return Value::Null;
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return v;
    }
    let pairs: Option<serde_json::Map<String, Value>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), Value::String(v.trim().to_string())))
        })
        .collect();
    pairs.map_or_else(|| Value::String(text.to_string()), Value::Object)
}

async fn execute(ctx: &Ctx, input: Value) -> ServiceResult {
    let job = by_id(ctx, &mut Input::new(&input)).await?;
    let now = chrono::Utc::now().naive_utc();
    let id = job.id;
    let mut req = run_request(&job.into(), &schedule::format(now));
    let d = &ctx.state.deferred;
    let (holder, until) = d.claim();
    req.id = ctx
        .state
        .odb
        .async_put(ctx.state.cluster_id, &req, Some((holder, &until)))
        .await?;
    let cid = req.cid.clone();
    d.hold(1);
    start_at(ctx, now, vec![req]);
    Ok(json!({"id": id, "cid": cid}))
}

/// How far ahead of its planned time a run may be sent (a scheduler sends them
/// `zato_scheduler::run::AHEAD` ahead).
const MAX_AHEAD: TimeDelta = TimeDelta::seconds(10);

/// Planned runs of jobs, asked for by a scheduler: `{id, planned}` for one, or `runs`, a list
/// of them. Each is recorded at once, then started at its planned time (at once if that has
/// come); a run recorded before is not run again. A one-time job is deleted once its run is
/// recorded, as upstream deletes it after its run.
async fn fire(ctx: &Ctx, input: Value) -> ServiceResult {
    let i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let given: Vec<Value> = match input.get("runs") {
        Some(Value::Array(runs)) => runs.clone(),
        Some(_) => {
            return Err(ServiceError::bad_request(
                "`runs` must be a list of {id, planned}",
            ));
        }
        None => vec![input.clone()],
    };
    let latest = chrono::Utc::now().naive_utc() + MAX_AHEAD;
    let mut runs = Vec::with_capacity(given.len());
    for run in &given {
        let mut r = Input::new(run);
        let id = r.int("id")?;
        let planned = r.str("planned");
        r.done()?;
        let at = schedule::parse_start_date(&planned).map_err(|_| {
            ServiceError::bad_request(format!("`planned` `{planned}` is not a date and time"))
        })?;
        if at > latest {
            return Err(ServiceError::bad_request(format!(
                "`planned` `{planned}` is more than {} s ahead: a run is sent at most that long before its time",
                MAX_AHEAD.num_seconds()
            )));
        }
        runs.push((id, schedule::format(at), at));
    }
    let jobs = ctx.state.odb.job_fire_targets(ctx.state.cluster_id).await?;
    // Runs of jobs deleted meanwhile are dropped, not recorded.
    let (known, gone): (Vec<_>, Vec<_>) = runs
        .into_iter()
        .partition(|(id, _, _)| jobs.contains_key(id));
    let keys: Vec<(i64, String)> = known.iter().map(|(id, p, _)| (*id, p.clone())).collect();
    let requests: Vec<AsyncRequest> = known
        .iter()
        .filter_map(|(id, planned, _)| jobs.get(id).map(|job| run_request(job, planned)))
        .collect();
    let fired_at = zato_common::time::utc_now_iso();
    let d = &ctx.state.deferred;
    let (holder, until) = d.claim();
    let stored = ctx
        .state
        .odb
        .job_record_fires(
            ctx.state.cluster_id,
            &keys,
            &fired_at,
            &requests,
            (holder, &until),
        )
        .await?;
    d.hold(stored.iter().flatten().count());
    let mut out = Vec::with_capacity(known.len() + gone.len());
    let mut by_time: BTreeMap<NaiveDateTime, Vec<AsyncRequest>> = BTreeMap::new();
    for (((id, planned, at), new_id), mut req) in known.into_iter().zip(stored).zip(requests) {
        let Some(new_id) = new_id else {
            out.push(json!({"id": id, "planned": planned, "fired": false, "cid": null}));
            continue;
        };
        out.push(json!({"id": id, "planned": planned, "fired": true, "cid": req.cid}));
        if jobs.get(&id).is_some_and(|j| j.job_type == ONE_TIME) {
            ctx.state.odb.job_delete(ctx.state.cluster_id, id).await?;
            changed(ctx, id).await;
        }
        req.id = new_id;
        by_time.entry(at).or_default().push(req);
    }
    for (at, runs) in by_time {
        start_at(ctx, at, runs);
    }
    for (id, planned, _) in gone {
        out.push(
            json!({"id": id, "planned": planned, "fired": false, "cid": null, "missing": true}),
        );
    }
    if input.get("runs").is_some() {
        return Ok(json!({"runs": out}));
    }
    match out.pop() {
        Some(one) if one["missing"] == true => Err(ServiceError::new(
            ErrorKind::NotFound,
            format!("No job with id {}", one["id"]),
        )),
        Some(one) => Ok(json!({"id": one["id"], "fired": one["fired"], "cid": one["cid"]})),
        None => Err(ServiceError::bad_request("Missing input: id, planned")),
    }
}

pub const FIELDS: &[&str] = &[
    "id",
    "name",
    "is_active",
    "job_type",
    "start_date",
    "extra",
    "service",
    "service_id",
    "service_name",
    "weeks",
    "days",
    "hours",
    "minutes",
    "seconds",
    "repeats",
    "cron_definition",
];
const OUTPUT: &[&str] = &[
    "id",
    "name",
    "is_active",
    "job_type",
    "start_date",
    "extra",
    "service_id",
    "service_name",
    "weeks",
    "days",
    "hours",
    "minutes",
    "seconds",
    "repeats",
    "cron_definition",
];

pub fn services() -> Vec<Builtin> {
    vec![
        builtin!(
            "zato.scheduler.job.create",
            create,
            &io! {
                doc: "Creates a scheduler job: one_time (at start_date), interval_based (every weeks/days/hours/minutes/seconds from start_date, `repeats` times or forever) or cron_style (5 fields, 6 with seconds first, or @hourly-style). start_date is UTC; `extra` is the service's payload (JSON, or key=value lines).",
                required: &["name", "job_type", "service", "start_date"],
                optional: &["is_active", "service_id", "service_name", "extra", "weeks", "days",
                    "hours", "minutes", "seconds", "repeats", "cron_definition",
                    "should_ignore_existing"],
                output: &["id", "name", "cron_definition"],
            }
        ),
        builtin!(
            "zato.scheduler.job.edit",
            edit,
            &io! {
                doc: "Changes a scheduler job; fields left out keep their values, a part of the interval given as 0 or empty is unset.",
                required: &["id"],
                optional: FIELDS,
                output: &["id", "name", "cron_definition"],
            }
        ),
        builtin!(
            "zato.scheduler.job.delete",
            delete,
            &io! {
                doc: "Deletes a scheduler job with the record of its runs.",
                required: &["id"],
                output: &["details"],
            }
        ),
        builtin!(
            "zato.scheduler.job.get-list",
            get_list,
            &io! {
                doc: "Every scheduler job, or those of one service.",
                optional: &["service_name"],
                output: OUTPUT,
            }
        ),
        builtin!(
            "zato.scheduler.job.get-by-id",
            get_by_id,
            &io! {
                doc: "One scheduler job, by id.",
                required: &["id"],
                output: OUTPUT,
            }
        ),
        builtin!(
            "zato.scheduler.job.get-by-name",
            get_by_name,
            &io! {
                doc: "One scheduler job, by name.",
                required: &["name"],
                output: OUTPUT,
            }
        ),
        builtin!(
            "zato.scheduler.job.set-active-status",
            set_active_status,
            &io! {
                doc: "Makes a scheduler job active or inactive; schedulers follow at once.",
                required: &["id", "is_active"],
                output: &["id", "is_active"],
            }
        ),
        builtin!(
            "zato.scheduler.job.execute",
            execute,
            &io! {
                doc: "Runs a scheduler job's service now, active or not; the job stays as it is.",
                required: &["id"],
                output: &["id", "cid"],
            }
        ),
        builtin!(
            "zato.scheduler.job.fire",
            fire,
            &io! {
                doc: "Planned runs of jobs, as a scheduler asks for them: `id` and `planned` (UTC) for one, or `runs`, a list of `{id, planned}` (answered with `runs`). Each is recorded by its planned time at once and started at that time (at once when it has come; at most 10 s ahead); a run recorded before is not run again (`fired` is false). A one-time job is deleted once its run is recorded.",
                optional: &["id", "planned", "runs"],
                output: &["id", "fired", "cid", "runs"],
            }
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::extra_payload;
    use serde_json::json;

    #[test]
    fn extras_become_payloads_as_upstream() {
        assert_eq!(extra_payload(r#"{"a": 1}"#), json!({"a": 1}));
        assert_eq!(
            extra_payload("a=1\nb = two\n"),
            json!({"a": "1", "b": "two"})
        );
        assert_eq!(extra_payload("just text"), json!("just text"));
        assert_eq!(extra_payload("  "), json!(null));
    }
}
