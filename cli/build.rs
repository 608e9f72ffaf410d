//! Facts for `zato --version` (upstream's format): the git revision and date of the build and
//! the version of the Python the server embeds.
use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let rev = output("git", &["rev-parse", "--short=10", "HEAD"]);
    let date = output(
        "git",
        &["log", "-1", "--format=%cd", "--date=format:%Y.%m.%d"],
    );
    let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".into());
    let py = output(
        &python,
        &["-c", "import platform; print(platform.python_version())"],
    );
    println!(
        "cargo:rustc-env=ZATO_BUILD_GIT_REV={}",
        rev.unwrap_or_default()
    );
    println!(
        "cargo:rustc-env=ZATO_BUILD_GIT_DATE={}",
        date.unwrap_or_default()
    );
    println!(
        "cargo:rustc-env=ZATO_BUILD_PYTHON={}",
        py.unwrap_or_default()
    );
    // Only paths that exist: cargo reruns a build script on every build while a path it was
    // told to watch is missing (a fresh clone has no packed-refs, a tarball no .git at all).
    for path in ["../.git/HEAD", "../.git/refs/heads", "../.git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
