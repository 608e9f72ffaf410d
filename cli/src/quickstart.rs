//! `zato quickstart create PATH`: a whole cluster in one directory — CA, ODB, servers and the
//! management scripts — laid out as upstream's (facts §1.4).
use std::path::{Path, PathBuf};

use clap::Args;
use zato_ca::{Purpose, Subject};
use zato_common::config::{KvdbConfig, OdbConfig};
use zato_common::crypto::SecretKey;
use zato_common::odb::{Odb, schema};
use zato_common::setup::{self, ClusterSpec, ServerSpec};

use crate::create::{KvdbArgs, OdbArgs};
use crate::exit::{CONFLICTING_OPTIONS, CliError, CliResult, DIR_NOT_EMPTY, INVALID_INPUT};

/// The first server's port; server N listens on `FIRST_PORT + N - 1`, as upstream.
pub const FIRST_PORT: u16 = 17010;

/// The scheduler's port, as upstream's.
pub const SCHEDULER_PORT: u16 = 31530;

#[derive(Args, Debug)]
pub struct QuickstartArgs {
    /// Directory for the whole cluster (created when missing; must be empty).
    pub path: PathBuf,
    /// The article's positional forms: `sqlite KVDB_HOST KVDB_PORT` or
    /// `ODB_TYPE ODB_HOST ODB_PORT ODB_USER ODB_DB_NAME KVDB_HOST KVDB_PORT`.
    #[arg(value_name = "LEGACY", num_args = 0..)]
    pub legacy: Vec<String>,
    #[command(flatten)]
    pub odb: OdbArgs,
    #[command(flatten)]
    pub kvdb: KvdbArgs,
    /// How many servers to create.
    #[arg(long, default_value_t = 2)]
    pub servers: u16,
    /// Port of server1; server N listens on this + N - 1.
    #[arg(long, default_value_t = FIRST_PORT)]
    pub http_port: u16,
    /// Default: quickstart-<random number>.
    #[arg(long)]
    pub cluster_name: Option<String>,
    /// The load balancer's frontend port.
    #[arg(long, default_value_t = 11223)]
    pub lb_port: u16,
    /// The load balancer agent's port (HTTPS with client certificates).
    #[arg(long, default_value_t = 20151)]
    pub lb_agent_port: u16,
    /// The load balancer serves HTTPS, with a certificate for this host name issued by the
    /// cluster's CA (localhost and 127.0.0.1 are always in it too).
    #[arg(long)]
    pub lb_tls_host: Option<String>,
    /// Do not create a scheduler.
    #[arg(long)]
    pub no_scheduler: bool,
    /// Where the scheduler answers GET /zato/ping.
    #[arg(long, default_value_t = SCHEDULER_PORT)]
    pub scheduler_port: u16,
    /// The web admin's port (on 127.0.0.1).
    #[arg(long, default_value_t = crate::web_admin::PORT)]
    pub web_admin_port: u16,
    /// Do not create a web admin.
    #[arg(long)]
    pub no_web_admin: bool,
    /// The Fernet key all servers share (generated when not given).
    #[arg(long, env = "ZATO_SECRET_KEY", allow_hyphen_values = true)]
    pub secret_key: Option<String>,
    /// Start the cluster once it is created.
    #[arg(long)]
    pub start: bool,
}

impl QuickstartArgs {
    /// Folds the article's positional forms into the options; mixing both is an error.
    fn apply_legacy(&mut self) -> CliResult<()> {
        let words = std::mem::take(&mut self.legacy);
        if words.is_empty() {
            return Ok(());
        }
        let usage = "expected `sqlite KVDB_HOST KVDB_PORT` or `ODB_TYPE ODB_HOST ODB_PORT ODB_USER ODB_DB_NAME KVDB_HOST KVDB_PORT` after PATH";
        let given_as_options = self.odb.odb_type != "sqlite"
            || !self.odb.odb_host.is_empty()
            || self.kvdb.kvdb_host.is_some();
        if given_as_options {
            return Err(CliError::new(
                CONFLICTING_OPTIONS,
                "give the ODB and KVDB either as positional words or as --odb-*/--kvdb-* options, not both",
            ));
        }
        let port = |text: &str, what: &str| {
            text.parse::<u16>().map_err(|_| {
                CliError::new(
                    INVALID_INPUT,
                    format!("{what} must be a port number, not `{text}`; {usage}"),
                )
            })
        };
        match words.as_slice() {
            [odb_type, kvdb_host, kvdb_port] if odb_type == "sqlite" => {
                self.kvdb.kvdb_host = Some(kvdb_host.clone());
                self.kvdb.kvdb_port = port(kvdb_port, "KVDB_PORT")?;
            }
            [
                odb_type,
                host,
                odb_port,
                user,
                db_name,
                kvdb_host,
                kvdb_port,
            ] => {
                self.odb.odb_type = odb_type.clone();
                self.odb.odb_host = host.clone();
                self.odb.odb_port = port(odb_port, "ODB_PORT")?;
                self.odb.odb_user = user.clone();
                self.odb.odb_db_name = db_name.clone();
                self.kvdb.kvdb_host = Some(kvdb_host.clone());
                self.kvdb.kvdb_port = port(kvdb_port, "KVDB_PORT")?;
            }
            other => {
                return Err(CliError::new(
                    INVALID_INPUT,
                    format!("unexpected arguments {other:?}: {usage}"),
                ));
            }
        }
        Ok(())
    }
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::failed(e.to_string())
}

/// `'text'` for a shell script.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn valid_cluster_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Prints `[k/N] what` lines.
struct Steps {
    done: usize,
    total: usize,
}

impl Steps {
    fn done(&mut self, what: &str) {
        self.done += 1;
        println!("[{}/{}] {what}", self.done, self.total);
    }
}

pub async fn run(mut args: QuickstartArgs) -> CliResult<()> {
    args.apply_legacy()?;
    if args.servers == 0 {
        return Err(CliError::new(INVALID_INPUT, "--servers must be at least 1"));
    }
    let base = std::path::absolute(&args.path).map_err(failed)?;
    let cluster_name = args
        .cluster_name
        .clone()
        .unwrap_or_else(|| format!("quickstart-{}", fastrand::u32(..1 << 20)));
    if !valid_cluster_name(&cluster_name) {
        return Err(CliError::new(
            INVALID_INPUT,
            format!(
                "cluster name `{cluster_name}` may only hold letters, digits, `-`, `_` and `.`"
            ),
        ));
    }
    let secret_key = match &args.secret_key {
        Some(text) => SecretKey::from_text(text)
            .map_err(|e| CliError::new(INVALID_INPUT, format!("--secret-key: {e}")))?,
        None => SecretKey::generate(),
    };
    if args.odb.is_sqlite() && args.odb.odb_db_name.is_empty() {
        args.odb.odb_db_name = base.join("zato.db").to_string_lossy().into_owned();
    }
    args.odb.resolve_password()?;
    let odb_cfg = args
        .odb
        .config()
        .map_err(|e| CliError::new(INVALID_INPUT, format!("{e:#}")))?;
    let kvdb = args.kvdb.config()?;

    // Everything that can be checked is checked before anything is written; a failed check
    // leaves no directory behind.
    let created_dir = !base.exists();
    setup::ensure_empty_dir(&base).map_err(|e| match e {
        setup::SetupError::NotEmpty(_) => CliError::new(DIR_NOT_EMPTY, e.to_string()),
        other => failed(other),
    })?;
    let cleanup = |e: CliError| {
        if created_dir {
            let _ = std::fs::remove_dir_all(&base);
        }
        e
    };
    if let Some(k) = &kvdb {
        zato_common::kvdb::ping(k, std::time::Duration::from_secs(5))
            .await
            .map_err(|e| {
                failed(format!(
                    "{e}; check --kvdb-host/--kvdb-port/--kvdb-password"
                ))
            })
            .map_err(cleanup)?;
    }
    let odb = Odb::connect(&odb_cfg)
        .await
        .map_err(|e| failed(format!("{e}; check the --odb-* options")))
        .map_err(cleanup)?;
    let result = build(
        &args,
        &base,
        &cluster_name,
        &secret_key,
        &odb,
        &odb_cfg,
        kvdb.as_ref(),
    )
    .await;
    odb.close().await;
    result.map_err(cleanup)?;

    println!("Quickstart cluster {cluster_name} created");
    let start = base.join("zato-qs-start.sh");
    if args.start {
        let status = std::process::Command::new("bash")
            .arg(&start)
            .status()
            .map_err(|e| failed(format!("cannot run {}: {e}", start.display())))?;
        if !status.success() {
            return Err(CliError::new(
                crate::exit::FAILED_TO_START,
                format!("{} failed ({status})", start.display()),
            ));
        }
    } else {
        println!(
            "Start the cluster by issuing this command: {}",
            start.display()
        );
    }
    Ok(())
}

async fn build(
    args: &QuickstartArgs,
    base: &Path,
    cluster_name: &str,
    secret_key: &SecretKey,
    odb: &Odb,
    odb_cfg: &OdbConfig,
    kvdb: Option<&KvdbConfig>,
) -> CliResult<()> {
    let existing = schema::installed_version(odb).await.map_err(failed)?;
    if existing.is_some() {
        let clusters = odb.cluster_names().await.map_err(failed)?;
        if !clusters.is_empty() {
            return Err(CliError::new(
                crate::exit::ODB_EXISTS,
                format!(
                    "the ODB already holds cluster(s) {}; use an empty database, or remove its Zato tables with `zato delete odb`",
                    clusters.join(", ")
                ),
            ));
        }
    }
    let scheduler = !args.no_scheduler;
    let web_admin = !args.no_web_admin;
    let mut steps = Steps {
        done: 0,
        total: 6 + usize::from(args.servers) + usize::from(scheduler) + usize::from(web_admin),
    };

    let ca_dir = base.join("ca");
    zato_ca::create_ca(&ca_dir, &Subject::default()).map_err(failed)?;
    steps.done("Certificate authority created");

    match existing {
        None => {
            setup::create_odb(odb).await.map_err(failed)?;
            steps.done("ODB schema created");
        }
        Some(_) => steps.done("ODB schema already exists"),
    }

    let admin_invoke_password = format!("admin.invoke.{}", uuid::Uuid::new_v4().simple());
    setup::create_cluster(
        odb,
        &ClusterSpec {
            name: cluster_name,
            lb_host: "127.0.0.1",
            lb_port: args.lb_port,
            lb_agent_port: args.lb_agent_port,
            admin_invoke_password: &admin_invoke_password,
            pubapi_password: &uuid::Uuid::new_v4().simple().to_string(),
            secret_key,
        },
    )
    .await
    .map_err(failed)?;
    steps.done("ODB initial data created");

    let servers: Vec<String> = (1..=args.servers).map(|n| format!("server{n}")).collect();
    for (i, name) in servers.iter().enumerate() {
        let dir = base.join(name);
        let port = u16::try_from(i)
            .ok()
            .and_then(|i| args.http_port.checked_add(i))
            .ok_or_else(|| CliError::new(INVALID_INPUT, "too many servers for the port range"))?;
        setup::create_server(
            odb,
            &dir,
            &ServerSpec {
                cluster_name,
                server_name: name,
                odb: odb_cfg,
                kvdb,
                bind: &format!("127.0.0.1:{port}"),
                workers: 1,
                service_timeout: 60.0,
                return_tracebacks: true,
                secret_key,
                virtualenv: crate::pyenv::QUICKSTART_ENV,
            },
        )
        .await
        .map_err(failed)?;
        let subject = Subject {
            organizational_unit: format!("{cluster_name}:{name}"),
            ..Subject::default()
        };
        let issued = zato_ca::issue(&ca_dir, Purpose::Server, &subject).map_err(failed)?;
        zato_ca::install(&issued, &zato_common::config::repo_dir(&dir), "zato-server")
            .map_err(failed)?;
        steps.done(&format!("{name} created"));
    }

    let members: Vec<(String, String)> = servers
        .iter()
        .zip(args.http_port..)
        .map(|(name, port)| (name.clone(), format!("127.0.0.1:{port}")))
        .collect();
    crate::create::load_balancer(
        &base.join("load-balancer"),
        &ca_dir,
        &format!("0.0.0.0:{}", args.lb_port),
        &format!("127.0.0.1:{}", args.lb_agent_port),
        &members,
        args.lb_tls_host.as_deref(),
    )?;
    steps.done("Load-balancer created");

    if scheduler {
        setup::create_scheduler(
            odb,
            &base.join("scheduler"),
            &setup::SchedulerSpec {
                cluster_name,
                odb: odb_cfg,
                bind: &format!("127.0.0.1:{}", args.scheduler_port),
                secret_key,
            },
        )
        .await
        .map_err(failed)?;
        steps.done("Scheduler created");
    }

    let web_admin_password = if web_admin {
        let password = crate::web_admin::create(
            &base.join("web-admin"),
            &crate::web_admin::Options {
                cluster_name,
                bind: &format!("127.0.0.1:{}", args.web_admin_port),
                lb_address: &format!("http://127.0.0.1:{}", args.lb_port),
                admin_invoke_password: &admin_invoke_password,
                ca_dir: Some(&ca_dir),
                lb_agent: Some(&format!("127.0.0.1:{}", args.lb_agent_port)),
                tls: false,
                marker_color: "",
                marker_label: "",
            },
        )?;
        steps.done("Web admin created");
        Some(password)
    } else {
        None
    };

    crate::pyenv::create(&base.join("venv"))?;
    steps.done("Python virtualenv created (add packages with `zato python install`)");

    write_scripts(
        base,
        cluster_name,
        &servers,
        kvdb.is_some(),
        scheduler,
        web_admin,
    )?;
    steps.done("Management scripts created");
    if let Some(password) = web_admin_password {
        println!("{}", crate::web_admin::credentials_line(&password));
    }
    Ok(())
}

fn write_scripts(
    base: &Path,
    cluster_name: &str,
    servers: &[String],
    has_kvdb: bool,
    scheduler: bool,
    web_admin: bool,
) -> CliResult<()> {
    let zato_bin = std::env::current_exe()
        .map_err(|e| failed(format!("cannot find the zato executable: {e}")))?;
    let mut env = minijinja::Environment::new();
    for (name, text) in [
        (
            "zato-qs-start.sh",
            include_str!("../../templates/quickstart/zato-qs-start.sh"),
        ),
        (
            "zato-qs-stop.sh",
            include_str!("../../templates/quickstart/zato-qs-stop.sh"),
        ),
        (
            "zato-qs-restart.sh",
            include_str!("../../templates/quickstart/zato-qs-restart.sh"),
        ),
    ] {
        env.add_template(name, text).map_err(failed)?;
    }
    let ctx = minijinja::context! {
        zato_bin => shell_quote(&zato_bin.to_string_lossy()),
        cluster_name => shell_quote(cluster_name),
        servers => servers.to_vec(),
        kvdb => has_kvdb,
        lb => true,
        scheduler => scheduler,
        web_admin => web_admin,
        start_steps => 3 + usize::from(has_kvdb) + servers.len() + usize::from(scheduler) + usize::from(web_admin),
        stop_steps => 1 + servers.len() + usize::from(scheduler) + usize::from(web_admin),
    };
    for name in ["zato-qs-start.sh", "zato-qs-stop.sh", "zato-qs-restart.sh"] {
        let text = env
            .get_template(name)
            .and_then(|t| t.render(&ctx))
            .map_err(failed)?;
        let path = base.join(name);
        std::fs::write(&path, text)
            .map_err(|e| failed(format!("cannot write {}: {e}", path.display())))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o740))
            .map_err(|e| failed(format!("cannot chmod {}: {e}", path.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> QuickstartArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            qs: QuickstartArgs,
        }
        let mut argv = vec!["qs"];
        argv.extend_from_slice(words);
        Wrap::try_parse_from(argv)
            .unwrap_or_else(|e| panic!("{e}"))
            .qs
    }

    #[test]
    fn article_forms_become_options() {
        let mut a = args(&[
            "/opt/qs-1",
            "postgresql",
            "localhost",
            "5432",
            "zato1",
            "zato1",
            "localhost",
            "6379",
        ]);
        a.apply_legacy().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.odb.odb_type, "postgresql");
        assert_eq!(a.odb.odb_port, 5432);
        assert_eq!(a.odb.odb_user, "zato1");
        assert_eq!(a.odb.odb_db_name, "zato1");
        assert_eq!(a.kvdb.kvdb_host.as_deref(), Some("localhost"));
        assert_eq!(a.kvdb.kvdb_port, 6379);

        let mut a = args(&["/opt/qs-1", "sqlite", "localhost", "6380"]);
        a.apply_legacy().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.odb.odb_type, "sqlite");
        assert_eq!(a.kvdb.kvdb_port, 6380);

        let mut a = args(&["/opt/qs-1", "sqlite", "localhost"]);
        assert_eq!(
            a.apply_legacy().map_err(|e| e.code).err(),
            Some(INVALID_INPUT)
        );
        let mut a = args(&["/opt/qs-1", "sqlite", "localhost", "x"]);
        assert_eq!(
            a.apply_legacy().map_err(|e| e.code).err(),
            Some(INVALID_INPUT)
        );
        let mut a = args(&["/opt/qs-1", "sqlite", "h", "1", "--kvdb-host", "h"]);
        assert_eq!(
            a.apply_legacy().map_err(|e| e.code).err(),
            Some(CONFLICTING_OPTIONS)
        );
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("a'b c"), "'a'\\''b c'");
        assert!(valid_cluster_name("quickstart-12.a_b"));
        assert!(!valid_cluster_name("a b"));
        assert!(!valid_cluster_name("a;rm"));
    }
}
