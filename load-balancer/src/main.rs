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
    // The proxy runs on threads of its own (run.rs); this runtime has the agent API, health
    // checks and signals.
    zato_common::logging::run_component(
        &args.path,
        "lb.log",
        args.fg,
        "the load balancer",
        zato_lb::run::run(&args.path),
    )
}
