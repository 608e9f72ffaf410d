//! Asynchronous invocations that survive a crash (`invoke::deferred`): 1,000 stored through
//! `self.invoke_async` on one of two servers, that server killed with SIGKILL while they run,
//! and every one still runs (the other server claims what the dead one held once its lease
//! lapses); a repeat only for what was under way at the kill, counted and reported. Callbacks
//! (the default `<caller>-async-callback` and a named one) get the response with
//! `self.in_reply_to`; admin invoke with `is_async` stores its request the same way; a
//! request left unclaimed is taken by any server, one whose expiration passed is dropped; a
//! scheduler's run recorded on a server killed before its time runs on the other, once.
//! Upstream's patterns ride on it: fan-out (on-target and one on-final), parallel execution
//! and invoke-retry.
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use zato_tests::{Backend, Options, TestCluster, eventually};

const SERVICES: &str = include_str!("fixtures/deferred.py");
const TOTAL: i64 = 1000;

fn lines(out: &Path) -> Vec<Value> {
    zato_tests::json_lines(out)
}

/// `redis`: the servers have `[kvdb]`, so `invoke_async` stores in a Redis stream (the
/// scheduler's runs stay in the ODB, recorded with the run).
async fn survives_a_kill(backend: Backend, redis: bool) {
    let mut c = TestCluster::start(
        backend,
        Options {
            servers: 2,
            kvdb: redis,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let admin1 = c.servers[0].admin();
    let admin2 = c.servers[1].admin();
    zato_tests::deploy(&admin1, "deferred.py", SERVICES)
        .await
        .unwrap();
    let on_both = eventually(Duration::from_secs(10), || async {
        let probe = json!({"out": ""});
        admin1.invoke("asyncs.answer", &probe).await.ok()?;
        admin2.invoke("asyncs.answer", &probe).await.ok()?;
        Some(())
    })
    .await;
    assert!(on_both.is_some(), "the services did not reach both servers");
    let dir = c.servers[0].dir.parent().unwrap().to_path_buf();
    let out = dir.join("async-runs.jsonl");

    // Callbacks: the default one and a named one, each told which request it answers.
    let cbs = dir.join("callbacks.jsonl");
    let called = admin1
        .invoke("asyncs.caller", &json!({"out": cbs}))
        .await
        .unwrap()
        .data;
    let got = eventually(Duration::from_secs(10), || async {
        let l = lines(&cbs);
        (l.len() >= 2).then_some(l)
    })
    .await
    .unwrap_or_else(|| panic!("callbacks did not run: {:?}", lines(&cbs)));
    let by_name: HashMap<String, &Value> = got
        .iter()
        .map(|l| (l["callback"].as_str().unwrap_or_default().to_string(), l))
        .collect();
    let default = by_name["asyncs.caller-async-callback"];
    assert_eq!(default["in_reply_to"], called["default"], "{got:?}");
    assert_eq!(default["channel"], "invoke-async-callback");
    assert_eq!(default["answer"], 42);
    assert_eq!(
        by_name["asyncs.named-callback"]["in_reply_to"],
        called["named"]
    );

    // Patterns: a fan-out over three targets (one failing) with on-target and on-final
    // callbacks, a parallel execution (no final), and invoke-retry.
    let peek = |prefix: String| {
        let admin = admin2.clone();
        async move {
            admin
                .invoke("asyncs.peek", &json!({"prefix": prefix}))
                .await
                .ok()
                .map(|r| r.data["found"].clone())
        }
    };
    let fan = admin1
        .invoke("asyncs.fan", &json!({"out": out}))
        .await
        .unwrap()
        .data;
    let fan_cid = fan["cid"].as_str().unwrap().to_string();
    let fin = eventually(Duration::from_secs(15), || async {
        let f = peek(format!("final:{fan_cid}")).await?;
        (f.as_object().is_some_and(|o| !o.is_empty())).then_some(f)
    })
    .await
    .unwrap_or_else(|| panic!("no on-final for the fan-out:\n{}", c.servers[0].log()));
    assert_eq!(
        fin[format!("final:{fan_cid}")],
        json!({"channel": "fanout-on-final", "phase": "on-final", "source": "asyncs.fan",
            "on_final": ["asyncs.final"], "answer": 42,
            "oks": {"asyncs.answer": true, "asyncs.fail": false, "asyncs.record": true}})
    );
    let targets = eventually(Duration::from_secs(10), || async {
        let t = peek(format!("on-target:{fan_cid}:")).await?;
        (t.as_object().map(|o| o.len()) == Some(3)).then_some(t)
    })
    .await
    .unwrap_or_else(|| panic!("not three on-target calls for the fan-out"));
    for (_, t) in targets.as_object().unwrap() {
        assert_eq!(
            (
                t["channel"].as_str(),
                t["phase"].as_str(),
                t["cid"].as_str()
            ),
            (
                Some("fanout-on-target"),
                Some("on-target"),
                Some(fan_cid.as_str())
            ),
            "{targets}"
        );
    }
    // A parallel execution naming a service that does not exist is refused whole: none of its
    // targets is stored (the one below, started after it, shows they would have run by then).
    let refused = admin2
        .invoke("asyncs.par", &json!({"out": out, "missing": true}))
        .await
        .unwrap()
        .data;
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|r| r.contains("asyncs.no-such-service")),
        "{refused}"
    );
    let par = admin2
        .invoke("asyncs.par", &json!({"out": out}))
        .await
        .unwrap()
        .data;
    let par_cid = par["cid"].as_str().unwrap().to_string();
    let targets = eventually(Duration::from_secs(10), || async {
        let t = peek(format!("on-target:{par_cid}:")).await?;
        (t.as_object().map(|o| o.len()) == Some(2)).then_some(t)
    })
    .await
    .unwrap_or_else(|| panic!("not two on-target calls for the parallel execution"));
    let fail = &targets[format!("on-target:{par_cid}:asyncs.fail")];
    assert_eq!(
        (fail["channel"].as_str(), fail["ok"].as_bool()),
        (Some("parallel-exec-on-target"), Some(false))
    );
    assert_eq!(peek(format!("final:{par_cid}")).await, Some(json!({})));
    let refused_cid = refused["cid"].as_str().unwrap_or_default();
    assert_eq!(
        peek(format!("on-target:{refused_cid}:")).await,
        Some(json!({})),
        "a target of the refused parallel execution ran"
    );
    let retry = admin1
        .invoke("asyncs.retry", &json!({}))
        .await
        .unwrap()
        .data;
    assert_eq!(retry["raised"], true);
    assert_eq!(retry["answer"]["answer"], 42);
    // With async_fallback: the failed first try hands over to durable retries `seconds` apart,
    // whose end reaches the callback, as upstream's message; once they succeed, once they give up.
    for (tag, fails, repeats, ok) in [("works", 2, 3, true), ("gives-up", 10, 2, false)] {
        let tries = dir.join(format!("flaky-{tag}.jsonl"));
        let started = admin1
            .invoke(
                "asyncs.retry-async",
                &json!({"out": tries, "fails": fails, "repeats": repeats, "tag": tag}),
            )
            .await
            .unwrap()
            .data;
        let call_cid = started["result"]
            .as_str()
            .unwrap_or_else(|| panic!("{started}"));
        let key = format!("retry-cb:{tag}");
        let called = eventually(Duration::from_secs(10), || async {
            let found = peek(key.clone()).await?;
            found.get(&key).cloned()
        })
        .await
        .unwrap_or_else(|| panic!("the invoke-retry callback ({tag}) was never called"));
        let m = &called["message"];
        assert_eq!(m["ok"], ok, "{called}");
        assert_eq!(m["call_cid"], call_cid);
        assert_eq!(m["orig_cid"], started["cid"]);
        assert_eq!(
            (m["source"].as_str(), m["target"].as_str()),
            (Some("asyncs.retry-async"), Some("asyncs.flaky"))
        );
        assert_eq!(
            (m["retry_repeats"].as_i64(), m["retry_seconds"].as_f64()),
            (Some(repeats), Some(0.2))
        );
        assert_eq!(m["context"], json!({"tag": tag}));
        let ran = lines(&tries).len() as i64;
        if ok {
            assert_eq!(m["response"], json!({"tries": fails + 1}));
            assert_eq!(ran, fails + 1);
        } else {
            assert_eq!(m["response"], Value::Null);
            assert_eq!(ran, 1 + repeats, "the first try and every retry");
        }
    }

    // Admin invoke with is_async answers the CID of a stored request.
    let mut req =
        zato_common::admin::InvokeRequest::new("asyncs.record", &json!({"out": out, "n": -1}));
    req.is_async = Some(true);
    let cid = admin2.send(&req).await.unwrap().data;
    let ran = eventually(Duration::from_secs(10), || async {
        lines(&out).into_iter().find(|l| l["n"] == -1)
    })
    .await
    .unwrap_or_else(|| panic!("the admin async request did not run"));
    assert_eq!(ran["cid"], cid);
    assert_eq!(ran["channel"], "invoke-async");

    // Stored by a server that died before running them (no claim): any server takes the
    // live one within a second; the one whose expiration passed is dropped, never run.
    let odb = zato_common::odb::Odb::connect(&c.db.cfg).await.unwrap();
    let cluster = odb.cluster_by_name(&c.name).await.unwrap().unwrap();
    let stored = |n: i64, expires_at: &str| zato_common::odb::async_requests::AsyncRequest {
        id: 0,
        cid: format!("stored{n}"),
        service: "asyncs.record".into(),
        payload: json!({"out": out, "n": n}).to_string(),
        channel: "invoke-async".into(),
        callback: None,
        in_reply_to: None,
        expires_at: Some(expires_at.to_string()),
        not_before: None,
        origin: None,
    };
    let later = zato_common::time::to_iso(chrono::Utc::now() + chrono::TimeDelta::minutes(5));
    let past = zato_common::time::to_iso(chrono::Utc::now() - chrono::TimeDelta::seconds(1));
    odb.async_put(cluster.id, &stored(-2, &past), None)
        .await
        .unwrap();
    odb.async_put(cluster.id, &stored(-3, &later), None)
        .await
        .unwrap();
    let taken = eventually(Duration::from_secs(5), || async {
        lines(&out).into_iter().find(|l| l["n"] == -3)
    })
    .await;
    assert_eq!(taken.map(|t| t["cid"].clone()), Some(json!("stored-3")));
    let dropped = eventually(Duration::from_secs(5), || async {
        let left: Option<i64> = sqlx::query_scalar("SELECT COUNT(*) FROM async_request")
            .fetch_one(odb.pool())
            .await
            .ok();
        (left == Some(0)).then_some(())
    })
    .await;
    assert!(dropped.is_some(), "the expired request was not dropped");
    assert!(
        !lines(&out).iter().any(|l| l["n"] == -2),
        "an expired request ran"
    );

    // 1,000 stored on server1, which is killed while they run.
    let started = admin1
        .invoke("asyncs.start", &json!({"out": out, "from": 0, "to": TOTAL}))
        .await
        .unwrap()
        .data;
    let cids: HashMap<i64, String> = started["cids"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(n, c)| (n as i64, c.as_str().unwrap().to_string()))
        .collect();
    assert_eq!(cids.len() as i64, TOTAL);
    if redis {
        // Stored in the Redis stream, not in the ODB.
        let in_redis = c.redis_queue().len().await.unwrap();
        assert!(in_redis > 0, "nothing in the Redis stream");
        let in_odb: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM async_request")
            .fetch_one(odb.pool())
            .await
            .unwrap();
        assert_eq!(in_odb, 0, "async requests went to the ODB");
    }
    // A scheduler's run recorded on server1 five seconds ahead, server1 killed before it
    // starts: server2 runs it at its time, once.
    let job = admin1
        .invoke(
            "zato.scheduler.job.create",
            &json!({"name": "late", "job_type": "interval_based",
            "service": "asyncs.record", "start_date": "2027-01-01T00:00:00", "hours": 1,
            "extra": json!({"out": out, "n": -4}).to_string()}),
        )
        .await
        .unwrap()
        .data;
    let planned = zato_common::schedule::format(
        chrono::Utc::now().naive_utc() + chrono::TimeDelta::seconds(5),
    );
    let fired = admin1
        .invoke(
            "zato.scheduler.job.fire",
            &json!({"id": job["id"], "planned": planned}),
        )
        .await
        .unwrap()
        .data;
    assert_eq!(fired["fired"], true, "{fired}");
    let pid1 = c.servers[0].pid().map(i64::from);
    c.servers[0].kill();
    let ran_before_kill = lines(&out)
        .iter()
        .filter(|l| l["pid"].as_i64() == pid1)
        .count();

    let all = eventually(Duration::from_secs(60), || async {
        let l = lines(&out);
        let seen: std::collections::HashSet<i64> = l
            .iter()
            .filter_map(|r| r["n"].as_i64())
            .filter(|n| *n >= 0)
            .collect();
        (seen.len() as i64 == TOTAL).then_some(l)
    })
    .await;
    let l = all.unwrap_or_else(|| {
        let seen: std::collections::HashSet<i64> =
            lines(&out).iter().filter_map(|r| r["n"].as_i64()).collect();
        panic!(
            "{} of {TOTAL} ran after the kill",
            seen.iter().filter(|n| **n >= 0).count()
        )
    });
    let mut times: HashMap<i64, usize> = HashMap::new();
    for r in l.iter().filter(|r| r["n"].as_i64().is_some_and(|n| n >= 0)) {
        let n = r["n"].as_i64().unwrap();
        *times.entry(n).or_default() += 1;
        assert_eq!(r["cid"].as_str(), cids.get(&n).map(String::as_str), "{r}");
    }
    let repeats: usize = times.values().map(|t| t - 1).sum();
    let late = eventually(Duration::from_secs(15), || async {
        let runs: Vec<Value> = lines(&out).into_iter().filter(|l| l["n"] == -4).collect();
        (!runs.is_empty()).then_some(runs)
    })
    .await
    .unwrap_or_else(|| panic!("the scheduler's run stored on the killed server never ran"));
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0]["channel"], "scheduler");
    assert_eq!(late[0]["cid"], fired["cid"]);
    assert_ne!(late[0]["pid"].as_i64(), pid1);
    let by_survivor = l.iter().filter(|r| r["pid"].as_i64() != pid1).count();
    println!(
        "{backend:?}{}: {TOTAL} async requests, {ran_before_kill} ran before server1 was killed, \
         {by_survivor} by server2 afterwards, {repeats} repeated (under way at the kill)",
        if redis { " + Redis" } else { "" }
    );
    assert!(
        repeats <= 100,
        "{repeats} requests ran twice: only those under way at the kill may"
    );
    if redis {
        let queue = c.redis_queue();
        let empty = eventually(Duration::from_secs(10), || async {
            (queue.len().await.ok()? == 0).then_some(())
        })
        .await;
        assert!(
            empty.is_some(),
            "requests that ran are left in the Redis stream"
        );
    }
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn survives_a_kill_on_sqlite() {
    survives_a_kill(Backend::Sqlite, false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn survives_a_kill_on_postgresql() {
    survives_a_kill(Backend::Postgresql, false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn survives_a_kill_on_mariadb() {
    survives_a_kill(Backend::Mysql, false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn survives_a_kill_on_redis() {
    survives_a_kill(Backend::Postgresql, true).await;
}
