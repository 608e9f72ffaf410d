//! An upstream-style service ports unchanged: the cluster's virtualenv (a deploy that needs a
//! missing package says how to install it; `zato python install` makes it importable without a
//! restart), SQLAlchemy-like rows and the ORM on PostgreSQL, MariaDB and SQLite, `requests`,
//! SimpleIO `Boolean` and `ServiceUnavailable`.
use std::path::Path;

use serde_json::{Value, json};
use zato_tests::{Backend, Options, TestCluster, TestDb, cli, create_channel, deploy, free_port};

const SERVICE: &str = include_str!("fixtures/porting.py");

/// The servers' virtualenv is `venv` under each server dir, not made yet.
fn with_virtualenv(dir: &Path) {
    let conf = dir.join("config/repo/server.conf");
    let text = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("virtualenv = \"\"", "virtualenv = \"venv\"");
    std::fs::write(&conf, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_service_ports_unchanged() {
    let c = TestCluster::start(
        Backend::Sqlite,
        Options {
            prepare: Some(with_virtualenv),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let s = &c.servers[0];
    let admin = s.admin();
    let server_dir = s.dir.to_string_lossy().to_string();

    // Nothing installed yet: the deploy says which command installs what is missing.
    let err = deploy(&admin, "porting.py", SERVICE)
        .await
        .expect_err("deployed without requests installed")
        .to_string();
    let hint = format!("install it with `zato python install {server_dir} requests`");
    assert!(err.contains("No module named 'requests'"), "{err}");
    assert!(err.contains(&hint), "{err}");

    cli::ok(&["python", "install", &server_dir, "requests", "SQLAlchemy"]);
    deploy(&admin, "porting.py", SERVICE)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "after zato python install, without a restart: {e}\n{}",
                s.log()
            )
        });
    create_channel(
        &admin,
        "order-report",
        "/porting/order-report",
        "porting.order-report",
        json!({"method": "POST"}),
    )
    .await
    .unwrap();

    let pg = TestDb::create(Backend::Postgresql, Path::new("."))
        .await
        .unwrap();
    let my = TestDb::create(Backend::Mysql, Path::new("."))
        .await
        .unwrap();
    let lite = s.dir.join("porting.db").to_string_lossy().to_string();
    for (name, engine, db) in [
        ("pg", "postgresql+pg8000", Some(&pg.cfg)),
        ("my", "mysql+pymysql", Some(&my.cfg)),
        ("lite", "sqlite", None),
    ] {
        let mut conn = json!({"name": name, "engine": engine, "pool_size": 2, "is_active": true,
            "host": "", "port": 0, "db_name": lite, "username": ""});
        if let Some(cfg) = db {
            conn = json!({"name": name, "engine": engine, "pool_size": 2, "is_active": true,
                "host": cfg.host, "port": cfg.port, "db_name": cfg.db_name, "username": cfg.username,
                "password": cfg.password});
        }
        admin
            .invoke("zato.outgoing.sql.create", &conn)
            .await
            .unwrap();
    }

    let http = reqwest::Client::new();
    let url = format!("{}/porting/order-report", s.address());
    let ping = format!("{}/zato/ping", s.address());
    for (conn, engine) in [
        ("pg", "postgresql+pg8000"),
        ("my", "mysql+pymysql"),
        ("lite", "sqlite"),
    ] {
        let r = http
            .post(&url)
            .json(&json!({"conn": conn, "ping_url": ping, "only_big": "true"}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap_or_default();
        assert_eq!(status, 200, "{conn}: {body}\n{}", s.log());
        assert_eq!(
            body,
            json!({"total": 5550, "items": ["pear", "plum", "fig"], "orm_items": ["pear", "plum", "fig"],
                "first": {"id": 1, "item": "apple", "as_dict": {"id": 1, "item": "apple"}},
                "remote": "zato", "engine": engine,
                "checks": ["autoflush", "core_in", "integrity", "orm_select"]}),
            "{conn}"
        );
    }

    // The remote system down: upstream's ServiceUnavailable is a 503 with its message.
    let closed = format!("http://127.0.0.1:{}/", free_port());
    let r = http
        .post(&url)
        .json(&json!({"conn": "lite", "ping_url": closed, "only_big": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let text = r.text().await.unwrap_or_default();
    assert!(
        text.contains("The remote system is down: ConnectionError"),
        "{text}"
    );

    pg.drop_db().await;
    my.drop_db().await;
    c.finish().await;
}
