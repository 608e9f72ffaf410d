//! The virtualenv services import third-party packages from: made on the embedded interpreter's
//! Python by `zato quickstart create` and `zato create server`, filled by `zato python install`.
//! Servers pick new packages up at their next deployment, without a restart.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use zato_common::config::ServerConfig;

use crate::component::{self, SERVER};
use crate::exit::{CliError, CliResult, INVALID_INPUT, NO_OPTIONS};

/// The libraries upstream Zato ships in its own environment and services commonly import.
/// (`bunch` is not among them: PyPI's no longer installs, and the server has its own.)
pub const UPSTREAM_PACKAGES: &[&str] = &[
    "requests",
    "SQLAlchemy",
    "lxml",
    "python-dateutil",
    "arrow",
    "pytz",
    "PyYAML",
    "xmltodict",
    "jsonschema",
    "PyJWT",
    "PyMySQL",
    "psycopg2-binary",
    "ujson",
    "orjson",
    "six",
];

/// A server's virtualenv as `server.conf` names it when `zato create server` made it.
pub const SERVER_ENV: &str = "venv";
/// The virtualenv all servers of a quickstart cluster share (relative to each server dir).
pub const QUICKSTART_ENV: &str = "../venv";

#[derive(clap::Args, Debug)]
pub struct InstallArgs {
    /// A server directory, or a quickstart cluster's directory (all its servers).
    pub path: PathBuf,
    /// Also install the libraries upstream Zato ships (requests, SQLAlchemy, lxml,
    /// python-dateutil, arrow, ...).
    #[arg(long)]
    pub upstream: bool,
    /// Upgrade packages already installed to their newest versions.
    #[arg(long, short = 'U')]
    pub upgrade: bool,
    /// Packages as pip takes them, e.g. requests 'lxml>=5'.
    pub packages: Vec<String>,
}

fn failed(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::failed(format!("{what}: {e}"))
}

/// The Python executable the server binary embeds (next to this `zato`).
fn embedded_python() -> CliResult<PathBuf> {
    let server = crate::process::binary_for(SERVER)?;
    let out = Command::new(&server)
        .arg("--python-executable")
        .output()
        .map_err(|e| failed(&format!("cannot run {}", server.display()), e))?;
    let exe = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || exe.is_empty() {
        return Err(CliError::failed(format!(
            "{} did not name its Python executable: {}",
            server.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(PathBuf::from(exe))
}

fn run(cmd: &mut Command, what: &str) -> CliResult<()> {
    let status = cmd.status().map_err(|e| failed(what, e))?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::failed(format!("{what} failed ({status})")))
    }
}

/// Makes a virtualenv without pip (0.2 s instead of 10); `install` brings pip when needed.
pub fn create(env_dir: &Path) -> CliResult<()> {
    if env_dir.join("bin/python").exists() {
        return Ok(());
    }
    let python = embedded_python()?;
    let out = Command::new(&python)
        .args(["-m", "venv", "--without-pip"])
        .arg(env_dir)
        .output()
        .map_err(|e| failed(&format!("cannot run {}", python.display()), e))?;
    if out.status.success() {
        return Ok(());
    }
    Err(CliError::failed(format!(
        "cannot make the virtualenv {} with {} -m venv: {}; on Debian or Ubuntu, install the python3-venv package",
        env_dir.display(),
        python.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// The virtualenvs the servers under `path` use: the server's own, or those of every server
/// directory directly under a cluster's directory.
fn envs_of(path: &Path) -> CliResult<BTreeSet<PathBuf>> {
    let servers: Vec<PathBuf> = if path.join(".zato-info").exists() {
        let kind = component::kind(path)?;
        if kind != SERVER {
            return Err(CliError::new(
                INVALID_INPUT,
                format!(
                    "{} is a {kind}; give a server directory or a cluster's directory",
                    path.display()
                ),
            ));
        }
        vec![path.to_path_buf()]
    } else {
        let entries = std::fs::read_dir(path)
            .map_err(|e| failed(&format!("cannot read {}", path.display()), e))?;
        let mut dirs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| component::kind(p).is_ok_and(|k| k == SERVER))
            .collect();
        dirs.sort();
        dirs
    };
    if servers.is_empty() {
        return Err(CliError::new(
            crate::exit::NOT_A_ZATO_COMPONENT,
            format!(
                "{} is neither a server directory nor a directory holding servers",
                path.display()
            ),
        ));
    }
    let mut envs = BTreeSet::new();
    for dir in servers {
        let cfg = ServerConfig::load(&dir).map_err(|e| CliError::failed(e.to_string()))?;
        let env = cfg.python.env_dir(&dir).ok_or_else(|| {
            CliError::failed(format!(
                "{} has no virtualenv: set `virtualenv = \"{SERVER_ENV}\"` under [python] in {}, then run this command again",
                dir.display(),
                zato_common::config::repo_dir(&dir).join("server.conf").display()
            ))
        })?;
        // Servers of a quickstart cluster share `../venv`: one install, under its real path.
        let env = std::fs::canonicalize(&env)
            .or_else(|_| std::path::absolute(&env))
            .unwrap_or(env);
        envs.insert(env);
    }
    Ok(envs)
}

/// `zato python install`: pip into every virtualenv the servers under PATH use.
pub fn install(args: InstallArgs) -> CliResult<()> {
    let mut packages: Vec<String> = Vec::new();
    if args.upstream {
        packages.extend(UPSTREAM_PACKAGES.iter().map(|p| p.to_string()));
    }
    packages.extend(args.packages);
    if packages.is_empty() {
        return Err(CliError::new(
            NO_OPTIONS,
            "name the packages to install, or give --upstream for the libraries upstream Zato ships",
        ));
    }
    if let Some(bad) = packages.iter().find(|p| p.starts_with('-')) {
        return Err(CliError::new(
            INVALID_INPUT,
            format!("`{bad}` is not a package; this command passes only package names to pip"),
        ));
    }
    for env in envs_of(&args.path)? {
        create(&env)?;
        let python = env.join("bin/python");
        let mut pip = if env.join("bin/pip").exists() {
            let mut c = Command::new(&python);
            c.args(["-m", "pip"]);
            c
        } else if Command::new(embedded_python()?)
            .args(["-m", "pip", "--python"])
            .arg(&python)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            // The base interpreter's pip installs into the virtualenv without copying pip there.
            let mut c = Command::new(embedded_python()?);
            c.args(["-m", "pip", "--python"]).arg(&python);
            c
        } else {
            // No pip on the base interpreter, or one older than 22.3 (no `--python`).
            run(
                Command::new(&python).args(["-m", "ensurepip", "--default-pip"]),
                &format!("bringing pip into {}", env.display()),
            )?;
            let mut c = Command::new(&python);
            c.args(["-m", "pip"]);
            c
        };
        println!("Installing into {}: {}", env.display(), packages.join(" "));
        pip.args(["install", "--disable-pip-version-check"]);
        if args.upgrade {
            pip.arg("--upgrade");
        }
        pip.arg("--").args(&packages);
        run(&mut pip, &format!("pip install into {}", env.display()))?;
    }
    println!("Done; services deployed from now on can import the packages, no restart needed");
    if args.upgrade {
        println!(
            "A package that services had already imported stays in its old version in running servers until they restart"
        );
    }
    Ok(())
}
