//! Component directories: the `.zato-info` marker, pidfiles and process checks.
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::exit::{CliError, CliResult, NOT_A_ZATO_COMPONENT};

pub const SERVER: &str = "SERVER";
pub const LOAD_BALANCER: &str = "LOAD_BALANCER";
pub const SCHEDULER: &str = "SCHEDULER";
pub const WEB_ADMIN: &str = "WEB_ADMIN";

/// The `component` of `dir/.zato-info` (e.g. `SERVER`), or exit 3 as upstream.
pub fn kind(dir: &Path) -> CliResult<String> {
    let marker = dir.join(".zato-info");
    let text = std::fs::read_to_string(&marker).map_err(|_| {
        CliError::new(
            NOT_A_ZATO_COMPONENT,
            format!(
                "Directory {} doesn't seem to belong to a Zato component. Expected one of the following to exist ['.zato-info']",
                dir.display()
            ),
        )
    })?;
    let info: Value = serde_json::from_str(&text).map_err(|e| {
        CliError::new(
            NOT_A_ZATO_COMPONENT,
            format!("{} is not valid JSON: {e}", marker.display()),
        )
    })?;
    info.get("component")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            CliError::new(
                NOT_A_ZATO_COMPONENT,
                format!("{} names no component", marker.display()),
            )
        })
}

pub fn pidfile(dir: &Path) -> PathBuf {
    dir.join("pidfile")
}

/// The pid in the pidfile: Ok(None) when there is no pidfile; Err for an empty or garbled one.
pub fn read_pid(dir: &Path) -> CliResult<Option<i32>> {
    let path = pidfile(dir);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    text.trim().parse::<i32>().map(Some).map_err(|_| {
        CliError::new(
            crate::exit::NO_PID_FOUND,
            format!("No PID found in {}", path.display()),
        )
    })
}

/// True when a process with this pid exists and has not exited. A component started by an
/// earlier `zato start` is an orphan: once it exits it stays a zombie until init reaps it,
/// which can take a second, and kill(pid, 0) still succeeds on a zombie.
pub fn alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    if pid <= 0 || unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
        })
        .unwrap_or(false);
    !zombie
}

/// True when `pid` runs a component binary for `dir` (as `zato start` launches them: the
/// binary, then the directory). A pidfile can outlive its process, and the pid be reused by
/// something else that must never get our signals.
pub fn is_ours(pid: i32, dir: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let mut args = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned());
    // The same directory may be spelled otherwise (a symlink, `..`): compare real paths.
    let real = |p: &Path| {
        std::fs::canonicalize(p)
            .or_else(|_| std::path::absolute(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let dir = real(dir);
    let binary = args.next().unwrap_or_default();
    let is_component = Path::new(&binary)
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("zato-"));
    is_component && args.any(|a| real(Path::new(&a)) == dir)
}

/// A live process of this component directory (see `is_ours`).
pub fn running_here(pid: i32, dir: &Path) -> bool {
    alive(pid) && is_ours(pid, dir)
}

/// Said when something on the component's `port` answered but refused us (a 401, a TLS
/// failure): if that is another program (another cluster's server, after this one stopped),
/// the refusal says nothing about this component's credentials or certificates. None when
/// the listener is this component, or cannot be seen and this component's pidfile names a
/// live process of it.
pub fn other_on_port(dir: &Path, port: u16) -> Option<String> {
    let pids = crate::procinfo::listeners_on(port);
    if pids.iter().any(|p| is_ours(*p, dir)) {
        return None;
    }
    if pids.is_empty() {
        // Another user's process: only our own pidfile can tell.
        let running = read_pid(dir)
            .ok()
            .flatten()
            .is_some_and(|p| running_here(p, dir));
        return (!running).then(|| {
            format!(
                "Port {port} answered, but the component in {dir} has no live pidfile: it looks stopped, and the program on that port (another user's, not visible here) is not it. Start this one with `zato start {dir}` once the port is free",
                dir = dir.display()
            )
        });
    }
    let pid = pids[0];
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            c.split(|b| *b == 0)
                .map(String::from_utf8_lossy)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    Some(format!(
        "The component in {dir} is not running: port {port} is held by another program, pid {pid} (`{cmd}`). Start this one with `zato start {dir}` once the port is free, or give it another port",
        dir = dir.display(),
        cmd = cmdline.trim()
    ))
}

pub fn signal(pid: i32, sig: i32) -> bool {
    // SAFETY: plain kill(2) on a pid we read from our own pidfile.
    pid > 0 && unsafe { libc::kill(pid, sig) } == 0
}

/// Pids whose parent is `pid` (a server's worker processes), from `/proc/*/stat`.
pub fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses, so split after the last `)`.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out.sort_unstable();
    out
}
