//! Hot deployment is all or nothing across the cluster: a file whose deployment cannot be
//! stored in the ODB changes nothing on any server; stored package names are checked before
//! they become paths; oversized files are refused from uploads and the pickup dir alike.
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Executor;
use zato_common::admin::AdminClient;
use zato_tests::{Backend, Options, TestCluster, eventually};

fn version_service(v: u32) -> String {
    format!(
        "from zato.server.service import Service\n\n\nclass Version(Service):\n    name = 'atomic.version'\n\n    def handle(self):\n        self.response.payload = {{'v': {v}}}\n"
    )
}

async fn version(admin: &AdminClient) -> Option<Value> {
    admin
        .invoke("atomic.version", &json!({}))
        .await
        .ok()
        .map(|r| r.data["v"].clone())
}

/// Waits until `admin`'s server answers version `v`.
async fn answers(admin: &AdminClient, v: u32) -> bool {
    eventually(Duration::from_secs(5), || async {
        (version(admin).await == Some(json!(v))).then_some(())
    })
    .await
    .is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_the_odb_refuses_changes_nothing_anywhere() {
    let c = TestCluster::start(
        Backend::Sqlite,
        Options {
            servers: 2,
            ..Options::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let (a1, a2) = (c.servers[0].admin(), c.servers[1].admin());
    zato_tests::deploy(&a1, "atomic.py", &version_service(1))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(answers(&a1, 1).await && answers(&a2, 1).await);

    // The ODB refuses new packages: the upload fails and v1 keeps answering everywhere.
    let odb = zato_common::odb::Odb::connect(&c.db.cfg).await.unwrap();
    odb.pool()
        .execute("CREATE TRIGGER zato_test_refuse BEFORE INSERT ON deployment_package BEGIN SELECT RAISE(ABORT, 'the test refuses packages'); END")
        .await
        .unwrap();
    let r = zato_tests::deploy(&a1, "atomic.py", &version_service(2)).await;
    assert!(
        r.as_ref().is_err_and(|e| e.to_string().contains("refuses")),
        "{r:?}"
    );
    assert_eq!(
        version(&a1).await,
        Some(json!(1)),
        "server1 runs code the ODB never got"
    );
    // server2 had no event to act on; had one leaked, v2 would show within a poll.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(version(&a2).await, Some(json!(1)));

    // Once the ODB takes packages again, the next deployment reaches both servers.
    odb.pool()
        .execute("DROP TRIGGER zato_test_refuse")
        .await
        .unwrap();
    zato_tests::deploy(&a1, "atomic.py", &version_service(3))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(answers(&a1, 3).await && answers(&a2, 3).await);

    // A stored package whose name is a path is refused before the name is used as one.
    odb.pool()
        .execute("INSERT INTO deployment_package (deployment_time, details, payload_name, payload, server_id) SELECT '2026-01-01T00:00:00', '', '../escaped.py', X'', MIN(id) FROM server")
        .await
        .unwrap();
    let id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM deployment_package")
        .fetch_one(odb.pool())
        .await
        .unwrap();
    let r = a1
        .invoke("zato.hot-deploy.create", &json!({"package_id": id}))
        .await;
    assert!(
        r.as_ref()
            .is_err_and(|e| e.to_string().contains("cannot be deployed")),
        "{r:?}"
    );
    let escaped = c.servers[0].dir.join("work/hot-deploy/escaped.py");
    assert!(!escaped.exists(), "a package name became a path");
    odb.close().await;

    // Oversized files: an upload is refused, and so is a file in the pickup dir.
    let big = format!("X = '{}'\n", "a".repeat(5 * 1024 * 1024 + 100 * 1024));
    let r = zato_tests::deploy(&a1, "big.py", &big).await;
    assert!(
        r.as_ref()
            .is_err_and(|e| e.to_string().contains("max_package_size")),
        "{r:?}"
    );
    std::fs::write(c.servers[0].pickup_dir().join("big.py"), &big).unwrap();
    let logged = eventually(Duration::from_secs(5), || async {
        c.servers[0].log().contains("`big.py` has").then_some(())
    })
    .await;
    assert!(logged.is_some(), "{}", c.servers[0].log());
    c.finish().await;
}

/// An upload of a file the pickup dirs also hold puts the uploaded code in every server's pickup
/// dir: touching the old file there later must not roll the service back.
#[tokio::test(flavor = "multi_thread")]
async fn uploads_keep_pickup_dirs_current() {
    let c = TestCluster::start(
        Backend::Sqlite,
        Options {
            servers: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (s1, s2) = (&c.servers[0], &c.servers[1]);
    for s in [s1, s2] {
        zato_tests::drop_file(&s.pickup_dir(), "version.py", &version_service(1)).unwrap();
    }
    // Both servers have deployed their copy before the upload (a pickup deploy still under way
    // would otherwise come after it, and be the newest).
    for s in [s1, s2] {
        assert!(answers(&s.admin(), 1).await, "{}", s.log());
        let logged = eventually(Duration::from_secs(5), || async {
            s.log().contains("Deployed 1 service from").then_some(())
        })
        .await;
        assert!(logged.is_some(), "{}", s.log());
    }
    zato_tests::deploy(&s1.admin(), "version.py", &version_service(2))
        .await
        .unwrap();
    for s in [s1, s2] {
        assert!(answers(&s.admin(), 2).await, "{}", s.log());
        let path = s.pickup_dir().join("version.py");
        let current = eventually(Duration::from_secs(5), || async {
            (std::fs::read_to_string(&path).ok()? == version_service(2)).then_some(())
        })
        .await;
        assert!(
            current.is_some(),
            "{} still holds the old code",
            path.display()
        );
        // A touch (an editor saving, `touch`) redeploys what the file holds: the new code.
        let file = std::fs::File::options().append(true).open(&path).unwrap();
        file.set_modified(std::time::SystemTime::now()).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for s in [s1, s2] {
        assert_eq!(version(&s.admin()).await, Some(json!(2)), "{}", s.log());
    }
    c.finish().await;
}
