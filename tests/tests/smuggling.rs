//! Request smuggling through the load balancer: each ambiguous way of framing a request is
//! sent, raw, through the real load balancer to a real server, with a body that is itself a
//! request for a service that records every call. The load balancer must refuse the request
//! or forward its body as a body: the recording service must never run for it.
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zato_tests::lb::start_lb;
use zato_tests::{Backend, Options, TestCluster};

/// The load balancer forwards the request, body and all, to the server.
const FORWARDED: u16 = 0;

/// Raw request bytes and what the load balancer must answer: a status code of its own, or
/// FORWARDED (the server's answer, whatever it is; /zato/ping refuses a body that is not JSON).
fn forms(smuggled: &str) -> Vec<(&'static str, String, u16)> {
    let n = smuggled.len();
    let head = "POST /zato/ping HTTP/1.1\r\nHost: lb\r\n";
    vec![
        (
            "Connection names Content-Length",
            format!("{head}Connection: content-length\r\nContent-Length: {n}\r\n\r\n{smuggled}"),
            FORWARDED,
        ),
        (
            "Connection names Host and Content-Length",
            format!(
                "{head}Connection: keep-alive, Content-Length, Host\r\nContent-Length: {n}\r\n\r\n{smuggled}"
            ),
            FORWARDED,
        ),
        (
            "Content-Length with Transfer-Encoding",
            format!(
                "{head}Content-Length: {n}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            ),
            400,
        ),
        (
            "Transfer-Encoding before Content-Length",
            format!(
                "{head}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n{smuggled}"
            ),
            400,
        ),
        (
            "two different Content-Lengths",
            format!("{head}Content-Length: 0\r\nContent-Length: {n}\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "a signed Content-Length",
            format!("{head}Content-Length: +{n}\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "a Content-Length with a space inside",
            format!("{head}Content-Length: 0 {n}\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "Transfer-Encoding other than exactly chunked",
            format!("{head}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "Transfer-Encoding with a prefix",
            format!("{head}Transfer-Encoding: xchunked\r\nContent-Length: {n}\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "obs-fold",
            format!("{head}X-Folded: a\r\n Content-Length: {n}\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "whitespace before a colon",
            format!("{head}Content-Length : {n}\r\n\r\n{smuggled}"),
            400,
        ),
    ]
}

/// Sends `raw` on a new connection and reads until the load balancer closes it or goes quiet.
async fn exchange(port: u16, raw: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    s.write_all(raw.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // Two responses would come back to back; half a second of silence ends the read.
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn ambiguous_framing_never_reaches_a_service() {
    let cluster = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let hits = cluster.servers[0].dir.join("smuggled-hits.txt");
    let code = format!(
        "from zato.server.service import Service\n\n\nclass Record(Service):\n    name = 'smuggle.record'\n\n    def handle(self):\n        with open({:?}, 'a') as f:\n            f.write('hit\\n')\n",
        hits.display().to_string()
    );
    let admin = cluster.servers[0].admin();
    zato_tests::deploy(&admin, "smuggle.py", &code)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    zato_tests::create_channel(&admin, "smuggled", "/smuggled", "smuggle.record", json!({}))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let lb = start_lb(&[("server1", cluster.servers[0].port)]).await;
    let count = || {
        std::fs::read_to_string(&hits)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };

    // The recording service works through the load balancer (so the test can fail).
    let control = "GET /smuggled HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n";
    let reply = exchange(lb.port, control).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert_eq!(count(), 1, "the control request was not recorded");

    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: lb\r\n\r\n";
    for (what, raw, status) in forms(smuggled) {
        std::fs::write(&hits, "").unwrap_or_else(|e| panic!("{e}"));
        let reply = exchange(lb.port, &raw).await;
        // The server marks its responses with a CID; the load balancer's refusals have none.
        let from_server = reply.to_ascii_lowercase().contains("x-zato-cid:");
        if status == FORWARDED {
            assert!(from_server, "{what}: not forwarded:\n{reply}");
        } else {
            assert!(
                reply.starts_with(&format!("HTTP/1.1 {status} ")) && !from_server,
                "{what}: expected the load balancer's {status}, got:\n{reply}"
            );
        }
        // Exactly one response: a second one would be the smuggled request's.
        assert_eq!(
            reply.matches("HTTP/1.1 ").count(),
            1,
            "{what}: more than one response:\n{reply}"
        );
        // A smuggled request ran during the half second of silence `exchange` waited for;
        // a control request sent afterwards must be the only call recorded.
        let after = exchange(lb.port, control).await;
        assert!(after.starts_with("HTTP/1.1 200"), "{after}");
        assert_eq!(
            count(),
            1,
            "{what}: the body reached the service behind /smuggled as a request of its own"
        );
    }
    drop(lb);
    cluster.finish().await;
}
