//! `zato info PATH [--format text|json|yaml]`: upstream's keys (facts §1.5) for any component,
//! running or not, with process details from sysinfo and sockets from `/proc`.
use std::path::Path;

use chrono::{DateTime, Local, Utc};
use serde_json::{Map, Value, json};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};

use crate::component;
use crate::exit::{CliError, CliResult};
use crate::procinfo;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Yaml,
}

/// Python's `str(timedelta)`: `0:00:35.858271`, `2 days, 3:04:05.000000`.
fn timedelta(secs: u64, micros: u32) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let clock = format!(
        "{}:{:02}:{:02}.{micros:06}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    match days {
        0 => clock,
        1 => format!("1 day, {clock}"),
        d => format!("{d} days, {clock}"),
    }
}

fn local_iso(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local)
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

/// The keys of one process (`master_proc_*` or `worker_<pid>_*`).
fn process_keys(
    out: &mut Map<String, Value>,
    prefix: &str,
    sys: &System,
    pid: i32,
    now: DateTime<Utc>,
) {
    let sockets = procinfo::connections_json(&procinfo::tcp_sockets(pid));
    out.insert(format!("{prefix}connections"), sockets);
    let Some(p) = u32::try_from(pid)
        .ok()
        .and_then(|p| sys.process(Pid::from_u32(p)))
    else {
        return;
    };
    let started = DateTime::<Utc>::from_timestamp(i64::try_from(p.start_time()).unwrap_or(0), 0)
        .unwrap_or(now);
    let up = (now - started).to_std().unwrap_or_default();
    out.insert(format!("{prefix}create_time"), json!(local_iso(started)));
    out.insert(
        format!("{prefix}create_time_utc"),
        json!(started.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()),
    );
    out.insert(
        format!("{prefix}uptime"),
        json!(timedelta(up.as_secs(), up.subsec_micros())),
    );
    out.insert(format!("{prefix}uptime_seconds"), json!(up.as_secs()));
}

/// `active` or `standby`, from the scheduler's `GET /zato/ping`; None when it does not answer.
fn scheduler_state(dir: &Path) -> Option<String> {
    use std::io::{Read, Write};
    let cfg = zato_common::config::SchedulerConfig::load(dir).ok()?;
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&cfg.main.bind)
        .ok()?
        .next()?;
    let timeout = std::time::Duration::from_secs(2);
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream
        .write_all(b"GET /zato/ping HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    stream.take(4096).read_to_string(&mut text).ok()?;
    let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1)?).ok()?;
    body["state"].as_str().map(str::to_string)
}

/// Every key as JSON.
pub fn collect(dir: &Path) -> CliResult<Map<String, Value>> {
    let dir = std::path::absolute(dir).map_err(|e| CliError::failed(e.to_string()))?;
    component::kind(&dir)?;
    let details: Value = std::fs::read_to_string(dir.join(".zato-info"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let now = Utc::now();
    let mut out = Map::new();
    out.insert("component_details".into(), details);
    out.insert("component_full_path".into(), json!(dir.to_string_lossy()));
    let host = System::host_name().unwrap_or_else(|_| "localhost".into());
    out.insert("component_host".into(), json!(host));
    out.insert("current_time".into(), json!(local_iso(now)));
    out.insert(
        "current_time_utc".into(),
        json!(now.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
    );
    let pid = component::read_pid(&dir)
        .ok()
        .flatten()
        .filter(|p| component::running_here(*p, &dir));
    out.insert("component_running".into(), json!(pid.is_some()));
    for key in [
        "master_proc_connections",
        "master_proc_pid",
        "master_proc_name",
        "master_proc_create_time",
        "master_proc_create_time_utc",
        "master_proc_username",
        "master_proc_workers_no",
        "master_proc_workers_pids",
    ] {
        out.insert(key.into(), Value::Null);
    }
    let Some(pid) = pid else {
        return Ok(out);
    };
    if component::kind(&dir).is_ok_and(|k| k == component::SCHEDULER) {
        // Whether it fires the jobs or stands by: its own answer.
        out.insert("scheduler_state".into(), json!(scheduler_state(&dir)));
    }
    let mut sys =
        System::new().map_err(|e| CliError::failed(format!("cannot read process details: {e}")))?;
    sys.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().with_user(UpdateKind::Always),
    );
    out.insert("master_proc_pid".into(), json!(pid));
    let workers = component::children(pid);
    if let Some(p) = u32::try_from(pid)
        .ok()
        .and_then(|p| sys.process(Pid::from_u32(p)))
    {
        out.insert("master_proc_name".into(), json!(p.name().to_string_lossy()));
        let users = Users::new_with_refreshed_list().ok();
        let user = p
            .user_id()
            .and_then(|uid| users.as_ref()?.get_user_by_id(uid))
            .map(|u| u.name().to_string());
        out.insert("master_proc_username".into(), json!(user));
    }
    process_keys(&mut out, "master_proc_", &sys, pid, now);
    // A single-process server is its own worker.
    let worker_pids = if workers.is_empty() {
        vec![pid]
    } else {
        workers.clone()
    };
    out.insert("master_proc_workers_no".into(), json!(worker_pids.len()));
    out.insert("master_proc_workers_pids".into(), json!(worker_pids));
    for w in workers {
        process_keys(&mut out, &format!("worker_{w}_"), &sys, w, now);
    }
    Ok(out)
}

/// A value for the text table, readable in 100 columns: sockets one per line, objects as
/// `key: value` lines, lists comma-separated.
fn text_value(key: &str, v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        Value::Object(m) if key.ends_with("connections") => m
            .iter()
            .flat_map(|(state, list)| {
                let list = list.as_array().cloned().unwrap_or_default();
                list.into_iter()
                    .map(move |c| format!("{state} {}", text_value("", &c["formatted"])))
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}: {}", text_value(k, v)))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Array(a) => a
            .iter()
            .map(|v| text_value("", v))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// A table that wraps its cells to fit 100 columns.
fn narrow_table(header: &[&str]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_width(100)
        .set_header(header.iter().copied());
    table
}

fn print(
    value: Value,
    format: Format,
    text: impl FnOnce(Value) -> comfy_table::Table,
) -> CliResult<()> {
    match format {
        Format::Json => println!("{value}"),
        Format::Yaml => {
            let text =
                serde_yaml_ng::to_string(&value).map_err(|e| CliError::failed(e.to_string()))?;
            print!("{text}");
        }
        Format::Text => println!("{}", text(value)),
    }
    Ok(())
}

/// The component directories right below `dir` (a quickstart cluster's), with their state.
fn cluster_components(dir: &Path) -> Vec<Value> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter_map(|p| {
            let kind = if p.join(".zato-ca-dir").exists() {
                "CA".to_string()
            } else {
                component::kind(&p).ok()?
            };
            let pid = component::read_pid(&p)
                .ok()
                .flatten()
                .filter(|pid| component::running_here(*pid, &p));
            Some(json!({
                "path": p.to_string_lossy(), "component": kind,
                "running": pid.is_some(), "pid": pid,
            }))
        })
        .collect();
    found.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    found
}

pub fn run(dir: &Path, format: Format) -> CliResult<()> {
    if !dir.join(".zato-info").exists() {
        let full = std::path::absolute(dir).map_err(|e| CliError::failed(e.to_string()))?;
        let components = cluster_components(&full);
        if !components.is_empty() {
            let value = json!({"cluster_dir": full.to_string_lossy(), "components": components});
            return print(value, format, |v| {
                let mut table = narrow_table(&["Component dir", "Component", "Running", "PID"]);
                for c in v["components"].as_array().into_iter().flatten() {
                    table.add_row([
                        text_value("", &c["path"]),
                        text_value("", &c["component"]),
                        text_value("", &c["running"]),
                        text_value("", &c["pid"]),
                    ]);
                }
                table
            });
        }
    }
    let info = collect(dir)?;
    print(Value::Object(info), format, |v| {
        let mut table = narrow_table(&["Key", "Value"]);
        // The map is ordered by insertion; the table, as upstream's, by key.
        let mut rows: Vec<_> = v.as_object().into_iter().flatten().collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in rows {
            table.add_row([k.clone(), text_value(k, v)]);
        }
        table
    })
}

#[cfg(test)]
mod tests {
    use super::timedelta;

    #[test]
    fn uptimes_read_like_python_timedeltas() {
        assert_eq!(timedelta(35, 858_271), "0:00:35.858271");
        assert_eq!(timedelta(86_400 + 3_723, 0), "1 day, 1:02:03.000000");
        assert_eq!(timedelta(3 * 86_400, 5), "3 days, 0:00:00.000005");
    }
}
