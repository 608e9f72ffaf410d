//! `zato start`, `zato stop` and `zato wait`.
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::component::{self, LOAD_BALANCER, SCHEDULER, SERVER, WEB_ADMIN};
use crate::exit::{
    COMPONENT_ALREADY_RUNNING, CliError, CliResult, FAILED_TO_START, FILE_MISSING, SERVER_TIMEOUT,
};

/// The binary that runs a component of `kind`, from the directory of the `zato` executable.
pub(crate) fn binary_for(kind: &str) -> CliResult<PathBuf> {
    let name = match kind {
        SERVER => "zato-server",
        LOAD_BALANCER => "zato-load-balancer",
        SCHEDULER => "zato-scheduler",
        WEB_ADMIN => "zato-web-admin",
        other => {
            return Err(CliError::new(
                FAILED_TO_START,
                format!(
                    "components of type {other} cannot be started yet: their binary is not built in this version"
                ),
            ));
        }
    };
    let exe = std::env::current_exe()
        .map_err(|e| CliError::failed(format!("cannot find the zato executable: {e}")))?;
    let path = exe.with_file_name(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(CliError::new(
            FAILED_TO_START,
            format!(
                "{} is missing; build it with `cargo build --release --workspace --bins`",
                path.display()
            ),
        ))
    }
}

/// How `zato start` tells that the component in `dir` serves.
enum Probe {
    /// This URL answers 200.
    Http(String),
    /// The load balancer's agent answers (it starts listening after the frontend's sockets
    /// are bound). Used for an HTTPS frontend, which may accept only clients with a
    /// certificate this command does not have.
    Agent,
    /// This address accepts TCP connections (an HTTPS web admin, whose certificate this
    /// command cannot check).
    Tcp(String),
}

impl Probe {
    fn describe(&self) -> String {
        match self {
            Probe::Http(url) => url.clone(),
            Probe::Agent => "the load balancer's agent".into(),
            Probe::Tcp(addr) => addr.clone(),
        }
    }
}

fn readiness(kind: &str, dir: &Path) -> CliResult<Probe> {
    let fail = |e: String| CliError::new(FAILED_TO_START, e);
    match kind {
        LOAD_BALANCER => {
            let cfg = zato_lb::config::LbConfig::load(dir).map_err(|e| fail(e.to_string()))?;
            if cfg.frontend.tls.is_some() {
                return Ok(Probe::Agent);
            }
            let addr = zato_lb::config::local_addr(&cfg.frontend.bind).ok_or_else(|| {
                fail(format!(
                    "frontend.bind `{}` is not ip:port",
                    cfg.frontend.bind
                ))
            })?;
            Ok(Probe::Http(format!(
                "http://{addr}{}",
                zato_lb::proxy::MONITOR_URI
            )))
        }
        SCHEDULER => {
            let cfg =
                zato_common::config::SchedulerConfig::load(dir).map_err(|e| fail(e.to_string()))?;
            let (host, port) = cfg.main.bind.rsplit_once(':').unwrap_or(("", "31530"));
            Ok(Probe::Http(format!(
                "{}/zato/ping",
                zato_common::locate::bind_address(host, port)
            )))
        }
        WEB_ADMIN => {
            let cfg =
                zato_common::config::WebAdminConfig::load(dir).map_err(|e| fail(e.to_string()))?;
            Ok(if cfg.tls.is_some() {
                Probe::Tcp(cfg.main.bind)
            } else {
                Probe::Http(format!("http://{}/login", cfg.main.bind))
            })
        }
        _ => {
            let cfg =
                zato_common::config::ServerConfig::load(dir).map_err(|e| fail(e.to_string()))?;
            Ok(Probe::Http(format!(
                "{}/zato/ping",
                zato_common::locate::server_address(&cfg)
            )))
        }
    }
}

/// How `zato stop` names a component, as upstream's messages.
fn label(kind: &str) -> &'static str {
    match kind {
        SERVER => "Server",
        LOAD_BALANCER => "Load-balancer",
        SCHEDULER => "Scheduler",
        WEB_ADMIN => "Web admin",
        _ => "Component",
    }
}

/// The first lines of a file, for error messages.
fn head(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    text.lines().take(lines).collect::<Vec<_>>().join("\n")
}

pub async fn start(dir: &Path, fg: bool, no_wait: bool, timeout: Duration) -> CliResult<()> {
    let dir = std::path::absolute(dir).map_err(|e| CliError::failed(e.to_string()))?;
    let kind = component::kind(&dir)?;
    let exe = binary_for(&kind)?;
    if let Some(pid) = component::read_pid(&dir).ok().flatten() {
        if component::running_here(pid, &dir) {
            return Err(CliError::new(
                COMPONENT_ALREADY_RUNNING,
                format!(
                    "Error - found pidfile `{}`: the component is already running (pid {pid}); stop it with `zato stop {}`",
                    component::pidfile(&dir).display(),
                    dir.display()
                ),
            ));
        }
        // A pidfile left behind by a process that is gone.
        let _ = std::fs::remove_file(component::pidfile(&dir));
    }
    if fg {
        let status = Command::new(&exe)
            .arg(&dir)
            .arg("--fg")
            .status()
            .map_err(|e| {
                CliError::new(
                    FAILED_TO_START,
                    format!("cannot run {}: {e}", exe.display()),
                )
            })?;
        return if status.success() {
            Ok(())
        } else {
            Err(CliError::new(
                FAILED_TO_START,
                format!("{} exited with {status}", exe.display()),
            ))
        };
    }
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)
        .map_err(|e| CliError::failed(format!("cannot create {}: {e}", logs.display())))?;
    let stderr_path = logs.join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path)
        .map_err(|e| CliError::failed(format!("cannot create {}: {e}", stderr_path.display())))?;
    let mut child = {
        use std::os::unix::process::CommandExt;
        Command::new(&exe)
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            // Its own process group: a Ctrl-C meant for the shell does not stop it.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                CliError::new(
                    FAILED_TO_START,
                    format!("cannot run {}: {e}", exe.display()),
                )
            })?
    };
    let pid = child.id();
    std::fs::write(component::pidfile(&dir), format!("{pid}\n"))
        .map_err(|e| CliError::failed(format!("cannot write the pidfile: {e}")))?;
    if no_wait {
        println!("OK");
        return Ok(());
    }
    let probe = readiness(&kind, &dir)?;
    // Each probe is bounded: something else may hold the port without ever answering.
    let http = zato_common::http::local_client_builder()
        .timeout(Duration::from_millis(500))
        .build()
        .map_err(|e| CliError::failed(e.to_string()))?;
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let _ = std::fs::remove_file(component::pidfile(&dir));
            return Err(CliError::new(
                FAILED_TO_START,
                format!(
                    "The component exited with {status}:\n{}",
                    head(&stderr_path, 20)
                ),
            ));
        }
        let ready = match &probe {
            Probe::Http(url) => http
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
            Probe::Agent => match zato_lb::client::AgentClient::for_dir(&dir) {
                Ok(agent) => tokio::time::timeout(
                    Duration::from_millis(500),
                    agent.call(hyper::Method::GET, "/version", None),
                )
                .await
                .is_ok_and(|r| r.is_ok()),
                Err(_) => false,
            },
            Probe::Tcp(addr) => tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(addr.as_str()),
            )
            .await
            .is_ok_and(|r| r.is_ok()),
        };
        if ready {
            println!("OK");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(CliError::new(
        SERVER_TIMEOUT,
        format!(
            "The component did not answer {} within {timeout:?}; see {}",
            probe.describe(),
            logs.display()
        ),
    ))
}

pub fn stop(dir: &Path) -> CliResult<()> {
    let dir = std::path::absolute(dir).map_err(|e| CliError::failed(e.to_string()))?;
    let kind = component::kind(&dir)?;
    let Some(pid) = component::read_pid(&dir)? else {
        return Err(CliError::new(
            FILE_MISSING,
            format!(
                "No pidfile found in {}: the component is not running (or was not started with `zato start`)",
                dir.display()
            ),
        ));
    };
    if component::alive(pid) && !component::is_ours(pid, &dir) {
        let _ = std::fs::remove_file(component::pidfile(&dir));
        println!(
            "{} `{}` was not running: pid {pid} of its pidfile is now another program's, left alone; the stale pidfile was removed",
            label(&kind),
            dir.display()
        );
        return Ok(());
    }
    println!("{} `{}` shutting down", label(&kind), dir.display());
    if component::alive(pid) {
        component::signal(pid, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while component::alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if component::alive(pid) {
            eprintln!("The component did not stop within 20 s of SIGTERM; sending SIGKILL");
            component::signal(pid, libc::SIGKILL);
            while component::alive(pid) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let _ = std::fs::remove_file(component::pidfile(&dir));
    Ok(())
}

/// Polls `address + url_path` until any HTTP reply comes back (upstream `zato wait`).
pub async fn wait(
    address: &str,
    url_path: &str,
    timeout: Duration,
    interval: Duration,
    silent: bool,
) -> CliResult<()> {
    let url = format!("{}{url_path}", address.trim_end_matches('/'));
    let http = zato_common::http::local_client_builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| CliError::failed(e.to_string()))?;
    let deadline = Instant::now() + timeout;
    loop {
        match http.get(&url).send().await {
            Ok(_) => return Ok(()),
            Err(e) => {
                if !silent {
                    eprintln!("Waiting for `{url}` ({e})");
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(CliError::new(
                SERVER_TIMEOUT,
                format!("`{url}` did not answer within {timeout:?}"),
            ));
        }
        tokio::time::sleep(interval).await;
    }
}
