//! `zato quickstart create` end to end: a SQLite cluster started with `--start`, used through
//! `zato service invoke`, `zato info` and `zato check-config`, stopped by `zato-qs-stop.sh`
//! with no process left; the same on PostgreSQL and MariaDB with Redis as the KVDB (the
//! MariaDB one in the article's positional form); and every error exit.
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use zato_common::config::{KvdbConfig, ServerConfig};
use zato_common::odb::Odb;
use zato_tests::cli::{fails, ok, zato};
use zato_tests::{Backend, TestDb, free_port, free_port_range, running};

/// Runs the cluster's stop script when a test ends, even half-way.
struct Cluster {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Cluster {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        Self {
            dir: tmp.path().join("qs"),
            _tmp: tmp,
        }
    }

    fn path(&self, rel: &str) -> String {
        self.dir.join(rel).to_string_lossy().into_owned()
    }

    fn stop(&self) -> std::process::Output {
        std::process::Command::new("bash")
            .arg(self.dir.join("zato-qs-stop.sh"))
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.dir.join("zato-qs-stop.sh").exists() {
            let _ = self.stop();
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One plain HTTP/1.0 GET (these helpers run inside async tests, where a blocking client
/// cannot be used).
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("cannot connect to 127.0.0.1:{port}: {e}"));
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn pid_of(server: &str) -> i32 {
    std::fs::read_to_string(Path::new(server).join("pidfile"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pidfile in {server}"))
}

fn info(server: &str) -> Value {
    serde_json::from_str(&ok(&["info", server, "--format", "json"]))
        .unwrap_or_else(|e| panic!("info is not JSON: {e}"))
}

/// Invokes zato.ping through the CLI on every server and through the load balancer, checks
/// info, stops the cluster with its script and proves no component process is left.
fn use_and_stop(qs: &Cluster, servers: &[&str], lb_port: u16) {
    let lb = qs.path("load-balancer");
    for _ in 0..4 {
        let answer = http_get(lb_port, "/zato/ping");
        assert!(
            answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
            "{answer}"
        );
        assert!(answer.contains(r#""pong":"zato""#), "{answer}");
    }
    let i = info(&lb);
    assert_eq!(i["component_details"]["component"], "LOAD_BALANCER", "{i}");
    assert_eq!(i["component_running"], true, "{i}");
    let lb_servers: Value = serde_json::from_str(&ok(&["lb", "servers", &lb, "--format", "json"]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        lb_servers.as_array().map(Vec::len),
        Some(servers.len()),
        "{lb_servers}"
    );
    let sched = qs.path("scheduler");
    assert_eq!(info(&sched)["component_running"], true);
    let web_admin = qs.path("web-admin");
    assert_eq!(info(&web_admin)["component_running"], true);
    let mut pids = vec![pid_of(&lb), pid_of(&sched), pid_of(&web_admin)];
    for s in servers {
        let server = qs.path(s);
        assert_eq!(
            ok(&["service", "invoke", &server, "zato.ping"]),
            r#"{"pong":"zato"}"#
        );
        let i = info(&server);
        assert_eq!(i["component_running"], true, "{i}");
        assert_eq!(i["component_details"]["component"], "SERVER");
        let pid = pid_of(&server);
        assert_eq!(i["master_proc_pid"], pid);
        assert!(i["master_proc_uptime_seconds"].is_u64(), "{i}");
        assert!(
            i["master_proc_connections"]["LISTEN"]
                .as_array()
                .is_some_and(|l| !l.is_empty()),
            "{i}"
        );
        pids.push(pid);
    }
    let out = qs.stop();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total = servers.len() + 3;
    for line in [
        format!("[1/{total}] web-admin stopped"),
        format!("[2/{total}] load-balancer stopped"),
    ] {
        assert!(stdout.contains(&line), "`{line}` not in {stdout}");
    }
    for (n, s) in servers.iter().enumerate() {
        let line = format!("[{}/{total}] {s} stopped", n + 3);
        assert!(stdout.contains(&line), "`{line}` not in {stdout}");
    }
    let line = format!("[{total}/{total}] scheduler stopped");
    assert!(stdout.contains(&line), "`{line}` not in {stdout}");
    for pid in pids {
        assert!(!running(pid), "pid {pid} still runs after zato-qs-stop.sh");
    }
    for s in servers
        .iter()
        .copied()
        .chain(["load-balancer", "scheduler", "web-admin"])
    {
        assert_eq!(info(&qs.path(s))["component_running"], false);
    }
}

#[tokio::test]
async fn sqlite_quickstart_starts_serves_and_stops() {
    let qs = Cluster::new();
    let port = free_port_range(2);
    let (lb_port, agent_port) = (free_port(), free_port());
    let web_admin_port = free_port();
    let out = ok(&[
        "quickstart",
        "create",
        &qs.path(""),
        "--cluster-name",
        "qs-test",
        "--http-port",
        &port.to_string(),
        "--lb-port",
        &lb_port.to_string(),
        "--lb-agent-port",
        &agent_port.to_string(),
        "--scheduler-port",
        &free_port().to_string(),
        "--web-admin-port",
        &web_admin_port.to_string(),
        "--start",
    ]);
    for line in [
        "[1/10] Certificate authority created",
        "[2/10] ODB schema created",
        "[3/10] ODB initial data created",
        "[4/10] server1 created",
        "[5/10] server2 created",
        "[6/10] Load-balancer created",
        "[7/10] Scheduler created",
        "[8/10] Web admin created",
        "[9/10] Python virtualenv created",
        "[10/10] Management scripts created",
        "Quickstart cluster qs-test created",
        "[1/7] SQL ODB connection OK",
        "[3/7] server1 started",
        "[4/7] server2 started",
        "[5/7] Load-balancer started",
        "[6/7] Scheduler started",
        "[7/7] Web admin started",
        "Zato cluster qs-test started",
    ] {
        assert!(out.contains(line), "`{line}` not in:\n{out}");
    }
    // The web admin serves its log-in page, and the printed password is its admin's.
    let password = out
        .split("Web admin user:[admin], password:[")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| panic!("no web admin password in:\n{out}"));
    let users =
        zato_web_admin::users::load(&qs.dir.join("web-admin")).unwrap_or_else(|e| panic!("{e}"));
    assert!(zato_web_admin::users::verify(
        &users["admin"].password,
        password
    ));
    let login = zato_common::http::local_client()
        .get(format!("http://127.0.0.1:{web_admin_port}/login"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(login.status(), 200);
    assert!(!out.contains("Redis"), "no Redis was configured:\n{out}");
    // Upstream's layout, private keys readable by the owner only.
    assert!(qs.dir.join("ca/.zato-ca-dir").exists());
    assert!(qs.dir.join("zato.db").exists());
    assert_eq!(mode(&qs.dir.join("ca/ca-material/ca-key.pem")), 0o600);
    for s in ["server1", "server2"] {
        assert!(qs.dir.join(s).join(".zato-info").exists());
        assert_eq!(
            mode(&qs.dir.join(s).join("config/repo/zato-server-priv-key.pem")),
            0o600
        );
    }
    for script in ["zato-qs-start.sh", "zato-qs-stop.sh", "zato-qs-restart.sh"] {
        assert_eq!(mode(&qs.dir.join(script)), 0o740);
    }
    let check = ok(&["check-config", &qs.path("server1")]);
    assert!(check.contains("held by this component"), "{check}");
    // The text table and YAML carry the same keys.
    let text = ok(&["info", &qs.path("server1")]);
    assert!(
        text.contains("master_proc_uptime") && text.contains("component_running"),
        "{text}"
    );
    let yaml = ok(&["info", &qs.path("server2"), "--format", "yaml"]);
    assert!(yaml.contains("component_running: true"), "{yaml}");

    for component in ["server1", "load-balancer"] {
        let text = ok(&["info", &qs.path(component)]);
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(widest <= 100, "{widest} columns:\n{text}");
    }
    // A cluster root lists its components.
    let root = ok(&["info", &qs.path("")]);
    for line in ["server1", "server2", "load-balancer", "LOAD_BALANCER", "CA"] {
        assert!(root.contains(line), "`{line}` not in:\n{root}");
    }
    let lb_text = ok(&["lb", "servers", &qs.path("load-balancer")]);
    assert!(lb_text.contains("bucket bounds"), "{lb_text}");
    another_cluster_on_the_same_ports(&qs, port, lb_port, agent_port);
    wrong_admin_password_and_its_fix(&qs).await;
    // Starting a running cluster again: exit 9 from `zato start`.
    let again = std::process::Command::new("bash")
        .arg(qs.dir.join("zato-qs-start.sh"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.status.code(), Some(9), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"));

    use_and_stop(&qs, &["server1", "server2"], lb_port);
    // A stopped cluster: the stop script says so and succeeds.
    let out = qs.stop();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("[3/5] server1 was not running"));
}

/// A second cluster made on the first one's ports and not started: the CLI says that its
/// components are not running rather than blaming the first cluster's credentials or TLS.
fn another_cluster_on_the_same_ports(qs: &Cluster, port: u16, lb_port: u16, agent_port: u16) {
    let other = Cluster::new();
    ok(&[
        "quickstart",
        "create",
        &other.path(""),
        "--http-port",
        &port.to_string(),
        "--lb-port",
        &lb_port.to_string(),
        "--lb-agent-port",
        &agent_port.to_string(),
    ]);
    let server1 = other.path("server1");
    fails(
        &["service", "invoke", &server1, "zato.ping"],
        1,
        &format!("{server1} is not running: port {port} is held by another program"),
    );
    fails(
        &["lb", "servers", &other.path("load-balancer")],
        1,
        &format!("load-balancer is not running: port {agent_port} is held by another program"),
    );
    // The first cluster is untouched.
    ok(&["service", "invoke", &qs.path("server1"), "zato.ping"]);
}

/// The cluster's id and its admin.invoke definition.
async fn admin_invoke_def(odb: &Odb, cluster: &str) -> (i64, zato_common::odb::security::SecDef) {
    let cluster = odb
        .cluster_by_name(cluster)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no cluster {cluster}"));
    let def = odb
        .security_by_name(cluster.id, "admin.invoke")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no admin.invoke"));
    (cluster.id, def)
}

/// The ODB's admin.invoke password no longer matches the servers' → a clear error naming the
/// fix; `zato set-admin-invoke-password` then sets it everywhere.
async fn wrong_admin_password_and_its_fix(qs: &Cluster) {
    let server1 = qs.path("server1");
    let cfg = ServerConfig::load(Path::new(&server1)).unwrap_or_else(|e| panic!("{e}"));
    let odb = Odb::connect(&cfg.odb)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (cluster_id, def) = admin_invoke_def(&odb, "qs-test").await;
    // Written behind the servers' backs: they keep the old password.
    odb.security_set_password(
        cluster_id,
        def.id,
        &cfg.secret_key.encrypt_for_odb("not-it"),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    odb.close().await;
    fails(
        &["service", "invoke", &server1, "zato.ping"],
        1,
        "zato set-admin-invoke-password",
    );
    fails(&["set-admin-invoke-password", &server1], 14, "--password");
    // The password from standard input (not the command line); once the command returns,
    // every running server takes it: the very next call works, with no retry.
    let mut child = zato_tests::cli::command()
        .args([
            "set-admin-invoke-password",
            &server1,
            "--password-file",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
        stdin
            .write_all(b"n3w-Pass\n")
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for s in ["server1", "server2"] {
        ok(&["service", "invoke", &qs.path(s), "zato.ping"]);
    }
}

async fn require_redis() -> KvdbConfig {
    let cfg = KvdbConfig {
        host: "127.0.0.1".into(),
        port: 6379,
        password: String::new(),
        db: 0,
    };
    if let Err(e) = zato_common::kvdb::ping(&cfg, Duration::from_secs(3)).await {
        panic!("{e}; start Redis with `redis-server --daemonize yes`");
    }
    cfg
}

/// Creates, starts, uses and stops a one-server cluster on `backend` with Redis as the KVDB.
async fn quickstart_on(backend: Backend, article_form: bool) {
    require_redis().await;
    let qs = Cluster::new();
    let db = TestDb::create(backend, qs._tmp.path())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let port = free_port_range(1).to_string();
    let lb_port = free_port();
    let (lb, agent) = (lb_port.to_string(), free_port().to_string());
    let sched = free_port().to_string();
    let web_admin_port = free_port().to_string();
    let db_port = db.cfg.port.to_string();
    let base = qs.path("");
    let mut args = vec!["quickstart", "create", base.as_str()];
    if article_form {
        args.extend([
            db.cfg.engine.as_str(),
            db.cfg.host.as_str(),
            db_port.as_str(),
            db.cfg.username.as_str(),
            db.cfg.db_name.as_str(),
            "127.0.0.1",
            "6379",
        ]);
    } else {
        args.extend([
            "--odb-type",
            db.cfg.engine.as_str(),
            "--odb-host",
            db.cfg.host.as_str(),
            "--odb-port",
            db_port.as_str(),
            "--odb-user",
            db.cfg.username.as_str(),
            "--odb-db-name",
            db.cfg.db_name.as_str(),
            "--kvdb-host",
            "127.0.0.1",
        ]);
    }
    args.extend([
        "--odb-password",
        "",
        "--kvdb-password",
        "",
        "--servers",
        "1",
        "--http-port",
        port.as_str(),
        "--lb-port",
        lb.as_str(),
        "--lb-agent-port",
        agent.as_str(),
        "--scheduler-port",
        sched.as_str(),
        "--web-admin-port",
        web_admin_port.as_str(),
        "--start",
    ]);
    let out = zato(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let result = std::panic::catch_unwind(|| {
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in [
            "[1/7] Redis connection OK",
            "[2/7] SQL ODB connection OK",
            "[4/7] server1 started",
            "[5/7] Load-balancer started",
            "[6/7] Scheduler started",
            "[7/7] Web admin started",
        ] {
            assert!(stdout.contains(line), "`{line}` not in:\n{stdout}");
        }
        let conf = std::fs::read_to_string(qs.dir.join("server1/config/repo/server.conf"))
            .unwrap_or_default();
        assert!(
            conf.contains("[kvdb]") && conf.contains("port = 6379"),
            "{conf}"
        );
        assert!(
            !qs.dir.join("zato.db").exists(),
            "no SQLite file with {backend:?}"
        );
        use_and_stop(&qs, &["server1"], lb_port);
    });
    // The cluster's async stream in the shared Redis goes with it.
    let conf =
        std::fs::read_to_string(qs.dir.join("server1/config/repo/server.conf")).unwrap_or_default();
    let cluster = conf
        .lines()
        .find_map(|l| l.strip_prefix("cluster_name = "))
        .map(|n| n.trim_matches('"').to_string());
    if let Some(cluster) = cluster {
        let cfg = require_redis().await;
        if let Ok(q) =
            zato_common::kvdb_queue::RedisQueue::new(&cfg, &cluster, Duration::from_secs(3))
        {
            let _ = q.destroy().await;
        }
    }
    db.drop_db().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql_quickstart_with_redis() {
    quickstart_on(Backend::Postgresql, false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_quickstart_with_redis_in_the_article_form() {
    quickstart_on(Backend::Mysql, true).await;
}

#[test]
fn quickstart_error_exits() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = |name: &str| tmp.path().join(name).to_string_lossy().into_owned();

    // Non-empty directory: exit 5, as upstream.
    std::fs::create_dir_all(tmp.path().join("full")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(tmp.path().join("full/notes.txt"), "mine").unwrap_or_else(|e| panic!("{e}"));
    fails(&["quickstart", "create", &dir("full")], 5, "is not empty");
    assert!(
        tmp.path().join("full/notes.txt").exists(),
        "the user's file is kept"
    );

    // A non-interactive run without the ODB password names the option.
    let pg = [
        "--odb-type",
        "postgresql",
        "--odb-host",
        "127.0.0.1",
        "--odb-user",
        "postgres",
        "--odb-db-name",
        "postgres",
    ];
    let mut args = vec!["quickstart", "create"];
    let p = dir("nopass");
    args.push(&p);
    args.extend(pg);
    fails(&args, 14, "--odb-password");

    // An unreachable ODB: exit 1 with the cause, and no directory left behind.
    let p = dir("unreachable");
    fails(
        &[
            "quickstart",
            "create",
            &p,
            "--odb-type",
            "postgresql",
            "--odb-host",
            "127.0.0.1",
            "--odb-port",
            "1",
            "--odb-user",
            "postgres",
            "--odb-db-name",
            "x",
            "--odb-password",
            "",
        ],
        1,
        "check the --odb-* options",
    );
    assert!(!Path::new(&p).exists());

    // An ODB that already holds a cluster.
    let first = dir("first");
    ok(&[
        "quickstart",
        "create",
        &first,
        "--servers",
        "1",
        "--cluster-name",
        "one",
    ]);
    let db = format!("{first}/zato.db");
    fails(
        &["quickstart", "create", &dir("second"), "--odb-db-name", &db],
        1,
        "already holds cluster(s) one",
    );
    // `zato delete odb` empties it; then a new cluster fits.
    let out = ok(&["delete", "odb", "--odb-db-name", &db]);
    assert!(out.contains("ODB deleted"), "{out}");
    let out = ok(&[
        "quickstart",
        "create",
        &dir("second"),
        "--odb-db-name",
        &db,
        "--servers",
        "1",
    ]);
    assert!(out.contains("[2/9] ODB schema created"), "{out}");
    // Wrong article forms.
    fails(
        &["quickstart", "create", &dir("bad"), "sqlite", "localhost"],
        15,
        "KVDB_HOST",
    );
    fails(
        &[
            "quickstart",
            "create",
            &dir("bad"),
            "sqlite",
            "localhost",
            "6379",
            "--kvdb-host",
            "h",
        ],
        13,
        "not both",
    );
    // Not a component directory (a cluster's directory lists its components instead).
    let ca = format!("{first}/ca");
    fails(
        &["info", &ca],
        3,
        "doesn't seem to belong to a Zato component",
    );
    let listed = ok(&["info", &first, "--format", "json"]);
    assert!(listed.contains(r#""component":"SERVER""#), "{listed}");
    fails(
        &["check-config", &first],
        3,
        "doesn't seem to belong to a Zato component",
    );
}

#[test]
fn ca_commands_issue_certificates() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ca = tmp.path().join("ca").to_string_lossy().into_owned();
    ok(&["ca", "create", "ca", &ca]);
    fails(&["ca", "create", "ca", &ca], 5, "not empty");
    let out = ok(&["ca", "create", "server", &ca, "c1", "server1"]);
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("Private key: "))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(mode(Path::new(key)), 0o600);
    for kind in ["lb_agent", "web_admin"] {
        ok(&["ca", "create", kind, &ca]);
    }
    ok(&["ca", "create", "scheduler", &ca, "c1", "scheduler1"]);
    fails(
        &[
            "ca",
            "create",
            "server",
            &tmp.path().to_string_lossy(),
            "c1",
            "s1",
        ],
        2,
        "not a certificate authority",
    );
}

/// On a terminal a missing password is asked for twice, without echo, and asked again after a
/// mismatch. `script` gives the CLI a pseudo-terminal and types the answers.
#[tokio::test]
async fn passwords_are_prompted_on_a_terminal() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = tmp.path().join("zato.db").to_string_lossy().into_owned();
    ok(&["create", "odb", "--odb-db-name", &db]);
    let key = ok(&["crypto", "create-secret-key"]);
    let zato_bin = zato_tests::bin_dir().join("zato");
    let command = format!(
        "{} create cluster c1 --odb-db-name {db} --secret-key={key}",
        zato_bin.display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("ZATO_ADMIN_INVOKE_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("`script` (util-linux) is needed for this test: {e}"));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
        // First a mismatch, then the real password twice.
        for line in ["first\n", "second\n", "s3cret-pw\n", "s3cret-pw\n"] {
            std::thread::sleep(Duration::from_millis(150));
            stdin
                .write_all(line.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains("do not match"), "{screen}");
    assert!(
        !screen.contains("s3cret-pw"),
        "the password was echoed: {screen}"
    );
    assert!(screen.contains("Cluster `c1` created"), "{screen}");

    let odb = Odb::connect(&zato_common::config::OdbConfig {
        engine: zato_common::config::OdbEngine::Sqlite,
        db_name: db.clone(),
        host: String::new(),
        port: 0,
        username: String::new(),
        password: String::new(),
        pool_size: 1,
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let (_, def) = admin_invoke_def(&odb, "c1").await;
    odb.close().await;
    let token = def.password.unwrap_or_default();
    let stored = ok(&["decrypt", "--secret-key", &key, "--data", &token]);
    assert_eq!(stored, "s3cret-pw");
}
