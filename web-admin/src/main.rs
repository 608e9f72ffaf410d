//! `zato-web-admin PATH [--fg]`: runs the web admin whose directory is PATH.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "zato-web-admin", version, about = "Zato web admin")]
struct Args {
    /// The web admin's directory (with config/repo/web-admin.conf).
    path: PathBuf,
    /// Also log to stderr.
    #[arg(long)]
    fg: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    zato_common::logging::run_component(
        &args.path,
        "web-admin.log",
        args.fg,
        "the web admin",
        zato_web_admin::run::run(&args.path),
    )
}
