//! Runs the unit tests of the embedded `zato` Python package with the interpreter the server
//! is built against, so a failure there fails `cargo test`.
use std::process::Command;

#[test]
fn python_package_unit_tests() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/python");
    let python = option_env!("PYO3_PYTHON").unwrap_or("python3");
    let out = Command::new(python)
        .args(["-m", "unittest", "discover", "-s", "tests"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "Python unit tests failed:\n{stderr}");
    assert!(
        stderr.contains("OK"),
        "unexpected unittest output:\n{stderr}"
    );
    let ran: usize = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("Ran ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0);
    assert!(ran >= 50, "only {ran} Python tests ran:\n{stderr}");
}
