//! Slow and greedy clients against a real server and a real load balancer: a head or a body
//! sent a byte at a time (each byte well within any per-read timeout) is cut off at its
//! deadline while ordinary clients are served meanwhile; connections beyond the cap wait
//! instead of exhausting file descriptors; running out of descriptors does not make the
//! accept loop spin.
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zato_tests::lb::start_lb_with;
use zato_tests::{Backend, Options, TestCluster};

/// Header deadline 1 s, body deadline 1.5 s, at most 4 connections.
fn short_deadlines(dir: &Path) {
    let conf = dir.join("config/repo/server.conf");
    let text = std::fs::read_to_string(&conf)
        .unwrap_or_else(|e| panic!("{e}"))
        .replace("header_read_timeout = 30.0", "header_read_timeout = 1.0")
        .replace("body_read_timeout = 60.0", "body_read_timeout = 1.5")
        .replace("max_connections = 10000", "max_connections = 4");
    std::fs::write(&conf, text).unwrap_or_else(|e| panic!("{e}"));
}

/// Writes `first`, then one byte of `drip` every 200 ms until the peer closes the connection
/// or answers; returns how long that took and what came back.
async fn drip(port: u16, first: &str, drip: &str) -> (Duration, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let t0 = Instant::now();
    s.write_all(first.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut got = Vec::new();
    for b in drip.bytes().cycle().take(100) {
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                got.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => {}
        }
        if s.write_all(&[b]).await.is_err() {
            break;
        }
    }
    (t0.elapsed(), String::from_utf8_lossy(&got).into_owned())
}

/// Pings `url` every 100 ms for `how_long`; returns how many succeeded and how many failed.
async fn ordinary(url: String, how_long: Duration) -> (u32, u32) {
    let http = zato_common::http::local_client();
    let (mut ok, mut failed) = (0, 0);
    let t0 = Instant::now();
    while t0.elapsed() < how_long {
        match http.get(&url).send().await {
            Ok(r) if r.status() == 200 => ok += 1,
            _ => failed += 1,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (ok, failed)
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_heads_and_bodies_are_cut_off_at_their_deadlines() {
    let cluster = TestCluster::start(
        Backend::Sqlite,
        Options {
            prepare: Some(short_deadlines),
            ..Options::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let port = cluster.servers[0].port;
    let lb = start_lb_with(&[("server1", port)], |_, _, cfg| {
        cfg.frontend.client_timeout = 1.0;
    })
    .await;

    let busy = tokio::spawn(ordinary(
        format!("http://127.0.0.1:{port}/zato/ping"),
        Duration::from_secs(3),
    ));
    let busy_lb = tokio::spawn(ordinary(lb.url("/zato/ping"), Duration::from_secs(3)));

    // A head that never ends: cut off after the 1 s header deadline, not after 20 s of drip.
    let head = "GET /zato/ping HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let (took, _) = drip(port, head, "a").await;
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "server: a dripping head was cut off after {took:?}"
    );
    let (took, _) = drip(lb.port, head, "a").await;
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "load balancer: a dripping head was cut off after {took:?}"
    );

    // A body that never ends: 408 from the server after its 1.5 s body deadline.
    let body_head = "POST /zato/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
    let (took, reply) = drip(port, body_head, " ").await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(4),
        "server: a dripping body was answered after {took:?}"
    );
    // The load balancer gives a 1000-byte body its 1 s client timeout (and 0 s more).
    let (took, _) = drip(lb.port, body_head, " ").await;
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "load balancer: a dripping body was cut off after {took:?}"
    );

    for (who, task) in [("server", busy), ("load balancer", busy_lb)] {
        let (ok, failed) = task.await.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            ok >= 10 && failed == 0,
            "{who}: ordinary clients meanwhile: {ok} served, {failed} failed"
        );
    }

    // The fifth connection waits for one of the four the cap allows to go: four idle clients
    // are dropped by the header deadline, then the fifth is served.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(
            TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t0 = Instant::now();
    let r = zato_common::http::local_client()
        .get(format!("http://127.0.0.1:{port}/zato/ping"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    assert!(
        t0.elapsed() >= Duration::from_millis(700),
        "served at once: the connection cap did not hold ({:?})",
        t0.elapsed()
    );
    drop(idle);
    drop(lb);
    cluster.finish().await;
}

/// Process CPU time (user + system) in clock ticks, from /proc.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at its closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_low_file_limit_neither_spins_nor_stops_the_server() {
    let cluster = TestCluster::start(
        Backend::Sqlite,
        Options {
            fd_limit: Some(400),
            ..Options::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let server = &cluster.servers[0];
    let log = server.log();
    assert!(
        log.contains("max_connections lowered from 10000"),
        "the cap was not fitted to the file limit:\n{log}"
    );
    let pid = server
        .pid()
        .unwrap_or_else(|| panic!("the server is not running"));
    // More idle connections than the process has descriptors for.
    let mut held = Vec::new();
    for _ in 0..500 {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", server.port)).await {
            held.push(s);
        }
    }
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let spent = cpu_ticks(pid) - before;
    // A spinning accept loop burns a whole core: 100 ticks a second.
    assert!(
        spent < 30,
        "the server used {spent} ticks in a second with connections held"
    );
    drop(held);
    let r = zato_common::http::local_client()
        .get(format!("{}/zato/ping", server.address()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    cluster.finish().await;
}
