//! Logging for every component binary: `PATH/logs/<file>` (and stderr with `--fg`), level from
//! `ZATO_LOG` (default info).
use std::path::Path;

pub fn init(component_dir: &Path, file_name: &str, fg: bool) -> std::io::Result<()> {
    use tracing_subscriber::prelude::*;
    let logs = component_dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join(file_name))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZATO_LOG")
        // lapin logs at ERROR what zato-amqp reports itself with context (and the normal
        // close of a channel while its connection closes); ZATO_LOG=lapin=debug shows it.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,lapin=off"));
    let file_layer = tracing_subscriber::fmt::layer()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_thread_names(true);
    let stderr_layer = fg.then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr));
    tracing_subscriber::registry()
        .with(filter)
        .with(file_layer)
        .with(stderr_layer)
        .try_init()
        .map_err(std::io::Error::other)
}

/// The `main` of a single-runtime component binary (the load balancer, the scheduler): logs
/// to `PATH/logs/<file_name>` (and stderr with `fg`), runs `run` on a current-thread runtime
/// and exits 1 with `Cannot start <what>: <error>` on both stderr and the log when it fails.
pub fn run_component<F, E>(
    component_dir: &Path,
    file_name: &str,
    fg: bool,
    what: &str,
    run: F,
) -> std::process::ExitCode
where
    F: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    use std::process::ExitCode;
    if let Err(e) = init(component_dir, file_name, fg) {
        eprintln!(
            "Cannot open the log file under {}: {e}",
            component_dir.join("logs").display()
        );
        return ExitCode::from(1);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Cannot start {what}: {e}");
            tracing::error!("Cannot start {what}: {e}");
            ExitCode::from(1)
        }
    }
}
