//! `zato-scheduler PATH [--fg]`: runs the scheduler whose directory is PATH.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "zato-scheduler", version, about = "Zato scheduler")]
struct Args {
    /// The scheduler's directory (with config/repo/scheduler.conf).
    path: PathBuf,
    /// Also log to stderr.
    #[arg(long)]
    fg: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    zato_common::logging::run_component(
        &args.path,
        "scheduler.log",
        args.fg,
        "the scheduler",
        zato_scheduler::run::run(&args.path),
    )
}
