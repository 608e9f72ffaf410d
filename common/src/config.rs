//! The one config loader: component config files are TOML (`config/repo/server.conf`), with
//! secrets referenced as `zato+secret://zato.<path>` and kept Fernet-encrypted in
//! `config/repo/secrets.conf`.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::crypto::{CONFIG_SECRET_PREFIX, CryptoError, SecretKey, WELL_KNOWN_DATA};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}` is not valid TOML: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("`{path}`: secret `{key}` is referenced but not present in secrets.conf")]
    MissingSecret { path: PathBuf, key: String },
    #[error("`{path}`: {source}")]
    Crypto { path: PathBuf, source: CryptoError },
    #[error("`{path}`: no `[secret_keys] key1` entry; every component needs its Fernet key")]
    NoKey { path: PathBuf },
    #[error("`{path}`: invalid value: {detail}")]
    Invalid { path: PathBuf, detail: String },
}

/// The longest time a config value may name: a year. Longer ones overflow timers and dates.
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// What is wrong with `v` as a number of seconds for `what`, if anything.
pub fn seconds_problem(what: &str, v: f64) -> Option<String> {
    (!v.is_finite() || v <= 0.0 || v > MAX_SECONDS).then(|| {
        format!(
            "{what} must be a number of seconds above 0 and at most {MAX_SECONDS} (a year), not {v}"
        )
    })
}

/// Which ODB backend a component talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OdbEngine {
    Sqlite,
    Postgresql,
    Mysql,
}

impl OdbEngine {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sqlite" => Some(Self::Sqlite),
            "postgresql" | "postgres" | "postgresql+pg8000" => Some(Self::Postgresql),
            "mysql" | "mariadb" | "mysql+pymysql" => Some(Self::Mysql),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgresql => "postgresql",
            Self::Mysql => "mysql",
        }
    }
}

/// How to reach the ODB. For SQLite `db_name` is the database file path.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OdbConfig {
    pub engine: OdbEngine,
    #[serde(default)]
    pub db_name: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub port: u16,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
}

fn default_pool_size() -> u32 {
    10
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerMain {
    pub name: String,
    pub cluster_name: String,
    #[serde(default = "default_bind")]
    pub bind: String,
    #[serde(default = "default_workers")]
    pub workers: u32,
    pub token: String,
    /// Seconds a service may run before the caller gets 504.
    #[serde(default = "default_timeout")]
    pub service_timeout: f64,
    #[serde(default = "default_max_request")]
    pub max_request_size: usize,
    /// Largest response body an outgoing REST/SOAP connection reads.
    #[serde(default = "default_max_response")]
    pub max_response_size: usize,
    /// Interpreter threads per worker process (each keeps one Python thread state for life).
    #[serde(default = "default_python_threads")]
    pub python_threads: usize,
    /// Requests that may wait for an interpreter thread; more get 503 at once.
    #[serde(default = "default_python_queue_size")]
    pub python_queue_size: usize,
    /// Seconds a client has to send a request's head, also the idle time of a kept-alive
    /// connection between requests.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout: f64,
    /// Seconds a client has to send a request's body once its head came.
    #[serde(default = "default_body_read_timeout")]
    pub body_read_timeout: f64,
    /// Client connections open at once per worker process; more wait in the kernel's
    /// backlog. Lowered at start to what the process's file limit can hold.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

fn default_python_queue_size() -> usize {
    1000
}
fn default_header_read_timeout() -> f64 {
    30.0
}
fn default_body_read_timeout() -> f64 {
    60.0
}
fn default_max_connections() -> usize {
    10_000
}

fn default_bind() -> String {
    "0.0.0.0:17010".into()
}
fn default_workers() -> u32 {
    1
}
fn default_timeout() -> f64 {
    60.0
}
fn default_max_request() -> usize {
    10 * 1024 * 1024
}
fn default_max_response() -> usize {
    64 * 1024 * 1024
}
fn default_python_threads() -> usize {
    4
}

#[derive(Debug, Clone, Deserialize)]
pub struct HotDeploy {
    #[serde(default = "default_pickup")]
    pub pickup_dir: String,
    /// Milliseconds a file must stay unchanged before it is picked up.
    #[serde(default = "default_debounce")]
    pub debounce_ms: u64,
    /// Largest file (bytes) deployed from the pickup dir or an upload.
    #[serde(default = "default_max_package_size")]
    pub max_package_size: usize,
}

impl Default for HotDeploy {
    fn default() -> Self {
        Self {
            pickup_dir: default_pickup(),
            debounce_ms: default_debounce(),
            max_package_size: default_max_package_size(),
        }
    }
}

fn default_max_package_size() -> usize {
    5 * 1024 * 1024
}

fn default_pickup() -> String {
    "../../pickup/incoming/services".into()
}
fn default_debounce() -> u64 {
    100
}

/// `[stats]`: per-service statistics and Prometheus metrics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsConfig {
    /// Whether calls are counted and timed at all (statistics, samples, `/zato/metrics`).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Seconds between writes of what was counted to the ODB.
    #[serde(default = "default_flush_interval")]
    pub flush_interval: f64,
    /// Whether `GET /zato/metrics` answers on the server's port.
    #[serde(default = "yes")]
    pub metrics: bool,
    /// Sampled and slow request/response pairs kept per service, of each kind.
    #[serde(default = "default_keep_samples")]
    pub keep_samples: u32,
}

impl Default for StatsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            flush_interval: default_flush_interval(),
            metrics: true,
            keep_samples: default_keep_samples(),
        }
    }
}

fn default_flush_interval() -> f64 {
    1.0
}
fn default_keep_samples() -> u32 {
    50
}

#[derive(Debug, Clone, Deserialize)]
pub struct Misc {
    #[serde(default = "yes")]
    pub return_tracebacks: bool,
    #[serde(default = "default_error_message")]
    pub default_error_message: String,
    /// Channels through which `/zato/api/invoke/{service_name}` may reach `zato*` services.
    #[serde(default = "default_allow_internal")]
    pub service_invoker_allow_internal: Vec<String>,
}

impl Default for Misc {
    fn default() -> Self {
        Self {
            return_tracebacks: true,
            default_error_message: default_error_message(),
            service_invoker_allow_internal: default_allow_internal(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_error_message() -> String {
    "An error has occurred".into()
}
fn default_allow_internal() -> Vec<String> {
    vec![
        "pub.zato.ping".into(),
        "/zato/api/invoke/{service_name}".into(),
    ]
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PythonConfig {
    /// A virtualenv whose site-packages services may import from; relative to the server dir.
    #[serde(default)]
    pub virtualenv: String,
}

impl PythonConfig {
    /// The virtualenv's directory, if one is configured (a relative path is under `server_dir`).
    pub fn env_dir(&self, server_dir: &Path) -> Option<PathBuf> {
        let v = self.virtualenv.trim();
        (!v.is_empty()).then(|| server_dir.join(v))
    }
}

/// The optional Redis connection (`[kvdb]`); an empty host means none is configured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KvdbConfig {
    #[serde(default)]
    pub host: String,
    #[serde(default = "default_redis_port")]
    pub port: u16,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub db: u32,
}

fn default_redis_port() -> u16 {
    6379
}

impl KvdbConfig {
    pub fn is_configured(&self) -> bool {
        !self.host.is_empty()
    }
}

#[derive(Debug, Clone, Deserialize)]
struct ServerConfFile {
    main: ServerMain,
    odb: OdbConfig,
    #[serde(default)]
    kvdb: KvdbConfig,
    #[serde(default)]
    hot_deploy: HotDeploy,
    #[serde(default)]
    misc: Misc,
    #[serde(default)]
    python: PythonConfig,
    #[serde(default)]
    stats: StatsConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct SecretsFile {
    #[serde(default)]
    secret_keys: BTreeMap<String, String>,
    #[serde(default)]
    zato: BTreeMap<String, String>,
}

/// A server's configuration with every secret already decrypted and every path absolute.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub dir: PathBuf,
    pub main: ServerMain,
    pub odb: OdbConfig,
    pub kvdb: KvdbConfig,
    pub hot_deploy: HotDeploy,
    pub misc: Misc,
    pub python: PythonConfig,
    pub stats: StatsConfig,
    pub secret_key: SecretKey,
    pub pickup_dir: PathBuf,
}

/// Removes `.` and `..` lexically, so logs show `/srv/server1/pickup` rather than
/// `/srv/server1/config/repo/../../pickup`.
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub fn repo_dir(component_dir: &Path) -> PathBuf {
    component_dir.join("config").join("repo")
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    toml::from_str(&read(path)?).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}

/// Loads `secrets.conf` and checks the key against `well_known_data`.
fn load_secrets(path: &Path) -> Result<(SecretKey, BTreeMap<String, String>), ConfigError> {
    let file: SecretsFile = parse(path)?;
    let key_text = file
        .secret_keys
        .get("key1")
        .ok_or_else(|| ConfigError::NoKey {
            path: path.to_path_buf(),
        })?;
    let key = SecretKey::from_text(key_text).map_err(|source| ConfigError::Crypto {
        path: path.to_path_buf(),
        source,
    })?;
    if let Some(wk) = file.zato.get("well_known_data") {
        let plain = key.decrypt(wk).map_err(|source| ConfigError::Crypto {
            path: path.to_path_buf(),
            source,
        })?;
        if plain != WELL_KNOWN_DATA {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                detail: "well_known_data does not match: wrong secret key".into(),
            });
        }
    }
    Ok((key, file.zato))
}

fn resolve_secret(
    value: &str,
    key: &SecretKey,
    secrets: &BTreeMap<String, String>,
    path: &Path,
) -> Result<String, ConfigError> {
    let Some(name) = value.strip_prefix(CONFIG_SECRET_PREFIX) else {
        return Ok(value.to_string());
    };
    let token = secrets
        .get(name)
        .ok_or_else(|| ConfigError::MissingSecret {
            path: path.to_path_buf(),
            key: name.to_string(),
        })?;
    key.decrypt(token).map_err(|source| ConfigError::Crypto {
        path: path.to_path_buf(),
        source,
    })
}

/// `[odb]` as a component uses it: the password decrypted, a relative SQLite file taken from
/// the config directory (`conf_path`'s).
fn resolve_odb(
    odb: &mut OdbConfig,
    key: &SecretKey,
    secrets: &BTreeMap<String, String>,
    conf_path: &Path,
) -> Result<(), ConfigError> {
    odb.password = resolve_secret(&odb.password, key, secrets, conf_path)?;
    if odb.engine == OdbEngine::Sqlite && Path::new(&odb.db_name).is_relative() {
        let repo = conf_path.parent().unwrap_or(Path::new("."));
        odb.db_name = normalize(&repo.join(&odb.db_name))
            .to_string_lossy()
            .into_owned();
    }
    Ok(())
}

impl ServerConfig {
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let dir = std::path::absolute(dir).map_err(|source| ConfigError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let repo = repo_dir(&dir);
        let conf_path = repo.join("server.conf");
        let mut conf: ServerConfFile = parse(&conf_path)?;
        let (secret_key, secrets) = load_secrets(&repo.join("secrets.conf"))?;
        conf.main.token = resolve_secret(&conf.main.token, &secret_key, &secrets, &conf_path)?;
        resolve_odb(&mut conf.odb, &secret_key, &secrets, &conf_path)?;
        conf.kvdb.password =
            resolve_secret(&conf.kvdb.password, &secret_key, &secrets, &conf_path)?;
        if conf.main.workers == 0 || conf.main.python_threads == 0 {
            return Err(ConfigError::Invalid {
                path: conf_path,
                detail: "[main] workers and python_threads must be at least 1".into(),
            });
        }
        let m = &conf.main;
        let problems: Vec<String> = [
            ("[main] service_timeout", m.service_timeout),
            ("[main] header_read_timeout", m.header_read_timeout),
            ("[main] body_read_timeout", m.body_read_timeout),
        ]
        .into_iter()
        .chain([("[stats] flush_interval", conf.stats.flush_interval)])
        .filter_map(|(what, v)| seconds_problem(what, v))
        .chain((m.max_connections == 0).then(|| "[main] max_connections must be at least 1".into()))
        .chain(
            (m.max_request_size == 0).then(|| "[main] max_request_size must be at least 1".into()),
        )
        .collect();
        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                path: conf_path,
                detail: problems.join("; "),
            });
        }
        let pickup_dir = normalize(&repo.join(&conf.hot_deploy.pickup_dir));
        Ok(Self {
            dir,
            main: conf.main,
            odb: conf.odb,
            kvdb: conf.kvdb,
            hot_deploy: conf.hot_deploy,
            misc: conf.misc,
            python: conf.python,
            stats: conf.stats,
            secret_key,
            pickup_dir,
        })
    }
}

/// What a scheduler does with runs missed while no scheduler of the cluster was active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissedRuns {
    /// The latest missed run of each job runs once, at once.
    #[default]
    Once,
    /// Missed runs are skipped; jobs go on from their next planned run.
    Skip,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SchedulerMain {
    pub cluster_name: String,
    /// Where the scheduler answers `GET /zato/ping` (its state: active or standby).
    #[serde(default = "default_scheduler_bind")]
    pub bind: String,
    #[serde(default)]
    pub missed_runs: MissedRuns,
    /// Seconds an active scheduler's lease lasts without renewal; a standby takes over after.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u64,
}

fn default_scheduler_bind() -> String {
    "127.0.0.1:31530".into()
}

fn default_lease_seconds() -> u64 {
    3
}

#[derive(Debug, Clone, Deserialize)]
struct SchedulerConfFile {
    main: SchedulerMain,
    odb: OdbConfig,
    #[serde(default)]
    startup_jobs: Vec<toml::Table>,
}

/// A scheduler's configuration (`config/repo/scheduler.conf` + `secrets.conf`), secrets
/// decrypted and paths absolute.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub dir: PathBuf,
    pub main: SchedulerMain,
    pub odb: OdbConfig,
    pub secret_key: SecretKey,
    /// `[[startup_jobs]]`: jobs created when the scheduler becomes active, unless the cluster
    /// has a job of that name already (`zato.scheduler.job.create` input, as JSON).
    pub startup_jobs: Vec<serde_json::Value>,
}

impl SchedulerConfig {
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let dir = std::path::absolute(dir).map_err(|source| ConfigError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let repo = repo_dir(&dir);
        let conf_path = repo.join("scheduler.conf");
        let mut conf: SchedulerConfFile = parse(&conf_path)?;
        let (secret_key, secrets) = load_secrets(&repo.join("secrets.conf"))?;
        resolve_odb(&mut conf.odb, &secret_key, &secrets, &conf_path)?;
        if !(1..=600).contains(&conf.main.lease_seconds) {
            return Err(ConfigError::Invalid {
                path: conf_path,
                detail: "[main] lease_seconds must be 1 to 600".into(),
            });
        }
        let startup_jobs = conf
            .startup_jobs
            .into_iter()
            .map(|t| serde_json::to_value(t).unwrap_or_default())
            .collect();
        Ok(Self {
            dir,
            main: conf.main,
            odb: conf.odb,
            secret_key,
            startup_jobs,
        })
    }
}

/// `[main]` of `web-admin.conf`.
#[derive(Debug, Clone, Deserialize)]
pub struct WebAdminMain {
    pub cluster_name: String,
    /// Where the web admin listens; without `[tls]` only a loopback address is accepted.
    #[serde(default = "default_web_admin_bind")]
    pub bind: String,
    /// The cluster's admin API, through the load balancer: `http(s)://host:port`.
    pub lb_address: String,
    #[serde(default = "default_admin_user")]
    pub admin_invoke_username: String,
    pub admin_invoke_password: String,
    /// A colour shown on every page (`red` for production, `green` for test...); empty: none.
    #[serde(default)]
    pub marker_color: String,
    /// The words next to the colour marker, e.g. "Production".
    #[serde(default)]
    pub marker_label: String,
}

fn default_web_admin_bind() -> String {
    "127.0.0.1:8183".into()
}

fn default_admin_user() -> String {
    crate::admin::ADMIN_INVOKE_USER.into()
}

/// `[session]`: a log-in lasts `idle_seconds` without a request, `max_seconds` at most.
#[derive(Debug, Clone, Deserialize)]
pub struct WebAdminSession {
    #[serde(default = "default_idle_seconds")]
    pub idle_seconds: u64,
    #[serde(default = "default_max_seconds")]
    pub max_seconds: u64,
}

impl Default for WebAdminSession {
    fn default() -> Self {
        Self {
            idle_seconds: default_idle_seconds(),
            max_seconds: default_max_seconds(),
        }
    }
}

fn default_idle_seconds() -> u64 {
    30 * 60
}

fn default_max_seconds() -> u64 {
    12 * 3600
}

/// `[login]`: after `max_failures` failed log-ins in a row for one user name or one client
/// address, more attempts are refused for `lockout_seconds`.
#[derive(Debug, Clone, Deserialize)]
pub struct WebAdminLogin {
    #[serde(default = "default_max_failures")]
    pub max_failures: u32,
    #[serde(default = "default_lockout_seconds")]
    pub lockout_seconds: u64,
}

impl Default for WebAdminLogin {
    fn default() -> Self {
        Self {
            max_failures: default_max_failures(),
            lockout_seconds: default_lockout_seconds(),
        }
    }
}

fn default_max_failures() -> u32 {
    5
}

fn default_lockout_seconds() -> u64 {
    60
}

/// `[tls]` (certificate and key in PEM, relative to the config directory) and `[lb_agent]`
/// (the load balancer's agent, called with the web admin's client certificate).
#[derive(Debug, Clone, Deserialize)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AgentLink {
    pub bind: String,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca_certs: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
struct WebAdminConfFile {
    main: WebAdminMain,
    #[serde(default)]
    session: WebAdminSession,
    #[serde(default)]
    login: WebAdminLogin,
    tls: Option<TlsFiles>,
    lb_agent: Option<AgentLink>,
}

/// A web admin's configuration (`config/repo/web-admin.conf` + `secrets.conf`): the admin
/// API's password decrypted, certificate paths absolute. Its users are in `users.conf`.
#[derive(Debug, Clone)]
pub struct WebAdminConfig {
    pub dir: PathBuf,
    pub main: WebAdminMain,
    pub session: WebAdminSession,
    pub login: WebAdminLogin,
    pub tls: Option<TlsFiles>,
    pub lb_agent: Option<AgentLink>,
    /// `secrets.conf`'s key: users' TOTP keys are stored encrypted with it.
    pub secret_key: SecretKey,
}

impl WebAdminConfig {
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let dir = std::path::absolute(dir).map_err(|source| ConfigError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let repo = repo_dir(&dir);
        let conf_path = repo.join("web-admin.conf");
        let mut conf: WebAdminConfFile = parse(&conf_path)?;
        let (key, secrets) = load_secrets(&repo.join("secrets.conf"))?;
        conf.main.admin_invoke_password =
            resolve_secret(&conf.main.admin_invoke_password, &key, &secrets, &conf_path)?;
        let invalid = |detail: String| ConfigError::Invalid {
            path: conf_path.clone(),
            detail,
        };
        let bind: std::net::SocketAddr = conf.main.bind.parse().map_err(|_| {
            invalid(format!(
                "[main] bind must be ip:port, not `{}`",
                conf.main.bind
            ))
        })?;
        if conf.tls.is_none() && !bind.ip().is_loopback() {
            return Err(invalid(format!(
                "[main] bind `{bind}` is not a loopback address: without [tls] (cert and key) the web admin serves plain HTTP on 127.0.0.1 only"
            )));
        }
        if !(conf.main.lb_address.starts_with("http://")
            || conf.main.lb_address.starts_with("https://"))
        {
            return Err(invalid(format!(
                "[main] lb_address must be http://host:port or https://host:port, not `{}`",
                conf.main.lb_address
            )));
        }
        let marker = &conf.main.marker_color;
        if !marker
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '#')
            || marker.len() > 32
        {
            return Err(invalid(format!(
                "[main] marker_color must be a colour name or #rrggbb, not `{marker}`"
            )));
        }
        if conf.session.idle_seconds == 0 || conf.session.max_seconds == 0 {
            return Err(invalid(
                "[session] idle_seconds and max_seconds must be above 0".into(),
            ));
        }
        if conf.login.max_failures == 0 {
            return Err(invalid("[login] max_failures must be above 0".into()));
        }
        if let Some(t) = &mut conf.tls {
            t.cert = repo.join(&t.cert);
            t.key = repo.join(&t.key);
        }
        if let Some(a) = &mut conf.lb_agent {
            a.cert = repo.join(&a.cert);
            a.key = repo.join(&a.key);
            a.ca_certs = repo.join(&a.ca_certs);
        }
        Ok(Self {
            dir,
            main: conf.main,
            session: conf.session,
            login: conf.login,
            tls: conf.tls,
            lb_agent: conf.lb_agent,
            secret_key: key,
        })
    }
}
