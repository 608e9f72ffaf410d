//! Creating an ODB, a cluster (with upstream's initial data) and a server directory: what
//! `zato create odb|cluster|server` and `zato quickstart create` do, and what tests use.
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use crate::config::{KvdbConfig, OdbConfig, repo_dir};
use crate::crypto::{SecretKey, WELL_KNOWN_DATA};
use crate::odb::channels::HttpSoapInput;
use crate::odb::security::{BASIC_AUTH, SecInput};
use crate::odb::services::Deployment;
use crate::odb::{Odb, OdbError, schema};

#[derive(Debug, Error)]
pub enum SetupError {
    #[error(transparent)]
    Odb(#[from] OdbError),
    #[error("cannot write `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("directory `{0}` is not empty, please choose a different one or empty it out")]
    NotEmpty(PathBuf),
    #[error("template error: {0}")]
    Template(#[from] minijinja::Error),
    #[error("no cluster named `{0}` in the ODB; create it first with `zato create cluster`")]
    NoCluster(String),
}

/// The cluster-wide initial data of `zato create cluster`.
pub struct ClusterSpec<'a> {
    pub name: &'a str,
    pub lb_host: &'a str,
    pub lb_port: u16,
    pub lb_agent_port: u16,
    pub admin_invoke_password: &'a str,
    pub pubapi_password: &'a str,
    /// Encrypts the passwords stored in the ODB; every server of the cluster has it.
    pub secret_key: &'a SecretKey,
}

pub const ADMIN_INVOKE_SEC: &str = "admin.invoke";
pub const ADMIN_INVOKE_REALM: &str = "Zato admin invoke";
pub const PUBAPI_SEC: &str = "pubapi";

/// This machine's name, as the kernel has it (`$HOSTNAME` is a shell variable, often not exported).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

fn user_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "zato".into())
}

/// Creates the schema (`zato create odb`).
pub async fn create_odb(odb: &Odb) -> Result<(), SetupError> {
    schema::create(odb, &host_name(), &user_name()).await?;
    Ok(())
}

/// Creates the cluster row, the `admin.invoke` and `pubapi` Basic Auth definitions, the
/// default channels `/zato/ping`, `/zato/admin/invoke` and `/zato/api/invoke/{service_name}`
/// and the built-in caches `default` and `zato.bearer.token`.
pub async fn create_cluster(odb: &Odb, spec: &ClusterSpec<'_>) -> Result<i64, SetupError> {
    schema::check(odb).await?;
    let cluster_id = odb
        .create_cluster(&crate::odb::cluster::NewCluster {
            name: spec.name,
            description: "Created by zato create cluster",
            odb_type: odb.engine().as_str(),
            lb_host: spec.lb_host,
            lb_port: spec.lb_port,
            lb_agent_port: spec.lb_agent_port,
        })
        .await?;
    let admin_id = odb
        .security_create(
            cluster_id,
            BASIC_AUTH,
            &SecInput {
                name: ADMIN_INVOKE_SEC.into(),
                username: ADMIN_INVOKE_SEC.into(),
                is_active: true,
                realm: ADMIN_INVOKE_REALM.into(),
                ..SecInput::default()
            },
            &spec.secret_key.encrypt_for_odb(spec.admin_invoke_password),
        )
        .await?;
    let pubapi_id = odb
        .security_create(
            cluster_id,
            BASIC_AUTH,
            &SecInput {
                name: PUBAPI_SEC.into(),
                username: PUBAPI_SEC.into(),
                is_active: true,
                realm: "Zato public API".into(),
                ..SecInput::default()
            },
            &spec.secret_key.encrypt_for_odb(spec.pubapi_password),
        )
        .await?;
    // Service rows for the services the default channels point to; servers add the rest.
    let internal = |name| Deployment {
        name,
        impl_name: name,
        is_internal: true,
        source: None,
        source_path: None,
        source_hash: None,
    };
    let ids = odb
        .ensure_services(
            cluster_id,
            &[
                internal("zato.ping"),
                internal("zato.service.invoke"),
                internal("pub.zato.service.service-invoker"),
                internal("zato.security.jwt.log-in"),
                internal("zato.security.jwt.log-out"),
            ],
        )
        .await?;
    let channel =
        |name: &str, url_path: &str, service: &str, security_id: Option<i64>| HttpSoapInput {
            name: name.to_string(),
            is_active: true,
            is_internal: true,
            connection: "channel".into(),
            transport: "plain_http".into(),
            host: None,
            url_path: url_path.to_string(),
            method: None,
            soap_action: None,
            soap_version: None,
            data_format: Some("json".into()),
            content_type: None,
            timeout: None,
            pool_size: None,
            validate_tls: true,
            merge_url_params_req: true,
            url_params_pri: Some("qs-over-path".into()),
            params_pri: Some("channel-params-over-msg".into()),
            security_id,
            service_id: ids.get(service).copied(),
        };
    for ch in [
        channel("zato.ping", "/zato/ping", "zato.ping", None),
        channel(
            "admin.invoke.json",
            "/zato/admin/invoke",
            "zato.service.invoke",
            Some(admin_id),
        ),
        channel(
            "pub.zato.service.service-invoker",
            "/zato/api/invoke/{service_name}",
            "pub.zato.service.service-invoker",
            Some(pubapi_id),
        ),
        // JWT clients log in and out here; their credentials (or token) are the request.
        channel(
            "zato.security.jwt.log-in",
            "/zato/jwt/log-in",
            "zato.security.jwt.log-in",
            None,
        ),
        channel(
            "zato.security.jwt.log-out",
            "/zato/jwt/log-out",
            "zato.security.jwt.log-out",
            None,
        ),
    ] {
        odb.http_soap_create(cluster_id, &ch).await?;
    }
    odb.add_default_caches(cluster_id).await?;
    Ok(cluster_id)
}

/// What goes into a new server directory.
pub struct ServerSpec<'a> {
    pub cluster_name: &'a str,
    pub server_name: &'a str,
    pub odb: &'a OdbConfig,
    /// Redis, when the cluster uses one.
    pub kvdb: Option<&'a KvdbConfig>,
    pub bind: &'a str,
    pub workers: u32,
    pub service_timeout: f64,
    pub return_tracebacks: bool,
    pub secret_key: &'a SecretKey,
    /// `[python] virtualenv`, relative to the server dir; "" for none.
    pub virtualenv: &'a str,
}

#[derive(Serialize)]
struct ComponentInfo<'a> {
    version: &'a str,
    created_user_host: String,
    created_ts: String,
    component: &'a str,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SetupError + '_ {
    move |source| SetupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Text safe inside a TOML basic string ("...") in a template.
fn toml_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn write(path: &Path, text: &str) -> Result<(), SetupError> {
    std::fs::write(path, text).map_err(io_err(path))
}

/// Writes a file only its owner may read (mode 0600 from the start).
fn write_private(path: &Path, text: &str) -> Result<(), SetupError> {
    crate::files::write_with_mode(path, text, 0o600).map_err(io_err(path))
}

/// Writes `.zato-info` into a component directory.
pub fn write_component_info(dir: &Path, component: &str) -> Result<(), SetupError> {
    let info = ComponentInfo {
        version: env!("CARGO_PKG_VERSION"),
        created_user_host: format!("{}@{}", user_name(), host_name()),
        created_ts: crate::time::utc_now_iso(),
        component,
    };
    let text = serde_json::to_string(&info).unwrap_or_default();
    write(&dir.join(".zato-info"), &text)
}

/// Fails unless `dir` is missing or empty (upstream tolerates `zato*config` files).
pub fn ensure_empty_dir(dir: &Path) -> Result<(), SetupError> {
    if dir.exists() {
        let entries = std::fs::read_dir(dir).map_err(io_err(dir))?;
        for e in entries {
            let e = e.map_err(io_err(dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !(name.starts_with("zato") && name.ends_with("config")) {
                return Err(SetupError::NotEmpty(dir.to_path_buf()));
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))
}

/// Creates a server directory and its `server` row (`zato create server`).
pub async fn create_server(
    odb: &Odb,
    dir: &Path,
    spec: &ServerSpec<'_>,
) -> Result<i64, SetupError> {
    let cluster = odb
        .cluster_by_name(spec.cluster_name)
        .await?
        .ok_or_else(|| SetupError::NoCluster(spec.cluster_name.to_string()))?;
    ensure_empty_dir(dir)?;
    let repo = repo_dir(dir);
    for sub in [
        repo.clone(),
        dir.join("logs"),
        dir.join("pickup/incoming/services"),
        dir.join("pickup/processed/services"),
        dir.join("work/hot-deploy/current"),
        dir.join("config/repo/user-conf"),
    ] {
        std::fs::create_dir_all(&sub).map_err(io_err(&sub))?;
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    let server_id = odb
        .create_server_row(cluster.id, spec.server_name, &token)
        .await?;

    let mut env = minijinja::Environment::new();
    env.add_template(
        "server.conf",
        include_str!("../../templates/server/server.conf"),
    )?;
    env.add_template(
        "secrets.conf",
        include_str!("../../templates/server/secrets.conf"),
    )?;
    let ctx = minijinja::context! {
        server_name => spec.server_name,
        cluster_name => spec.cluster_name,
        bind => spec.bind,
        workers => spec.workers,
        service_timeout => spec.service_timeout,
        return_tracebacks => if spec.return_tracebacks { "true" } else { "false" },
        virtualenv => toml_escape(spec.virtualenv),
        odb => minijinja::context! {
            engine => spec.odb.engine.as_str(),
            db_name => toml_escape(&spec.odb.db_name),
            host => spec.odb.host.as_str(),
            port => spec.odb.port,
            username => spec.odb.username.as_str(),
            pool_size => spec.odb.pool_size,
        },
        kvdb => spec.kvdb.filter(|k| k.is_configured()).map(|k| minijinja::context! {
            host => toml_escape(&k.host),
            port => k.port,
            db => k.db,
        }),
        kvdb_password => spec.secret_key.encrypt(spec.kvdb.map(|k| k.password.as_str()).unwrap_or("")),
        secret_key => spec.secret_key.as_text(),
        well_known_data => spec.secret_key.encrypt(WELL_KNOWN_DATA),
        token => spec.secret_key.encrypt(&token),
        odb_password => spec.secret_key.encrypt(&spec.odb.password),
    };
    write(
        &repo.join("server.conf"),
        &env.get_template("server.conf")?.render(&ctx)?,
    )?;
    let secrets = repo.join("secrets.conf");
    write_private(&secrets, &env.get_template("secrets.conf")?.render(&ctx)?)?;
    let demo = dir.join("pickup/incoming/services/demo.py");
    write(&demo, include_str!("../../templates/server/demo.py"))?;
    write_component_info(dir, "SERVER")?;
    Ok(server_id)
}

pub struct SchedulerSpec<'a> {
    pub cluster_name: &'a str,
    pub odb: &'a OdbConfig,
    pub bind: &'a str,
    /// The cluster's key: the scheduler decrypts the admin API's credentials with it.
    pub secret_key: &'a SecretKey,
}

/// Creates a scheduler directory (`zato create scheduler`); the cluster must exist.
pub async fn create_scheduler(
    odb: &Odb,
    dir: &Path,
    spec: &SchedulerSpec<'_>,
) -> Result<(), SetupError> {
    odb.cluster_by_name(spec.cluster_name)
        .await?
        .ok_or_else(|| SetupError::NoCluster(spec.cluster_name.to_string()))?;
    ensure_empty_dir(dir)?;
    let repo = repo_dir(dir);
    for sub in [repo.clone(), dir.join("logs")] {
        std::fs::create_dir_all(&sub).map_err(io_err(&sub))?;
    }
    let mut env = minijinja::Environment::new();
    env.add_template(
        "scheduler.conf",
        include_str!("../../templates/scheduler/scheduler.conf"),
    )?;
    env.add_template(
        "secrets.conf",
        include_str!("../../templates/scheduler/secrets.conf"),
    )?;
    let ctx = minijinja::context! {
        cluster_name => toml_escape(spec.cluster_name),
        bind => toml_escape(spec.bind),
        odb => minijinja::context! {
            engine => spec.odb.engine.as_str(),
            db_name => toml_escape(&spec.odb.db_name),
            host => toml_escape(&spec.odb.host),
            port => spec.odb.port,
            username => toml_escape(&spec.odb.username),
        },
        secret_key => spec.secret_key.as_text(),
        well_known_data => spec.secret_key.encrypt(WELL_KNOWN_DATA),
        odb_password => spec.secret_key.encrypt(&spec.odb.password),
    };
    write(
        &repo.join("scheduler.conf"),
        &env.get_template("scheduler.conf")?.render(&ctx)?,
    )?;
    write_private(
        &repo.join("secrets.conf"),
        &env.get_template("secrets.conf")?.render(&ctx)?,
    )?;
    write_component_info(dir, "SCHEDULER")
}

pub struct WebAdminSpec<'a> {
    pub cluster_name: &'a str,
    pub bind: &'a str,
    /// The cluster's admin API through the load balancer, `http://host:port`.
    pub lb_address: &'a str,
    pub admin_invoke_password: &'a str,
    /// The load balancer agent's address, when the web admin has a certificate for it.
    pub lb_agent: Option<&'a str>,
    /// Serve HTTPS with `web-admin-cert.pem` (installed by the caller).
    pub tls: bool,
    pub marker_color: &'a str,
    pub marker_label: &'a str,
}

/// Writes a web admin's `web-admin.conf` and `secrets.conf` (its own Fernet key) and
/// `.zato-info` into `dir`, which must be empty; users are added by the caller.
pub fn create_web_admin(dir: &Path, spec: &WebAdminSpec<'_>) -> Result<(), SetupError> {
    ensure_empty_dir(dir)?;
    let repo = repo_dir(dir);
    for sub in [repo.clone(), dir.join("logs")] {
        std::fs::create_dir_all(&sub).map_err(io_err(&sub))?;
    }
    let key = SecretKey::generate();
    let mut env = minijinja::Environment::new();
    env.add_template(
        "web-admin.conf",
        include_str!("../../templates/web-admin/web-admin.conf"),
    )?;
    env.add_template(
        "secrets.conf",
        include_str!("../../templates/web-admin/secrets.conf"),
    )?;
    let ctx = minijinja::context! {
        cluster_name => toml_escape(spec.cluster_name),
        bind => toml_escape(spec.bind),
        lb_address => toml_escape(spec.lb_address),
        lb_agent => spec.lb_agent.map(toml_escape),
        tls => spec.tls,
        marker_color => toml_escape(spec.marker_color),
        marker_label => toml_escape(spec.marker_label),
        secret_key => key.as_text(),
        well_known_data => key.encrypt(WELL_KNOWN_DATA),
        admin_invoke_password => key.encrypt(spec.admin_invoke_password),
    };
    write(
        &repo.join("web-admin.conf"),
        &env.get_template("web-admin.conf")?.render(&ctx)?,
    )?;
    write_private(
        &repo.join("secrets.conf"),
        &env.get_template("secrets.conf")?.render(&ctx)?,
    )?;
    write_component_info(dir, "WEB_ADMIN")
}
