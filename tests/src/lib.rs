//! End-to-end test harness: creates a real ODB (SQLite file, or a uniquely named PostgreSQL
//! or MariaDB database), a cluster and server directories on free ports, starts the real
//! `zato-server` binaries, and removes everything afterwards.
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use zato_common::admin::AdminClient;
use zato_common::config::{OdbConfig, OdbEngine};
use zato_common::crypto::SecretKey;
use zato_common::odb::Odb;
use zato_common::setup::{self, ClusterSpec, ServerSpec};

pub const ADMIN_PASSWORD: &str = "admin.invoke.secret";
pub const PUBAPI_PASSWORD: &str = "pubapi.secret";

/// Which ODB a test runs against.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgresql,
    Mysql,
}

/// A database made for one test and dropped at the end.
pub struct TestDb {
    pub cfg: OdbConfig,
    backend: Backend,
    admin_url: Option<String>,
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

impl TestDb {
    pub async fn create(backend: Backend, dir: &Path) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let name = unique("zt");
        let (cfg, admin_url) = match backend {
            Backend::Sqlite => (
                OdbConfig {
                    engine: OdbEngine::Sqlite,
                    db_name: dir.join("zato.db").to_string_lossy().into_owned(),
                    host: String::new(),
                    port: 0,
                    username: String::new(),
                    password: String::new(),
                    pool_size: 5,
                },
                None,
            ),
            Backend::Postgresql => (
                OdbConfig {
                    engine: OdbEngine::Postgresql,
                    db_name: name.clone(),
                    host: "127.0.0.1".into(),
                    port: 5432,
                    username: "postgres".into(),
                    password: String::new(),
                    pool_size: 5,
                },
                Some("postgres://postgres@127.0.0.1:5432/postgres".to_string()),
            ),
            Backend::Mysql => (
                OdbConfig {
                    engine: OdbEngine::Mysql,
                    db_name: name.clone(),
                    host: "127.0.0.1".into(),
                    port: 3306,
                    username: "root".into(),
                    password: String::new(),
                    pool_size: 5,
                },
                Some("mysql://root@127.0.0.1:3306/test".to_string()),
            ),
        };
        if let Some(url) = &admin_url {
            let pool = sqlx::AnyPool::connect(url).await.with_context(|| {
                format!(
                    "{backend:?} is not reachable at {url}; start it (PostgreSQL: `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, MariaDB: `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`)"
                )
            })?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&pool)
                .await?;
            pool.close().await;
        }
        Ok(Self {
            cfg,
            backend,
            admin_url,
        })
    }

    pub async fn drop_db(&self) {
        if let Some(url) = &self.admin_url
            && let Ok(pool) = sqlx::AnyPool::connect(url).await
        {
            let sql = match self.backend {
                Backend::Postgresql => {
                    format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.cfg.db_name)
                }
                _ => format!("DROP DATABASE IF EXISTS {}", self.cfg.db_name),
            };
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
            pool.close().await;
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// The process exists and has not exited (an exited orphan stays a zombie until init reaps
/// it): the CLI's own check.
pub use zato_cli::component::alive as running;

/// The first of `n` consecutive free ports (quickstart numbers its servers' ports in a row).
pub fn free_port_range(n: u16) -> u16 {
    for _ in 0..100 {
        let base = free_port();
        if base != 0
            && base.checked_add(n).is_some()
            && (0..n).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
    panic!("no {n} consecutive free ports found on 127.0.0.1");
}

/// The directory holding the workspace's built binaries (target/debug next to this test).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/debug/deps/<test-binary>
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Running the `zato` binary.
pub mod cli {
    use std::process::{Command, Output};

    pub fn command() -> Command {
        let mut cmd = Command::new(super::bin_dir().join("zato"));
        // Passwords come from options in tests, never from the caller's environment.
        for var in [
            "ZATO_ODB_PASSWORD",
            "ZATO_KVDB_PASSWORD",
            "ZATO_ADMIN_INVOKE_PASSWORD",
            "ZATO_SECRET_KEY",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    pub fn zato(args: &[&str]) -> Output {
        command().args(args).output().unwrap_or_else(|e| {
            panic!("cannot run zato (build it with `cargo build -p zato-cli`): {e}")
        })
    }

    /// Runs zato, expecting success; its stdout, trimmed.
    pub fn ok(args: &[&str]) -> String {
        let out = zato(args);
        assert!(
            out.status.success(),
            "zato {args:?} failed with {:?}: {}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs zato, expecting exit `code` and `needle` in stderr.
    pub fn fails(args: &[&str], code: i32, needle: &str) {
        let out = zato(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "zato {args:?}: {stderr}");
        assert!(stderr.contains(needle), "`{needle}` not in: {stderr}");
    }
}

pub struct Server {
    pub name: String,
    pub dir: PathBuf,
    pub port: u16,
    /// The address it listens on (127.0.0.1 unless placed on a host of a [`netns::Net`]).
    pub host: String,
    /// The network namespace it runs in (`/var/run/netns/NAME`); None: this one.
    pub netns: Option<PathBuf>,
    /// RLIMIT_NOFILE (soft and hard) the server process starts with; None leaves it as is.
    pub fd_limit: Option<u64>,
    child: Option<Child>,
}

impl Server {
    pub fn address(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    pub fn admin(&self) -> AdminClient {
        AdminClient::new(&self.address(), "admin.invoke", ADMIN_PASSWORD)
    }

    pub fn pickup_dir(&self) -> PathBuf {
        self.dir.join("pickup/incoming/services")
    }

    /// The running server process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/server.log")).unwrap_or_default()
    }

    /// Starts the server binary and waits until `/zato/ping` answers.
    pub async fn start(&mut self) -> anyhow::Result<Duration> {
        let exe = bin_dir().join("zato-server");
        if !exe.exists() {
            bail!(
                "{} is missing; build it with `cargo build -p zato-server`",
                exe.display()
            );
        }
        let started = Instant::now();
        let mut cmd = Command::new(&exe);
        cmd.arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(ns) = &self.netns {
            netns::enter_in_child(&mut cmd, ns)?;
        }
        if let Some(n) = self.fd_limit {
            use std::os::unix::process::CommandExt;
            let lim = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            // SAFETY: setrlimit is async-signal-safe and touches only the child.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot run {}", exe.display()))?;
        self.child = Some(child);
        let http = zato_common::http::local_client();
        let url = format!("{}/zato/ping", self.address());
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(started.elapsed());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                let mut err = String::new();
                if let Some(mut e) = c.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                bail!("{} exited with {status}: {err}\n{}", self.name, self.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!(
            "{} did not answer /zato/ping within 30 s\n{}",
            self.name,
            self.log()
        )
    }

    /// SIGKILL and wait: the server dies with whatever it was doing.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A cluster of real servers on one ODB.
pub struct TestCluster {
    pub db: TestDb,
    pub servers: Vec<Server>,
    pub name: String,
    pub key: SecretKey,
    /// The servers have the local Redis as `[kvdb]` (async requests go there).
    pub kvdb: bool,
    _dir: tempfile::TempDir,
}

/// What to vary per test.
#[derive(Clone)]
pub struct Options {
    pub servers: usize,
    pub service_timeout: f64,
    pub max_request_size: Option<usize>,
    pub workers: u32,
    /// Runs on each server directory before the server starts (to edit config files).
    pub prepare: Option<fn(&Path)>,
    /// Gives the servers the local Redis as their `[kvdb]`.
    pub kvdb: bool,
    /// See `Server::fd_limit`.
    pub fd_limit: Option<u64>,
    /// Servers placed on the hosts of a [`netns::Net`] instead of this machine's loopback.
    pub hosts: Option<Hosts>,
}

/// Where the servers of a multi-host test run.
#[derive(Clone, Debug)]
pub struct Hosts {
    /// Each server's network namespace and its address there, in order.
    pub servers: Vec<(PathBuf, String)>,
    /// The address at which the servers reach the ODB and Redis (forwarded to this
    /// machine's loopback, same ports).
    pub services: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            servers: 1,
            service_timeout: 60.0,
            max_request_size: None,
            workers: 1,
            prepare: None,
            kvdb: false,
            fd_limit: None,
            hosts: None,
        }
    }
}

impl TestCluster {
    pub async fn start(backend: Backend, opts: Options) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let db = TestDb::create(backend, dir.path()).await?;
        let odb = Odb::connect(&db.cfg).await?;
        setup::create_odb(&odb).await?;
        let name = unique("cluster");
        let key = SecretKey::generate();
        setup::create_cluster(
            &odb,
            &ClusterSpec {
                name: &name,
                lb_host: "127.0.0.1",
                lb_port: 11223,
                lb_agent_port: 20151,
                admin_invoke_password: ADMIN_PASSWORD,
                pubapi_password: PUBAPI_PASSWORD,
                secret_key: &key,
            },
        )
        .await?;
        let services_host = opts
            .hosts
            .as_ref()
            .map_or("127.0.0.1".to_string(), |h| h.services.clone());
        let mut odb_cfg = db.cfg.clone();
        if opts.hosts.is_some() && !matches!(odb_cfg.engine, OdbEngine::Sqlite) {
            odb_cfg.host = services_host.clone();
        }
        let redis = zato_common::config::KvdbConfig {
            host: services_host.clone(),
            port: 6379,
            ..Default::default()
        };
        let mut servers = Vec::new();
        for n in 1..=opts.servers {
            let port = free_port();
            let sdir = dir.path().join(format!("server{n}"));
            let (netns, host) = match &opts.hosts {
                Some(h) => {
                    let (ns, host) = h.servers.get(n - 1).context("fewer hosts than servers")?;
                    (Some(ns.clone()), host.clone())
                }
                None => (None, "127.0.0.1".to_string()),
            };
            setup::create_server(
                &odb,
                &sdir,
                &ServerSpec {
                    cluster_name: &name,
                    server_name: &format!("server{n}"),
                    odb: &odb_cfg,
                    kvdb: opts.kvdb.then_some(&redis),
                    bind: &format!("{host}:{port}"),
                    workers: opts.workers,
                    service_timeout: opts.service_timeout,
                    return_tracebacks: true,
                    secret_key: &key,
                    virtualenv: "",
                },
            )
            .await?;
            // Tests deploy their own files; the demo one is exercised by a dedicated test.
            let _ = std::fs::remove_file(sdir.join("pickup/incoming/services/demo.py"));
            if let Some(limit) = opts.max_request_size {
                let conf = sdir.join("config/repo/server.conf");
                let text = std::fs::read_to_string(&conf)?.replace(
                    "max_request_size = 10485760",
                    &format!("max_request_size = {limit}"),
                );
                std::fs::write(&conf, text)?;
            }
            if let Some(prepare) = opts.prepare {
                prepare(&sdir);
            }
            servers.push(Server {
                name: format!("server{n}"),
                dir: sdir,
                port,
                host,
                netns,
                fd_limit: opts.fd_limit,
                child: None,
            });
        }
        odb.close().await;
        for s in servers.iter_mut() {
            s.start().await?;
        }
        Ok(Self {
            db,
            servers,
            name,
            key,
            kvdb: opts.kvdb,
            _dir: dir,
        })
    }

    /// The cluster's async requests in the local Redis (when `kvdb`).
    pub fn redis_queue(&self) -> zato_common::kvdb_queue::RedisQueue {
        let cfg = zato_common::config::KvdbConfig {
            host: "127.0.0.1".into(),
            port: 6379,
            ..Default::default()
        };
        zato_common::kvdb_queue::RedisQueue::new(&cfg, &self.name, Duration::from_secs(3))
            .unwrap_or_else(|e| panic!("{e}; is Redis running on 127.0.0.1:6379?"))
    }

    pub async fn finish(mut self) {
        for s in self.servers.iter_mut() {
            s.stop();
        }
        if self.kvdb {
            let _ = self.redis_queue().destroy().await;
        }
        self.db.drop_db().await;
    }
}

pub mod lb;
pub mod netns;
pub mod standin;
pub mod web;

/// The JSON lines of a file services append to (none while it does not exist).
pub fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// `GET url` (a `/zato/metrics`), as text and parsed with a Prometheus text parser.
pub async fn scrape(url: &str) -> (String, prometheus_parse::Scrape) {
    let text = zato_common::http::local_client()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("not Prometheus text: {e}\n{text}"));
    (text, scrape)
}

/// The sum of the counter, gauge or untyped samples of `name` whose labels include `labels`.
pub fn metric(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

/// Polls `f` until it returns Some or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Writes a file into a dir the way editors and `cp` do (in place, not atomically).
pub fn drop_file(dir: &Path, name: &str, text: &str) -> anyhow::Result<()> {
    std::fs::write(dir.join(name), text)?;
    Ok(())
}

/// Hot-deploys `code` as `file_name` through `zato.service.upload-package`.
pub async fn deploy(admin: &AdminClient, file_name: &str, code: &str) -> anyhow::Result<()> {
    use base64::Engine;
    let payload = base64::engine::general_purpose::STANDARD.encode(code);
    admin
        .invoke(
            "zato.service.upload-package",
            &serde_json::json!({"payload": payload, "payload_name": file_name}),
        )
        .await?;
    Ok(())
}

/// Creates a REST channel through the admin API.
pub async fn create_channel(
    admin: &AdminClient,
    name: &str,
    url_path: &str,
    service: &str,
    extra: Value,
) -> anyhow::Result<i64> {
    let mut payload = serde_json::json!({
        "name": name, "url_path": url_path, "service": service,
        "connection": "channel", "transport": "plain_http", "data_format": "json",
    });
    if let (Some(p), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            p.insert(k.clone(), v.clone());
        }
    }
    let r = admin.invoke("zato.http-soap.create", &payload).await?;
    r.data["id"]
        .as_i64()
        .context("no id in zato.http-soap.create's reply")
}
