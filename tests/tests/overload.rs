//! A server whose interpreter threads are all stuck (in C code Python cannot interrupt): work
//! that timed out while queued is never run afterwards, a full queue answers 503 at once, no
//! more than twice the configured threads ever exist, and the server recovers by itself.
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use zato_tests::{Backend, Options, TestCluster, eventually};

/// One interpreter thread, two queue places.
fn one_thread(dir: &Path) {
    let conf = dir.join("config/repo/server.conf");
    let text = std::fs::read_to_string(&conf)
        .unwrap_or_else(|e| panic!("{e}"))
        .replace("python_threads = 4", "python_threads = 1")
        .replace("python_queue_size = 1000", "python_queue_size = 2");
    std::fs::write(&conf, text).unwrap_or_else(|e| panic!("{e}"));
}

/// Threads named zato-py in process `pid`.
fn interpreter_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.trim() == "zato-py")
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn timed_out_work_never_runs_and_a_full_queue_says_so() {
    let c = TestCluster::start(
        Backend::Sqlite,
        Options {
            service_timeout: 0.5,
            prepare: Some(one_thread),
            ..Options::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let s = &c.servers[0];
    let hits = s.dir.join("overload-hits.txt");
    let code = format!(
        "import time\nfrom zato.server.service import Service\n\n\nclass Block(Service):\n    name = 'ov.block'\n\n    def handle(self):\n        time.sleep(2.5)\n\n\nclass Record(Service):\n    name = 'ov.record'\n\n    def handle(self):\n        with open({:?}, 'a') as f:\n            f.write('hit\\n')\n",
        hits.display().to_string()
    );
    let admin = s.admin();
    zato_tests::deploy(&admin, "overload.py", &code)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let pid = s.pid().unwrap_or_else(|| panic!("not running"));
    let call = |name: &'static str| {
        let admin = s.admin();
        async move {
            let t0 = Instant::now();
            let r = admin.invoke(name, &json!({})).await;
            (r.map(|_| ()).map_err(|e| e.to_string()), t0.elapsed())
        }
    };

    // Both threads the cap allows get stuck: the first and its one replacement.
    for _ in 0..2 {
        let (r, _) = call("ov.block").await;
        assert!(r.as_ref().is_err_and(|e| e.contains("504")), "{r:?}");
    }
    assert_eq!(interpreter_threads(pid), 2, "more threads than the cap");
    // Queued behind them, timed out: 504, and it must never run later.
    let (r, _) = call("ov.record").await;
    assert!(r.as_ref().is_err_and(|e| e.contains("504")), "{r:?}");
    // The queue (two places, one taken by the abandoned call) refuses the overflow at once.
    let (a, b) = tokio::join!(call("ov.record"), call("ov.record"));
    let busy = [&a, &b]
        .into_iter()
        .find(|(r, _)| r.as_ref().is_err_and(|e| e.contains("503")));
    let (_, took) = busy.unwrap_or_else(|| panic!("no 503 for a full queue: {a:?} {b:?}"));
    assert!(*took < Duration::from_millis(300), "the 503 took {took:?}");
    assert!(
        s.log().contains("stuck in services"),
        "the cap was not logged"
    );

    // Once the stuck threads return, the server serves again with one thread...
    let ok = eventually(Duration::from_secs(10), || async {
        call("ov.record").await.0.ok()
    })
    .await;
    assert!(ok.is_some(), "the server did not recover\n{}", s.log());
    let one = eventually(Duration::from_secs(5), || async {
        (interpreter_threads(pid) == 1).then_some(())
    })
    .await;
    assert!(
        one.is_some(),
        "{} interpreter threads",
        interpreter_threads(pid)
    );
    // ...and of the four ov.record calls only the one that succeeded ever ran.
    let lines = std::fs::read_to_string(&hits).unwrap_or_default();
    assert_eq!(
        lines.lines().count(),
        1,
        "abandoned calls ran late: {lines:?}"
    );
    c.finish().await;
}
