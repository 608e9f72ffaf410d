//! A cluster across hosts: three network namespaces on one machine (`zato_tests::netns`), a
//! server on each of the first two, sharing a PostgreSQL ODB and Redis that they reach over
//! the network, and the load balancer on the third. Hot deploy, a config change, statistics
//! and async invocations cross the hosts; then the first host's link is cut: the load balancer
//! routes around it, and the async requests it held are run by the other server once their
//! leases lapse (nothing lost; the ones host 1 ran but could not mark done run again, counted
//! and reported). Its link restored, the first server serves again. Needs root, as CI has.
use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::json;
use zato_tests::netns::Net;
use zato_tests::{Backend, Hosts, Options, TestCluster, eventually};

const DEFERRED: &str = include_str!("fixtures/deferred.py");
const STATS: &str = include_str!("fixtures/stats.py");

async fn get(http: &reqwest::Client, url: &str) -> u16 {
    match http.get(url).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_across_hosts() {
    let mut net = Net::create(3).unwrap_or_else(|e| panic!("{e:#}"));
    for port in [5432, 6379] {
        net.forward(port).await.unwrap_or_else(|e| panic!("{e:#}"));
    }
    let hosts = Hosts {
        servers: vec![(net.netns(1), net.host(1)), (net.netns(2), net.host(2))],
        services: net.gateway(),
    };
    let mut c = TestCluster::start(
        Backend::Postgresql,
        Options {
            servers: 2,
            kvdb: true,
            hosts: Some(hosts),
            ..Options::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let (a, b) = (c.servers[0].admin(), c.servers[1].admin());

    // Hot deploy on host 1, served on host 2.
    zato_tests::deploy(&a, "deferred.py", DEFERRED)
        .await
        .unwrap();
    zato_tests::deploy(&a, "stats.py", STATS).await.unwrap();
    let deployed = eventually(Duration::from_secs(10), || async {
        for name in ["asyncs.record", "st.fast"] {
            let r = b
                .invoke("zato.service.is-deployed", &json!({"name": name}))
                .await
                .ok()?;
            (r.data["is_deployed"] == true).then_some(())?;
        }
        Some(())
    })
    .await;
    assert!(deployed.is_some(), "the deployment did not reach host 2");

    // A config change made on host 2 is live on host 1; the load balancer on host 3 sends
    // requests to both.
    zato_tests::create_channel(
        &b,
        "st-fast",
        "/st/fast",
        "st.fast",
        json!({"method": "GET"}),
    )
    .await
    .unwrap();
    let servers: Vec<(&str, String)> = c
        .servers
        .iter()
        .map(|s| (s.name.as_str(), format!("{}:{}", s.host, s.port)))
        .collect();
    let lb =
        zato_tests::lb::start_lb_on(&servers, &net.host(3), Some(&net.netns(3)), |_, _, cfg| {
            cfg.backend.connect_timeout = 0.5;
            cfg.backend.server_timeout = 5.0;
        })
        .await;
    let http = reqwest::Client::new();
    let url = lb.url("/st/fast");
    let live = eventually(Duration::from_secs(10), || async {
        for s in &c.servers {
            (get(&http, &format!("{}/st/fast", s.address())).await == 200).then_some(())?;
        }
        Some(())
    })
    .await;
    assert!(live.is_some(), "the channel did not reach both hosts");
    for _ in 0..40 {
        assert_eq!(get(&http, &url).await, 200);
    }
    for s in &c.servers {
        let (text, scrape) = zato_tests::scrape(&format!("{}/zato/metrics", s.address())).await;
        let calls = zato_tests::metric(
            &scrape,
            "zato_service_calls_total",
            &[("channel", "st-fast"), ("service", "st.fast")],
        );
        assert!(
            calls > 0.0,
            "{} served no request from the load balancer:\n{text}",
            s.name
        );
    }
    // Statistics from both hosts, read on either: the 40 calls through the load balancer
    // and the 2 made directly.
    let now = chrono::Utc::now().naive_utc();
    let f = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let period = json!({
        "start": f(now - chrono::Duration::minutes(5)),
        "stop": f(now + chrono::Duration::minutes(5)),
        "service_name": "st.fast",
    });
    let counted = eventually(Duration::from_secs(10), || async {
        let r = a.invoke("zato.stats.get-by-service", &period).await.ok()?;
        (r.data["usage"] == 42).then_some(())
    })
    .await;
    assert!(
        counted.is_some(),
        "statistics of both hosts did not add up to 42"
    );

    // Async requests stored on host 1, which is then cut off.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let total = 200i64;
    let r = a
        .invoke(
            "asyncs.start",
            // Long enough that host 1 cannot run them all before its leases lapse.
            &json!({"out": out.to_string_lossy(), "from": 0, "to": total, "sleep": 0.1}),
        )
        .await
        .unwrap();
    assert_eq!(
        r.data["cids"].as_array().map(Vec::len),
        Some(total as usize)
    );
    net.cut(1).unwrap();
    let cut_at = Instant::now();
    // The load balancer finds the cut host down (its own metrics say so; a request in flight
    // there meanwhile gets 504, as with HAProxy), then routes every request around it.
    let metrics_url = lb.url("/zato/metrics");
    let down = eventually(Duration::from_secs(10), || async {
        let text = http
            .get(&metrics_url)
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .any(|l| l == "zato_lb_server_up{server=\"server1\"} 0")
            .then_some(())
    })
    .await;
    assert!(down.is_some(), "the load balancer did not find host 1 down");
    eprintln!("host 1 found down {:?} after the cut", cut_at.elapsed());
    for _ in 0..20 {
        assert_eq!(
            get(&http, &url).await,
            200,
            "a request failed after the cut"
        );
    }
    // Every async request runs, those host 1 could not start on host 2.
    let all = eventually(Duration::from_secs(60), || async {
        let seen: HashSet<i64> = zato_tests::json_lines(&out)
            .iter()
            .filter_map(|l| l["n"].as_i64())
            .collect();
        (seen.len() == total as usize).then_some(())
    })
    .await;
    let runs = zato_tests::json_lines(&out);
    let distinct: HashSet<i64> = runs.iter().filter_map(|l| l["n"].as_i64()).collect();
    assert!(
        all.is_some(),
        "{} of {total} async requests ran after host 1 was cut off",
        distinct.len()
    );
    let pid1 = c.servers[0].pid().map(i64::from);
    let on_host2 = runs.iter().filter(|r| r["pid"].as_i64() != pid1).count();
    assert!(on_host2 > 0, "host 2 took over none of host 1's requests");
    eprintln!(
        "{} runs of {total} requests ({} repeats), {on_host2} on host 2, all done {:?} after the cut",
        runs.len(),
        runs.len() - total as usize,
        cut_at.elapsed()
    );

    // Host 1's link restored: it serves again.
    net.restore(1).unwrap();
    let back = eventually(Duration::from_secs(30), || async {
        (get(&http, &format!("{}/st/fast", c.servers[0].address())).await == 200).then_some(())
    })
    .await;
    assert!(
        back.is_some(),
        "host 1 did not serve again after its link came back"
    );
    drop(lb);
    c.servers[0].stop();
    c.finish().await;
}
