//! Statistics against a counted workload on two servers: usage, errors and times per service,
//! "most used" and "slowest" over a period, CSV that matches the JSON, one service's
//! statistics, the stats table and a day's summary; sampled request/response pairs (one call
//! in N, configured on every server) and slow responses; `/zato/metrics` parsed with a
//! Prometheus text parser; statistics deleted by period; counts written at shutdown survive a
//! restart.
use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use zato_common::admin::AdminClient;
use zato_tests::{Backend, Options, TestCluster, eventually};

const SERVICES: &str = include_str!("fixtures/stats.py");

fn period() -> (String, String) {
    let now = chrono::Utc::now().naive_utc();
    let f = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    (
        f(now - chrono::Duration::minutes(10)),
        f(now + chrono::Duration::minutes(10)),
    )
}

async fn call(admin: &AdminClient, service: &str, payload: Value) -> Value {
    admin
        .invoke(service, &payload)
        .await
        .unwrap_or_else(|e| panic!("{service} {payload}: {e}"))
        .data
}

/// Our services' rows of a ranking, by name, in the order the server ranked them.
fn ours(list: &Value) -> Vec<Value> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .filter(|e| {
            e["service_name"]
                .as_str()
                .is_some_and(|n| n.starts_with("st."))
        })
        .cloned()
        .collect()
}

async fn ranking(admin: &AdminClient, n_type: &str) -> Vec<Value> {
    let (start, stop) = period();
    let list = call(
        admin,
        "zato.stats.trends.get-trends",
        json!({"start": start, "stop": stop, "n": 0, "n_type": n_type}),
    )
    .await;
    ours(&list)
}

fn usage_of(rows: &[Value], name: &str) -> i64 {
    rows.iter()
        .find(|r| r["service_name"] == name)
        .and_then(|r| r["usage"].as_i64())
        .unwrap_or(0)
}

async fn statistics_on(backend: Backend) {
    let c = TestCluster::start(
        backend,
        Options {
            servers: 2,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let (a, b) = (c.servers[0].admin(), c.servers[1].admin());
    zato_tests::deploy(&a, "stats.py", SERVICES).await.unwrap();
    zato_tests::create_channel(&a, "st-fast", "/st/fast", "st.fast", json!({}))
        .await
        .unwrap();
    // One call in 10 of st.fast sampled; st.slow's calls over 50 ms kept.
    call(
        &a,
        "zato.service.configure-request-response",
        json!({"name": "st.fast", "sample_req_resp_freq": 10}),
    )
    .await;
    let slow = call(&a, "zato.service.get-by-name", json!({"name": "st.slow"})).await;
    call(
        &a,
        "zato.service.edit",
        json!({"id": slow["id"], "slow_threshold": 50}),
    )
    .await;
    let ready = eventually(Duration::from_secs(10), || async {
        for admin in [&a, &b] {
            let r = admin
                .invoke(
                    "zato.service.get-request-response",
                    &json!({"name": "st.fast"}),
                )
                .await
                .ok()?;
            (r.data["sample_req_resp_freq"] == 10).then_some(())?;
            let d = admin
                .invoke("zato.service.is-deployed", &json!({"name": "st.slow"}))
                .await
                .ok()?;
            (d.data["is_deployed"] == true).then_some(())?;
        }
        Some(())
    })
    .await;
    assert!(
        ready.is_some(),
        "the configuration did not reach both servers"
    );

    // The workload.
    let http = reqwest::Client::new();
    let url = format!("{}/st/fast", c.servers[0].address());
    for n in 0..30 {
        let r = http
            .post(&url)
            .body(format!("{{\"n\": {n}}}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    for n in 0..20 {
        call(&b, "st.fast", json!({"m": n})).await;
    }
    for _ in 0..5 {
        call(&b, "st.slow", json!({})).await;
    }
    for _ in 0..3 {
        assert!(a.invoke("st.fail", &json!({})).await.is_err());
    }

    // Most used, with server2's counts written within its flush interval.
    let used = eventually(Duration::from_secs(10), || async {
        let r = ranking(&a, "usage").await;
        (usage_of(&r, "st.fast") == 50 && usage_of(&r, "st.slow") == 5).then_some(r)
    })
    .await
    .unwrap_or_else(|| panic!("counts never matched the workload"));
    let names: Vec<&str> = used
        .iter()
        .map(|r| r["service_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["st.fast", "st.slow", "st.fail"], "most used first");
    let fail = &used[2];
    assert_eq!(
        (fail["usage"].as_i64(), fail["errors"].as_i64()),
        (Some(3), Some(3))
    );
    let trend: i64 = used[0]["usage_trend"]
        .as_str()
        .unwrap()
        .split(',')
        .map(|p| p.parse::<i64>().unwrap())
        .sum();
    assert_eq!(trend, 50, "the trend adds up to the usage: {}", used[0]);

    // Slowest.
    let slowest = ranking(&a, "mean").await;
    assert_eq!(slowest[0]["service_name"], "st.slow", "{slowest:?}");
    let mean = slowest[0]["mean"].as_f64().unwrap();
    assert!((60.0..1000.0).contains(&mean), "mean {mean}");
    assert!(slowest[0]["min_resp_time"].as_f64().unwrap() >= 60.0);
    assert!(slowest[0]["max_resp_time"].as_f64().unwrap() >= mean);

    // CSV matches the JSON.
    let (start, stop) = period();
    let csv = call(
        &b,
        "zato.stats.get-csv",
        json!({"start": start, "stop": stop, "n_type": "usage"}),
    )
    .await;
    assert_eq!(csv["name"], "zato-stats.csv");
    let mut reader = csv::Reader::from_reader(csv["data"].as_str().unwrap().as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "start",
            "stop",
            "service_name",
            "usage",
            "rate",
            "usage_perc_all_services",
            "time_perc_all_services",
            "all_services_usage",
            "usage_trend"
        ]
    );
    let json_now = ranking(&b, "usage").await;
    let mut from_csv: HashMap<String, Vec<String>> = HashMap::new();
    for rec in reader.records() {
        let rec = rec.unwrap();
        from_csv.insert(rec[2].to_string(), rec.iter().map(String::from).collect());
    }
    for row in &json_now {
        let name = row["service_name"].as_str().unwrap();
        let rec = &from_csv[name];
        assert_eq!(rec[3], row["usage"].to_string(), "{name}");
        assert_eq!(
            rec[4].parse::<f64>().unwrap(),
            row["rate"].as_f64().unwrap()
        );
        assert_eq!(rec[8], row["usage_trend"].as_str().unwrap(), "{name}");
    }

    // One service; the stats table; today's summary.
    let one = call(
        &b,
        "zato.stats.get-by-service",
        json!({"start": start, "stop": stop, "service_id": slow["id"]}),
    )
    .await;
    assert_eq!(
        (one["service_name"].as_str(), one["usage"].as_i64()),
        (Some("st.slow"), Some(5))
    );
    let table = call(&a, "zato.service.get-stats-table", json!({})).await;
    let fast_row = table
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "st.fast")
        .unwrap_or_else(|| panic!("no st.fast in {table}"));
    assert_eq!(fast_row["item_total_usage"], 50);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let day = call(
        &a,
        "zato.stats.summary.get-summary-by-day",
        json!({"start": today, "n": 0, "n_type": "usage"}),
    )
    .await;
    assert_eq!(usage_of(&ours(&day), "st.fast"), 50);
    let bad = a
        .invoke(
            "zato.stats.trends.get-trends",
            &json!({"start": "yesterday", "stop": stop, "n": 1, "n_type": "usage"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(bad.contains("`start` is not a UTC date and time"), "{bad}");
    let bad = a
        .invoke(
            "zato.stats.trends.get-trends",
            &json!({"start": start, "stop": stop, "n": 1, "n_type": "fastest"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(bad.contains("`n_type` must be `mean`"), "{bad}");

    // Samples: one in 10 of each server's calls of st.fast.
    let sample = call(
        &a,
        "zato.service.get-request-response",
        json!({"name": "st.fast"}),
    )
    .await;
    assert_eq!(sample["sample_req_resp_freq"], 10);
    assert!(
        sample["sample_cid"].as_str().is_some_and(|c| !c.is_empty()),
        "{sample}"
    );
    assert!(
        sample["sample_resp"].as_str().unwrap().contains("echo"),
        "{sample}"
    );
    // Slow responses: every call of st.slow.
    let slow_list = call(
        &a,
        "zato.service.slow-response.get-list",
        json!({"name": "st.slow"}),
    )
    .await;
    let slow_list = slow_list.as_array().unwrap();
    assert_eq!(slow_list.len(), 5, "{slow_list:?}");
    assert!(
        slow_list
            .iter()
            .all(|s| s["proc_time"].as_i64().unwrap() >= 60)
    );
    let one_slow = call(
        &a,
        "zato.service.slow-response.get",
        json!({"name": "st.slow", "cid": slow_list[0]["cid"]}),
    )
    .await;
    assert!(
        one_slow["resp"].as_str().unwrap().contains("slept"),
        "{one_slow}"
    );

    // Prometheus metrics of server1: its 30 REST calls and 3 failures.
    let (_, scrape) = zato_tests::scrape(&format!("{}/zato/metrics", c.servers[0].address())).await;
    let value = |name: &str, labels: &[(&str, &str)]| zato_tests::metric(&scrape, name, labels);
    assert_eq!(
        value(
            "zato_service_calls_total",
            &[("service", "st.fast"), ("channel", "st-fast")]
        ),
        30.0
    );
    assert_eq!(
        value(
            "zato_service_errors_total",
            &[("service", "st.fail"), ("kind", "raised")]
        ),
        3.0
    );
    let histogram = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "zato_service_duration_seconds"
                && s.labels.get("service") == Some("st.fast")
                && s.labels.get("channel") == Some("st-fast")
        })
        .map(|s| s.value.clone());
    match histogram {
        Some(prometheus_parse::Value::Histogram(buckets)) => {
            let last = buckets.last().map(|b| b.count);
            assert_eq!(last, Some(30.0), "{buckets:?}");
        }
        other => panic!("no latency histogram for st.fast: {other:?}"),
    }
    assert!(value("zato_python_threads", &[]) >= 1.0);
    assert!(value("zato_deploys_total", &[]) >= 1.0);
    let post = http
        .post(format!("{}/zato/metrics", c.servers[0].address()))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);

    // Upstream's statistics attributes of a service: its usage (this call included), its
    // threshold and, in after_handle, how long handle took.
    let mut attrs = Value::Null;
    for _ in 0..3 {
        attrs = call(&a, "st.attrs", json!({})).await;
    }
    assert_eq!(attrs["usage"], 3, "{attrs}");
    assert_eq!(attrs["slow_threshold"], 99999, "{attrs}");
    assert!(attrs["processing_time"].as_i64().unwrap() >= 20, "{attrs}");
    assert!(attrs["raw_ms"].as_f64().unwrap() >= 20.0, "{attrs}");

    // Deleted by period.
    call(
        &a,
        "zato.stats.delete",
        json!({"start": start, "stop": stop}),
    )
    .await;
    assert!(ranking(&b, "usage").await.is_empty());
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn statistics_on_sqlite() {
    statistics_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn statistics_on_postgresql() {
    statistics_on(Backend::Postgresql).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn statistics_on_mariadb() {
    statistics_on(Backend::Mysql).await;
}

/// Counts not yet written when a server stops are written as it stops, and survive its restart.
#[tokio::test(flavor = "multi_thread")]
async fn counts_are_written_at_shutdown_and_survive_a_restart() {
    fn rarely(dir: &std::path::Path) {
        let conf = dir.join("config/repo/server.conf");
        let text = std::fs::read_to_string(&conf).unwrap();
        let text = text.replace("flush_interval = 1.0", "flush_interval = 3600.0");
        assert!(
            text.contains("flush_interval = 3600.0"),
            "no [stats] in {text}"
        );
        std::fs::write(&conf, text).unwrap();
    }
    let mut c = TestCluster::start(
        Backend::Sqlite,
        Options {
            prepare: Some(rarely),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let a = c.servers[0].admin();
    zato_tests::deploy(&a, "stats.py", SERVICES).await.unwrap();
    for _ in 0..7 {
        call(&a, "st.fast", json!({})).await;
    }
    c.servers[0].stop();
    c.servers[0].start().await.unwrap();
    let a = c.servers[0].admin();
    let (start, stop) = period();
    let rows = call(
        &a,
        "zato.stats.summary.get-summary-by-range",
        json!({"start": start, "stop": stop, "n": 0, "n_type": "usage"}),
    )
    .await;
    assert_eq!(usage_of(&ours(&rows), "st.fast"), 7, "{rows}");

    // `zato stats` in each format, and a clear error for a bad span.
    let dir = c.servers[0].dir.to_string_lossy().to_string();
    let csv = zato_tests::cli::ok(&["stats", &dir, "--format", "csv", "-n", "0"]);
    assert!(
        csv.starts_with("start,stop,service_name,usage,rate,"),
        "{csv}"
    );
    assert!(csv.lines().any(|l| l.contains(",st.fast,7,")), "{csv}");
    let json: Value = serde_json::from_str(&zato_tests::cli::ok(&[
        "stats", &dir, "--by", "mean", "--last", "1d", "--format", "json",
    ]))
    .unwrap();
    assert_eq!(usage_of(&ours(&json), "st.fast"), 7, "{json}");
    let table = zato_tests::cli::ok(&["stats", &dir]);
    assert!(
        table.contains("st.fast") && table.contains("mean ms"),
        "{table}"
    );
    zato_tests::cli::fails(
        &["stats", &dir, "--last", "5y"],
        15,
        "is not a span of time",
    );
    c.finish().await;
}
