//! The load balancer in front of two real servers: X-Forwarded-For reaches services, weights
//! split traffic 3:1, weight 0 drains, configuration changes under load drop nothing,
//! a server stopped under load costs no failed idempotent request and gets no requests once
//! DOWN, comes back when started again; with every server down clients get upstream's 503
//! body. The agent refuses clients without a certificate and with one from another CA.
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use hyper::Method;
use serde_json::{Value, json};
use zato_ca::{Purpose, Subject};
use zato_lb::client::AgentClient;
use zato_lb::config::{LbConfig, Server};
use zato_tests::lb::{Lb, start_lb};
use zato_tests::{Backend, Options, TestCluster, eventually};

const FORWARDED: &str = "from zato.server.service import Service\n\n\nclass Forwarded(Service):\n    name = 'lbtest.forwarded'\n\n    def handle(self):\n        self.response.payload = {'forwarded_for': self.wsgi_environ.get('HTTP_X_FORWARDED_FOR')}\n";

async fn get(http: &reqwest::Client, url: &str) -> (u16, String) {
    match http.get(url).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

async fn requests(lb: &Lb, http: &reqwest::Client, n: usize) {
    for _ in 0..n {
        let (status, body) = get(http, &lb.url("/zato/ping")).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn weights_drain_failover_and_no_server() {
    let mut cluster = TestCluster::start(
        Backend::Sqlite,
        Options {
            servers: 2,
            ..Options::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let ports: Vec<(&str, u16)> = vec![
        ("server1", cluster.servers[0].port),
        ("server2", cluster.servers[1].port),
    ];
    let lb = start_lb(&ports).await;
    let http = zato_common::http::local_client();

    // X-Forwarded-For reaches the service: the client's address, appended to any given one.
    let admin = cluster.servers[0].admin();
    let code = base64::engine::general_purpose::STANDARD.encode(FORWARDED);
    admin
        .invoke(
            "zato.service.upload-package",
            &json!({"payload": code, "payload_name": "forwarded.py"}),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    zato_tests::create_channel(
        &admin,
        "fwd",
        "/lb-test/forwarded",
        "lbtest.forwarded",
        json!({}),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let seen = eventually(Duration::from_secs(3), || {
        let (http, url) = (http.clone(), lb.url("/lb-test/forwarded"));
        async move {
            let r = http
                .get(&url)
                .header("X-Forwarded-For", "10.1.2.3")
                .send()
                .await
                .ok()?;
            if r.status() != 200 {
                return None;
            }
            r.json::<Value>().await.ok()
        }
    })
    .await;
    assert_eq!(
        seen.map(|v| v["forwarded_for"].clone()),
        Some(json!("10.1.2.3, 127.0.0.1"))
    );

    // Weights 3:1 → a 3:1 split within ±10%.
    lb.set_weight("server1", 3).await;
    let (a0, _) = lb.server("server1").await;
    let (b0, _) = lb.server("server2").await;
    requests(&lb, &http, 400).await;
    let (a1, _) = lb.server("server1").await;
    let (b1, _) = lb.server("server2").await;
    let ratio = (a1 - a0) as f64 / (b1 - b0).max(1) as f64;
    assert!(
        (2.7..=3.3).contains(&ratio),
        "3:1 weights gave {ratio} ({} vs {})",
        a1 - a0,
        b1 - b0
    );

    // Clients that do not keep their connection alive still reuse server connections: the
    // proxy threads' idle pools hold at most one per thread for sequential requests.
    let one_shot = zato_common::http::local_client_builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let opened = |all: &Value| -> u64 {
        all.as_array()
            .into_iter()
            .flatten()
            .map(|s| s["connections_opened"].as_u64().unwrap_or(0))
            .sum()
    };
    let before = opened(&lb.servers().await);
    requests(&lb, &one_shot, 40).await;
    let threads = std::thread::available_parallelism().map_or(1, usize::from) as u64;
    let new = opened(&lb.servers().await) - before;
    assert!(
        new <= 2 * threads,
        "{new} server connections opened for 40 sequential one-shot requests"
    );

    // Weight 0 drains: no new requests.
    lb.set_weight("server2", 0).await;
    let (b2, _) = lb.server("server2").await;
    requests(&lb, &http, 50).await;
    assert_eq!(
        lb.server("server2").await.0,
        b2,
        "a drained server got requests"
    );
    lb.set_weight("server1", 1).await;
    lb.set_weight("server2", 1).await;

    // server2 stops under load: every GET still succeeds.
    let failures = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let stop_load = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (http, url) = (http.clone(), lb.url("/zato/ping"));
        let (failures, done, stop_load) = (failures.clone(), done.clone(), stop_load.clone());
        load.push(tokio::spawn(async move {
            while !stop_load.load(Ordering::Relaxed) {
                let (status, body) = get(&http, &url).await;
                if status != 200 {
                    eprintln!("failed under failover: {status} {body}");
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Configuration changes under load drop nothing in flight.
    for w in [2, 1] {
        lb.set_weight("server1", w).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    cluster.servers[1].stop();
    let down = eventually(Duration::from_secs(5), || async {
        (lb.server("server2").await.1 == "DOWN").then_some(())
    })
    .await;
    assert!(
        down.is_some(),
        "server2 not marked DOWN: {}",
        lb.servers().await
    );
    let (b_down, _) = lb.server("server2").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_load.store(true, Ordering::Relaxed);
    for t in load {
        let _ = t.await;
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "requests failed while server2 stopped"
    );
    assert!(
        done.load(Ordering::Relaxed) > 50,
        "too little load to mean anything"
    );
    assert_eq!(
        lb.server("server2").await.0,
        b_down,
        "requests went to a DOWN server"
    );

    // Started again: traffic returns to it.
    cluster.servers[1]
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let back = eventually(Duration::from_secs(5), || async {
        (lb.server("server2").await.1 == "UP").then_some(())
    })
    .await;
    assert!(
        back.is_some(),
        "server2 not UP again: {}",
        lb.servers().await
    );
    requests(&lb, &http, 20).await;
    assert!(
        lb.server("server2").await.0 > b_down,
        "no traffic to server2 after its return"
    );

    // Every server down: upstream's 503 JSON body.
    cluster.servers[0].stop();
    cluster.servers[1].stop();
    let (status, body) = get(&http, &lb.url("/zato/ping")).await;
    assert_eq!(status, 503, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(
        doc["zato_env"]["details"],
        "No server is available to handle the request"
    );
    assert_eq!(doc["zato_env"]["result"], "ZATO_ERROR");
    assert_eq!(
        doc["zato_env"]["cid"].as_str().map(str::len),
        Some(24),
        "{doc}"
    );
    cluster.finish().await;
}

fn client_config(ca: &Path, repo_stem: Option<(&Path, &str)>) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    for c in rustls_pki_types::CertificateDer::pem_file_iter(ca).unwrap_or_else(|e| panic!("{e}")) {
        roots
            .add(c.unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_root_certificates(roots);
    match repo_stem {
        None => builder.with_no_client_auth(),
        Some((dir, stem)) => {
            let certs = rustls_pki_types::CertificateDer::pem_file_iter(
                dir.join(format!("{stem}-cert.pem")),
            )
            .unwrap_or_else(|e| panic!("{e}"))
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
            let key = rustls_pki_types::PrivateKeyDer::from_pem_file(
                dir.join(format!("{stem}-priv-key.pem")),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            builder
                .with_client_auth_cert(certs, key)
                .unwrap_or_else(|e| panic!("{e}"))
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_requires_a_certificate_from_the_cluster_ca() {
    let lb = start_lb(&[]).await;
    let cfg = LbConfig::load(&lb.dir).unwrap_or_else(|e| panic!("{e}"));
    let repo = zato_lb::config::config_dir(&lb.dir);
    let ca_pem = repo.join(&cfg.agent.ca_certs);

    // The right certificate: calls work.
    let version = lb
        .agent()
        .call(Method::GET, "/version", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(version["version"].is_string(), "{version}");

    // No client certificate: refused in the handshake.
    let anonymous = AgentClient::new(&cfg.agent.bind, client_config(&ca_pem, None))
        .unwrap_or_else(|e| panic!("{e}"));
    let err = anonymous.call(Method::GET, "/version", None).await;
    assert!(err.is_err(), "a client without a certificate got {err:?}");

    // A certificate from another CA: refused too.
    let other = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let other_ca = other.path().join("ca");
    zato_ca::create_ca(&other_ca, &Subject::default()).unwrap_or_else(|e| panic!("{e}"));
    let foreign = zato_ca::issue(&other_ca, Purpose::LbAgent, &Subject::default())
        .unwrap_or_else(|e| panic!("{e}"));
    zato_ca::install(&foreign, other.path(), "foreign").unwrap_or_else(|e| panic!("{e}"));
    let stranger = AgentClient::new(
        &cfg.agent.bind,
        client_config(&ca_pem, Some((other.path(), "foreign"))),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = stranger.call(Method::GET, "/version", None).await;
    assert!(err.is_err(), "a certificate from another CA got {err:?}");

    // A certificate of the cluster's own CA, but issued for a server: 403, nothing changes.
    let ca = lb.dir.parent().map(|p| p.join("ca")).unwrap_or_default();
    let server_cert =
        zato_ca::issue(&ca, Purpose::Server, &Subject::default()).unwrap_or_else(|e| panic!("{e}"));
    zato_ca::install(&server_cert, other.path(), "server1").unwrap_or_else(|e| panic!("{e}"));
    let server1 = AgentClient::new(
        &cfg.agent.bind,
        client_config(&ca_pem, Some((other.path(), "server1"))),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = server1
        .call(Method::PUT, "/servers/x/weight", Some(json!({"weight": 0})))
        .await;
    assert!(
        matches!(&err, Err(e) if e.to_string().contains("not issued for the load balancer's agent")),
        "a server's certificate got {err:?}"
    );

    // With no servers at all: the 503 body, and the agent rejects a bad config whole.
    let http = zato_common::http::local_client();
    let (status, body) = get(&http, &lb.url("/anything")).await;
    assert_eq!(status, 503, "{body}");
    // Each bad config is refused whole, naming what is wrong.
    let refused = |bad: LbConfig, needle: &'static str| {
        let agent = lb.agent();
        async move {
            let r = agent
                .call(
                    Method::PUT,
                    "/config",
                    Some(serde_json::to_value(&bad).unwrap_or_default()),
                )
                .await;
            assert!(
                matches!(&r, Err(e) if e.to_string().contains(needle)),
                "{needle}: {r:?}"
            );
        }
    };
    let mut bad = cfg.clone();
    bad.servers.push(Server {
        name: "x".into(),
        address: "not-an-address".into(),
        weight: 1,
        maintenance: false,
    });
    refused(bad, "not-an-address").await;
    // A health-check path that would split the check's request line, a period that overflows.
    let mut bad = cfg.clone();
    bad.health.path = "/zato/ping HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /".into();
    refused(bad, "health.path").await;
    let mut bad = cfg.clone();
    bad.health.interval = 1e20;
    refused(bad, "health.interval").await;
    assert_eq!(
        LbConfig::load(&lb.dir).ok(),
        Some(cfg),
        "a refused config changed lb.conf"
    );
}

/// A hand-written HTTP/1.1 server: answers with a chunked body, a close-delimited body, or
/// echoes a Content-Length body, so that every response framing goes through the proxy.
async fn raw_backend() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let head_end = loop {
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let mut chunk = [0u8; 4096];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = buf[head_end..head_end + len].to_vec();
                    buf.drain(..head_end + len);
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    let reply: Vec<u8> = match path.as_str() {
                        "/chunked" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-T: 1\r\n\r\n".to_vec(),
                        "/close" => b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-close".to_vec(),
                        _ => {
                            let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
                            r.extend_from_slice(&body);
                            r
                        }
                    };
                    if s.write_all(&reply).await.is_err() {
                        return;
                    }
                    if path == "/close" {
                        let _ = s.shutdown().await;
                        return;
                    }
                }
            });
        }
    });
    port
}

/// Raw request bytes to the load balancer; everything it sends back until it closes or
/// `expect` responses have come.
async fn raw_exchange(port: u16, request: &[u8], wait: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    s.write_all(request).await.unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(wait, s.read(&mut chunk)).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_framing_passes_through() {
    let backend = raw_backend().await;
    let lb = start_lb(&[("raw", backend)]).await;
    let http = zato_common::http::local_client();
    let text = |url: String| {
        let http = http.clone();
        async move {
            http.get(&url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .unwrap_or_else(|e| panic!("{url}: {e}"))
                .text()
                .await
                .unwrap_or_default()
        }
    };
    // Chunked (with an extension and a trailer) and close-delimited bodies, twice each on
    // the same client connection.
    for _ in 0..2 {
        assert_eq!(text(lb.url("/chunked")).await, "hello world");
        assert_eq!(text(lb.url("/close")).await, "until-close");
    }
    // A Content-Length body both ways.
    let echoed = http
        .post(lb.url("/echo"))
        .body("abc=1&x=2")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(echoed, "abc=1&x=2");
    // Two pipelined requests in one write: two answers, in order.
    let two = raw_exchange(
        lb.port,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nonePOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\ntwo",
        Duration::from_secs(5),
    )
    .await;
    let (a, b) = (two.find("\r\n\r\none"), two.find("\r\n\r\ntwo"));
    assert!(matches!((a, b), (Some(a), Some(b)) if a < b), "{two}");
    // HTTP/1.0 and a chunked request body go through the general path.
    let old = raw_exchange(
        lb.port,
        b"POST /echo HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi",
        Duration::from_secs(5),
    )
    .await;
    assert!(
        old.starts_with("HTTP/1.0 200") && old.ends_with("hi"),
        "{old}"
    );
    let chunked_in = raw_exchange(
        lb.port,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(
        chunked_in.starts_with("HTTP/1.1 200") && chunked_in.ends_with("abc"),
        "{chunked_in}"
    );
    // A head too large: 431 with upstream's JSON body.
    let huge = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(70_000));
    let refused = raw_exchange(lb.port, huge.as_bytes(), Duration::from_secs(5)).await;
    assert!(
        refused.starts_with("HTTP/1.1 431"),
        "{}",
        &refused[..refused.len().min(200)]
    );
    assert!(refused.contains("ZATO_ERROR"), "{refused}");
}

/// `GET /zato/metrics` through the load balancer is the load balancer's own (per-server
/// requests, errors, connections, latency, up/down), in Prometheus text format; it is never
/// forwarded to a server, whose metrics stay on its own port.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_the_load_balancers_own() {
    let cluster = TestCluster::start(
        Backend::Sqlite,
        Options {
            servers: 2,
            ..Options::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let ports: Vec<(&str, u16)> = vec![
        ("server1", cluster.servers[0].port),
        ("server2", cluster.servers[1].port),
    ];
    let lb = start_lb(&ports).await;
    let http = zato_common::http::local_client();
    requests(&lb, &http, 10).await;
    for path in ["/zato/metrics", "/zato/metrics?from=prometheus"] {
        let (text, scrape) = zato_tests::scrape(&lb.url(path)).await;
        let sum = |name: &str| zato_tests::metric(&scrape, name, &[]);
        assert_eq!(sum("zato_lb_requests_total"), 10.0, "{text}");
        assert_eq!(sum("zato_lb_server_up"), 2.0, "{text}");
        assert!(
            !scrape
                .samples
                .iter()
                .any(|s| s.metric.starts_with("zato_service_")),
            "a server's metrics came through the load balancer: {text}"
        );
    }
    let (status, servers_own) = get(
        &http,
        &format!("{}/zato/metrics", cluster.servers[0].address()),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        servers_own.contains("zato_service_calls_total"),
        "{servers_own}"
    );
    cluster.finish().await;
}
