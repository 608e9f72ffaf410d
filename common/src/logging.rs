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
