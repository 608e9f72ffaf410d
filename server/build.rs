//! 1. Pins the embedded interpreter to the one we were built against (engineering notes §3):
//!    the rpath makes the loader pick the build's libpython, and BUILD_PYTHON_HOME lets the
//!    server set PYTHONHOME at start-up so a different `python3` on PATH cannot swap the stdlib.
//! 2. Embeds the `zato` Python package (python/zato/**.py) so the binary is self-contained.
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "__pycache__") {
                collect(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "py") {
            out.push(p);
        }
    }
}

fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
    let cfg = pyo3_build_config::get();
    let exe = cfg
        .executable()
        .map(str::to_string)
        .unwrap_or_else(|| "python3".to_string());
    let home = std::process::Command::new(&exe)
        .args(["-c", "import sys; print(sys.base_prefix)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=BUILD_PYTHON_HOME={home}");
    // `zato-server --python-executable`: the CLI makes the cluster's virtualenv with it, so
    // packages installed there match the embedded interpreter's version.
    println!("cargo:rustc-env=BUILD_PYTHON_EXE={exe}");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");

    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("python");
    let mut files = Vec::new();
    collect(&root.join("zato"), &mut files);
    // Upstream's services import `bunch` at the top level.
    collect(&root.join("bunch"), &mut files);
    files.sort();
    let mut src = String::from("pub static PYTHON_FILES: &[(&str, &str)] = &[\n");
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap_or(f)
            .to_string_lossy()
            .replace('\\', "/");
        src.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("python_files.rs");
    if let Err(e) = std::fs::write(&out, src) {
        panic!("cannot write {}: {e}", out.display());
    }
    println!("cargo:rerun-if-changed=python/zato");
    println!("cargo:rerun-if-changed=python/bunch");
}
