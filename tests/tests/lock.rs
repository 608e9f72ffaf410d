//! Cluster-wide locks (`self.lock`, `zato.distlock`): two servers contending for one lock never
//! hold it at once; a holder killed with SIGKILL gives it up once its `ttl` passes; a lock not
//! obtained within `block` seconds raises LockTimeout.
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zato_tests::{Backend, Options, TestCluster, eventually};

const SERVICES: &str = include_str!("fixtures/locks.py");

fn events(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

async fn locks_on(backend: Backend) {
    let mut c = TestCluster::start(
        backend,
        Options {
            servers: 2,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let admins = [c.servers[0].admin(), c.servers[1].admin()];
    zato_tests::deploy(&admins[0], "locks.py", SERVICES)
        .await
        .unwrap();
    let dir = c.servers[0].dir.parent().unwrap().to_path_buf();
    let warm = dir.join("warm.jsonl");
    let on_both = eventually(Duration::from_secs(10), || async {
        let p = json!({"name": "warm", "ttl": 5, "block": 1, "hold": 0, "out": warm});
        for a in &admins {
            a.invoke("locks.hold", &p).await.ok()?;
        }
        Some(())
    })
    .await;
    assert!(on_both.is_some(), "the service did not reach both servers");

    // Ten holders, five on each server, all at once: never two inside together.
    let out = dir.join("contended.jsonl");
    let calls = (0..10).map(|i| {
        let admin = admins[i % 2].clone();
        let p = json!({"name": "shared", "ttl": 20, "block": 30, "hold": 0.1, "out": out});
        async move { admin.invoke("locks.hold", &p).await }
    });
    for r in futures_util::future::join_all(calls).await {
        assert_eq!(r.unwrap().data["held"], true);
    }
    let ev = events(&out);
    assert_eq!(ev.len(), 20, "{ev:?}");
    let mut inside = 0;
    let mut pids = std::collections::HashSet::new();
    for e in &ev {
        match e["event"].as_str() {
            Some("enter") => {
                inside += 1;
                pids.insert(e["pid"].as_i64());
            }
            _ => inside -= 1,
        }
        assert!(inside <= 1, "two holders at once: {ev:?}");
    }
    assert_eq!(pids.len(), 2, "both servers held it: {ev:?}");

    // A lock held elsewhere, not obtained within `block`: LockTimeout.
    let held = dir.join("held.jsonl");
    let holder = {
        let admin = admins[0].clone();
        let p = json!({"name": "killed", "ttl": 3, "block": 1, "hold": 60, "out": held});
        tokio::spawn(async move { admin.invoke("locks.hold", &p).await })
    };
    let entered = eventually(Duration::from_secs(10), || async {
        (!events(&held).is_empty()).then_some(())
    })
    .await;
    assert!(entered.is_some(), "server1 did not take the lock");
    let p = json!({"name": "killed", "ttl": 3, "block": 0.5, "hold": 0, "out": held});
    let timed_out = admins[1].invoke("locks.hold", &p).await.unwrap().data;
    assert!(
        timed_out["timeout"]
            .as_str()
            .is_some_and(|t| t.contains("Could not obtain lock for `` `killed` within 0.5s")),
        "{timed_out}"
    );

    // Its holder killed: free once its ttl (3 s) passes.
    c.servers[0].kill();
    let _ = holder.await;
    let killed = Instant::now();
    let p = json!({"name": "killed", "ttl": 3, "block": 10, "hold": 0, "out": held});
    let taken = admins[1].invoke("locks.hold", &p).await.unwrap().data;
    assert_eq!(taken["held"], true, "{taken}");
    let waited = killed.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "taken {waited:?} after the kill"
    );
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn locks_on_sqlite() {
    locks_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn locks_on_postgresql() {
    locks_on(Backend::Postgresql).await;
}
