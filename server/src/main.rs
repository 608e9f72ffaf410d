//! `zato-server PATH`: one server of a cluster. With `[main] workers = N > 1` this process
//! supervises N worker processes sharing the port.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// glibc's malloc showed up at ~8% of CPU per request (free-list consolidation across tokio
/// threads); mimalloc's thread-local heaps are much cheaper for the many small allocations of
/// request handling. Python keeps its own allocator for its objects.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(version, about = "A Zato-compatible application server", long_about = None)]
struct Args {
    /// The server directory (with config/repo/server.conf).
    #[arg(required_unless_present = "python_executable")]
    path: Option<PathBuf>,
    /// Also log to stderr.
    #[arg(long)]
    fg: bool,
    /// Internal: run as worker process N of a supervisor.
    #[arg(long, hide = true)]
    worker_index: Option<u32>,
    /// Print the Python executable whose library this server embeds, and exit (virtualenvs
    /// for services are made with it).
    #[arg(long)]
    python_executable: bool,
}

/// Starts the workers and relays SIGTERM/SIGINT to them.
fn supervise(path: &std::path::Path, args: &Args, workers: u32) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for i in 0..workers {
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg(path).arg("--worker-index").arg(i.to_string());
        if args.fg {
            cmd.arg("--fg");
        }
        children.push(cmd.spawn()?);
    }
    tracing::info!(
        "Booting {workers} worker processes: {:?}",
        children.iter().map(|c| c.id()).collect::<Vec<_>>()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut poll = tokio::time::interval(std::time::Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = poll.tick() => {
                    // A worker that died takes the whole server down, so supervisors notice.
                    if children.iter_mut().any(|c| matches!(c.try_wait(), Ok(Some(_)))) {
                        tracing::error!("a worker process exited; stopping the server");
                        break;
                    }
                }
            }
        }
        anyhow::Ok(())
    })?;
    for c in &children {
        // SAFETY: plain kill(2) on our own children's pids.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
    }
    for mut c in children {
        let _ = c.wait();
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    zato_server::python::pin_python_home();
    let args = Args::parse();
    if args.python_executable {
        println!("{}", env!("BUILD_PYTHON_EXE"));
        return ExitCode::SUCCESS;
    }
    let Some(path) = args.path.as_deref() else {
        eprintln!("Cannot start the server: no server directory given");
        return ExitCode::from(2);
    };
    if let Err(e) = zato_common::logging::init(path, "server.log", args.fg) {
        eprintln!(
            "Cannot open the log file under {}: {e}",
            path.join("logs").display()
        );
        return ExitCode::from(1);
    }
    let workers = match zato_common::config::ServerConfig::load(path) {
        Ok(c) => c.main.workers,
        Err(e) => {
            eprintln!("Cannot start the server: {e}");
            tracing::error!("Cannot start the server: {e}");
            return ExitCode::from(1);
        }
    };
    if workers > 1 && args.worker_index.is_none() {
        return supervise(path, &args, workers).unwrap_or_else(|e| {
            eprintln!("Cannot start the worker processes: {e}");
            ExitCode::from(1)
        });
    }
    // Runtime threads run Python services inline, each with its own pinned thread state.
    zato_server::python::init_interpreter();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(zato_server::python::pin_thread_state)
        .on_thread_stop(zato_server::python::unpin_thread_state)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(zato_server::app::run(path, args.worker_index.unwrap_or(0))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Cannot start the server: {e}");
            tracing::error!("Cannot start the server: {e}");
            ExitCode::from(1)
        }
    }
}
