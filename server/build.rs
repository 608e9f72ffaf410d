//! Pins the embedded interpreter to the one we were built against (engineering notes §3):
//! the rpath makes the loader pick the build's libpython, and BUILD_PYTHON_HOME lets the server
//! set PYTHONHOME at start-up so a different `python3` on PATH cannot swap the standard library.
fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
    let cfg = pyo3_build_config::get();
    let exe = cfg.executable.clone().unwrap_or_else(|| "python3".to_string());
    let home = std::process::Command::new(&exe)
        .args(["-c", "import sys; print(sys.base_prefix)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=BUILD_PYTHON_HOME={home}");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
