//! `zato-load-balancer PATH [--fg]`: runs the load balancer whose directory is PATH.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "zato-load-balancer",
    version,
    about = "Zato load balancer and its agent API"
)]
struct Args {
    /// The load balancer's directory (with config/repo/lb.conf).
    path: PathBuf,
    /// Also log to stderr.
    #[arg(long)]
    fg: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = zato_common::logging::init(&args.path, "lb.log", args.fg) {
        eprintln!(
            "Cannot open the log file under {}: {e}",
            args.path.join("logs").display()
        );
        return ExitCode::from(1);
    }
    // The proxy runs on threads of its own (run.rs); this runtime has the agent API, health
    // checks and signals.
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
    match rt.block_on(zato_lb::run::run(&args.path)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Cannot start the load balancer: {e}");
            tracing::error!("Cannot start the load balancer: {e}");
            ExitCode::from(1)
        }
    }
}
