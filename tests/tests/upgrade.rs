//! A server started on an ODB made by the previous schema version (1) brings it up to date
//! and everything that needs the new tables works, on PostgreSQL (transactional DDL) and
//! MariaDB (not transactional).
use serde_json::json;
use zato_common::odb::Odb;
use zato_tests::{Backend, Options, TestCluster};

async fn upgrade_on(backend: Backend) {
    let mut c = TestCluster::start(backend, Options::default())
        .await
        .unwrap();
    c.servers[0].stop();
    // Turn the ODB into what schema version 1 was.
    let odb = Odb::connect(&c.db.cfg).await.unwrap();
    for table in [
        "sec_wss_def",
        "sec_jwt",
        "sql_pool",
        "kv_data",
        "cache_builtin",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(odb.pool())
            .await
            .unwrap();
    }
    sqlx::query("UPDATE install_state SET version = 1")
        .execute(odb.pool())
        .await
        .unwrap();
    assert_eq!(
        zato_common::odb::schema::installed_version(&odb)
            .await
            .unwrap(),
        Some(1)
    );
    c.servers[0].start().await.unwrap();
    assert_eq!(
        zato_common::odb::schema::installed_version(&odb)
            .await
            .unwrap(),
        Some(zato_common::odb::schema::SCHEMA_VERSION)
    );
    odb.close().await;
    let admin = c.servers[0].admin();
    let sqlite = c.servers[0].dir.join("out.db");
    for (service, input) in [
        (
            "zato.security.jwt.create",
            json!({"name": "j", "username": "u", "password": "p"}),
        ),
        (
            "zato.security.wss.create",
            json!({"name": "w", "username": "u", "password": "p"}),
        ),
        (
            "zato.outgoing.sql.create",
            json!({"name": "s", "engine": "sqlite", "db_name": sqlite}),
        ),
    ] {
        admin
            .invoke(service, &input)
            .await
            .unwrap_or_else(|e| panic!("{backend:?} {service}: {e}"));
    }
    let r = admin
        .invoke(
            "zato.security.jwt.log-in",
            &json!({"username": "u", "password": "p"}),
        )
        .await
        .unwrap();
    assert!(r.data["token"].is_string());
    // The built-in cache definitions a cluster made before them now has.
    let caches = admin
        .invoke("zato.cache.builtin.get-list", &json!({}))
        .await
        .unwrap()
        .data;
    let names: Vec<&str> = caches
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names, ["default", "zato.bearer.token"], "{backend:?}");
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_1_is_upgraded_on_postgresql() {
    upgrade_on(Backend::Postgresql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_1_is_upgraded_on_mariadb() {
    upgrade_on(Backend::Mysql).await;
}
