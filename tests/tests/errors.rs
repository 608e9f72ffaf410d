//! Every bad-input class answers with a clear 4xx/5xx carrying a CID, and the server keeps
//! serving: one test per class.
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use zato_tests::{Backend, Options, TestCluster, create_channel};

const MISBEHAVE: &str = include_str!("fixtures/misbehave.py");

async fn cluster(opts: Options) -> TestCluster {
    let c = TestCluster::start(Backend::Sqlite, opts)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let admin = c.servers[0].admin();
    let payload = base64::engine::general_purpose::STANDARD.encode(MISBEHAVE);
    admin
        .invoke(
            "zato.service.upload-package",
            &json!({"payload": payload, "payload_name": "misbehave.py"}),
        )
        .await
        .unwrap();
    create_channel(&admin, "raiser", "/raiser", "test.raiser", json!({}))
        .await
        .unwrap();
    create_channel(&admin, "sleeper", "/sleeper", "test.sleeper", json!({}))
        .await
        .unwrap();
    create_channel(&admin, "spinner", "/spinner", "test.spinner", json!({}))
        .await
        .unwrap();
    create_channel(
        &admin,
        "maybe-spin",
        "/maybe-spin",
        "test.maybe-spin",
        json!({}),
    )
    .await
    .unwrap();
    create_channel(&admin, "typed", "/typed", "test.typed", json!({}))
        .await
        .unwrap();
    create_channel(
        &admin,
        "calls-down",
        "/calls-down",
        "test.calls-down",
        json!({}),
    )
    .await
    .unwrap();
    create_channel(
        &admin,
        "xml",
        "/xml",
        "test.envelope",
        json!({"data_format": "xml"}),
    )
    .await
    .unwrap();
    create_channel(
        &admin,
        "soap",
        "/soap",
        "test.envelope",
        json!({"transport": "soap", "data_format": "xml"}),
    )
    .await
    .unwrap();
    c
}

/// Asserts status, the X-Zato-CID header and that the body names that CID.
async fn expect(resp: reqwest::Response, status: u16, needle: &str) -> String {
    assert_eq!(resp.status().as_u16(), status);
    let cid = resp
        .headers()
        .get("x-zato-cid")
        .expect("every response carries X-Zato-CID")
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(cid.len(), 24);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains(&cid),
        "the body does not name the CID {cid}: {body}"
    );
    assert!(body.contains(needle), "`{needle}` not in: {body}");
    body
}

async fn still_serving(c: &TestCluster) {
    let r = zato_common::http::local_client()
        .get(format!("{}/zato/ping", c.servers[0].address()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn admin_request(name: &str, payload: &str) -> Value {
    json!({"name": name, "payload": payload, "channel": "invoke", "data_format": "json", "is_async": false})
}

#[tokio::test]
async fn malformed_json() {
    let c = cluster(Options::default()).await;
    let http = zato_common::http::local_client();
    let url = format!("{}/raiser", c.servers[0].address());
    let r = http.post(&url).body("{\"a\": ").send().await.unwrap();
    expect(r, 400, "Invalid JSON").await;
    // Also inside an admin invoke payload.
    let bad = base64::engine::general_purpose::STANDARD.encode("{\"a\": ");
    let r = http
        .post(format!("{}/zato/admin/invoke", c.servers[0].address()))
        .basic_auth("admin.invoke", Some(zato_tests::ADMIN_PASSWORD))
        .json(&admin_request("zato.ping", &bad))
        .send()
        .await
        .unwrap();
    expect(r, 400, "Invalid JSON in `payload`").await;
    still_serving(&c).await;
    c.finish().await;
}

#[tokio::test]
async fn malformed_xml() {
    let c = cluster(Options::default()).await;
    let url = format!("{}/xml", c.servers[0].address());
    let http = zato_common::http::local_client();
    let r = http.post(&url).body("<a><b></a>").send().await.unwrap();
    expect(r, 400, "Invalid XML").await;
    let r = http
        .post(&url)
        .body("<a><b>1</b></a>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "<ok>15</ok>");
    c.finish().await;
}

#[tokio::test]
async fn malformed_soap() {
    let c = cluster(Options::default()).await;
    let url = format!("{}/soap", c.servers[0].address());
    let http = zato_common::http::local_client();
    for bad in [
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>",
        "<notsoap/>",
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"/>",
    ] {
        let r = http.post(&url).body(bad).send().await.unwrap();
        let body = expect(r, 400, "Invalid SOAP").await;
        assert!(
            body.contains("<soapenv:Fault>") && body.contains("soapenv:Client"),
            "{body}"
        );
    }
    let good = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><get/></soapenv:Body></soapenv:Envelope>";
    let r = http.post(&url).body(good).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<soapenv:Body><ok>"));
    c.finish().await;
}

#[tokio::test]
async fn body_over_the_limit() {
    let c = cluster(Options {
        max_request_size: Some(3000),
        ..Default::default()
    })
    .await;
    let http = zato_common::http::local_client();
    let url = format!("{}/raiser", c.servers[0].address());
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(8192));
    expect(
        http.post(&url).body(big.clone()).send().await.unwrap(),
        413,
        "larger than the limit",
    )
    .await;
    // Without Content-Length (chunked), too.
    let stream = futures_body(big);
    expect(
        http.post(&url).body(stream).send().await.unwrap(),
        413,
        "larger than the limit",
    )
    .await;
    still_serving(&c).await;
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthenticated_internal_channels_take_small_bodies() {
    let c = cluster(Options::default()).await;
    let http = zato_common::http::local_client();
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(100 * 1024));
    for path in ["/zato/ping", "/zato/jwt/log-in", "/zato/jwt/log-out"] {
        let url = format!("{}{path}", c.servers[0].address());
        expect(
            http.post(&url).body(big.clone()).send().await.unwrap(),
            413,
            "larger than the limit of 65536 bytes",
        )
        .await;
    }
    // An authenticated internal channel still takes the server's limit.
    let r = c.servers[0]
        .admin()
        .invoke(
            "zato.ping",
            &serde_json::json!({"x": "a".repeat(100 * 1024)}),
        )
        .await;
    assert!(r.is_ok(), "{r:?}");
    still_serving(&c).await;
    c.finish().await;
}

fn futures_body(text: String) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = text
        .into_bytes()
        .chunks(512)
        .map(|c| Ok(c.to_vec()))
        .collect();
    reqwest::Body::wrap_stream(tokio_stream_iter(chunks))
}

fn tokio_stream_iter(
    items: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core_stream::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_core_stream::iter(items)
}

mod futures_core_stream {
    pub use futures_util::stream::{Stream, iter};
}

#[tokio::test]
async fn bad_base64_in_admin_invoke() {
    let c = cluster(Options::default()).await;
    let r = zato_common::http::local_client()
        .post(format!("{}/zato/admin/invoke", c.servers[0].address()))
        .basic_auth("admin.invoke", Some(zato_tests::ADMIN_PASSWORD))
        .json(&admin_request("zato.ping", "%%%not base64%%%"))
        .send()
        .await
        .unwrap();
    expect(r, 400, "Invalid base64 in `payload`").await;
    c.finish().await;
}

#[tokio::test]
async fn wrong_or_missing_credentials() {
    let c = cluster(Options::default()).await;
    let http = zato_common::http::local_client();
    let url = format!("{}/zato/admin/invoke", c.servers[0].address());
    let body = admin_request("zato.ping", "bnVsbA==");
    for req in [
        http.post(&url).json(&body),
        http.post(&url)
            .basic_auth("admin.invoke", Some("wrong"))
            .json(&body),
        http.post(&url)
            .basic_auth("pubapi", Some(zato_tests::PUBAPI_PASSWORD))
            .json(&body),
        http.post(&url)
            .header("authorization", "Basic !!!")
            .json(&body),
    ] {
        let r = req.send().await.unwrap();
        assert_eq!(
            r.headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string()),
            Some("Basic realm=\"Zato admin invoke\"".to_string())
        );
        assert_eq!(r.headers().get("content-type").unwrap(), "application/json");
        let text = expect(r, 401, "Unauthorized; cid=").await;
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["result"], "Error");
    }
    // The right ones work.
    let r = http
        .post(&url)
        .basic_auth("admin.invoke", Some(zato_tests::ADMIN_PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    c.finish().await;
}

#[tokio::test]
async fn unknown_service_and_url() {
    let c = cluster(Options::default()).await;
    let s = &c.servers[0];
    let err = s
        .admin()
        .invoke("no.such.service", &json!(null))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no.such.service") && err.contains("404"),
        "{err}"
    );
    let r = zato_common::http::local_client()
        .get(format!("{}/no/such/url", s.address()))
        .send()
        .await
        .unwrap();
    let body = expect(r, 404, "URL not found (CID:").await;
    assert!(body.starts_with("URL not found (CID:"));
    // The public invoker hides internal services and reports unknown ones the same way.
    let http = zato_common::http::local_client();
    for target in ["zato.service.get-list", "no.such.service"] {
        let r = http
            .post(format!("{}/zato/api/invoke/{target}", s.address()))
            .basic_auth("pubapi", Some(zato_tests::PUBAPI_PASSWORD))
            .send()
            .await
            .unwrap();
        expect(r, 400, &format!("No such service `{target}`")).await;
    }
    let r = http
        .get(format!("{}/zato/api/invoke/pub.zato.ping", s.address()))
        .basic_auth("pubapi", Some(zato_tests::PUBAPI_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"pong": "zato"}));
    c.finish().await;
}

#[tokio::test]
async fn service_that_raises() {
    let c = cluster(Options::default()).await;
    let s = &c.servers[0];
    let r = zato_common::http::local_client()
        .post(format!("{}/raiser", s.address()))
        .send()
        .await
        .unwrap();
    let body = expect(r, 500, "this service always fails").await;
    assert!(
        body.contains("Traceback"),
        "return_tracebacks is on: {body}"
    );
    assert!(s.log().contains("ValueError: this service always fails"));
    still_serving(&c).await;
    c.finish().await;
}

#[tokio::test]
async fn service_that_hangs() {
    let c = cluster(Options {
        service_timeout: 1.0,
        ..Default::default()
    })
    .await;
    let s = &c.servers[0];
    let http = zato_common::http::local_client();
    // A sleeping service and a busy loop both time out; the server keeps answering meanwhile.
    for path in ["/sleeper", "/spinner", "/spinner", "/sleeper", "/spinner"] {
        let start = Instant::now();
        let r = http
            .post(format!("{}{path}", s.address()))
            .json(&json!({"seconds": 30}))
            .send()
            .await
            .unwrap();
        expect(r, 504, "did not finish within").await;
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{path} took {:?}",
            start.elapsed()
        );
        still_serving(&c).await;
    }
    // Python capacity survived: a quick Python service still answers.
    let r = http
        .post(format!("{}/sleeper", s.address()))
        .json(&json!({"seconds": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"slept": true}));
    c.finish().await;
}

/// Services that proved fast run inline on the runtime threads; one that then hangs must still
/// time out on time, others must keep being served, and it must go back to the pool.
#[tokio::test]
async fn promoted_service_that_hangs() {
    let c = cluster(Options {
        service_timeout: 1.0,
        ..Default::default()
    })
    .await;
    let s = &c.servers[0];
    let http = zato_common::http::local_client();
    let post = |path: &str, body: Value| {
        http.post(format!("{}{path}", s.address()))
            .json(&body)
            .send()
    };
    // Earn the inline lane.
    for _ in 0..20 {
        for path in ["/sleeper", "/maybe-spin"] {
            let r = post(path, json!({"seconds": 0})).await.unwrap();
            let status = r.status();
            assert_eq!(status, 200, "{path}: {}", r.text().await.unwrap());
        }
    }
    // A promoted service blocks in a sleep: 504 on time, the rest is served meanwhile.
    let hang = tokio::spawn(post("/sleeper", json!({"seconds": 4})));
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..5 {
        let start = Instant::now();
        assert_eq!(post("/maybe-spin", json!({})).await.unwrap().status(), 200);
        still_serving(&c).await;
        assert!(
            start.elapsed() < Duration::from_millis(800),
            "{:?}",
            start.elapsed()
        );
    }
    let start = Instant::now();
    expect(hang.await.unwrap().unwrap(), 504, "did not finish within").await;
    assert!(start.elapsed() < Duration::from_secs(2));
    // A promoted service spins: interrupted, 504, and the server carries on.
    let start = Instant::now();
    expect(
        post("/maybe-spin", json!({"spin": true})).await.unwrap(),
        504,
        "did not finish within",
    )
    .await;
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    for _ in 0..3 {
        assert_eq!(post("/maybe-spin", json!({})).await.unwrap().status(), 200);
        still_serving(&c).await;
    }
    c.finish().await;
}

/// A request that is JSON but not an object, or an invoke payload that is not JSON, is explained.
#[tokio::test]
async fn json_that_is_not_an_object() {
    let c = cluster(Options::default()).await;
    let s = &c.servers[0];
    let http = zato_common::http::local_client();
    let url = format!("{}/typed", s.address());
    for (body, what) in [
        ("\"hello\"", "the request is the text 'hello'"),
        ("[1, 2]", "the request is a JSON array"),
        ("7", "the request is a JSON number"),
    ] {
        let r = http.post(&url).body(body).send().await.unwrap();
        let text = expect(r, 400, what).await;
        assert!(text.contains("a JSON object is expected"), "{text}");
        assert!(text.contains("Missing input: a, b"), "{text}");
    }
    // As `zato service invoke --payload hello` sends it: the text as a JSON string.
    let err = s
        .admin()
        .invoke("test.typed", &json!("hello"))
        .await
        .expect_err("accepted")
        .to_string();
    assert!(err.contains("the request is the text 'hello'"), "{err}");
    let r = http
        .post(&url)
        .body("{\"a\": 1, \"b\": 2}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    c.finish().await;
}

/// A 401 on a SOAP channel is a SOAP Fault (1.1, or 1.2 for a SOAP 1.2 request), not JSON.
#[tokio::test]
async fn soap_channels_refuse_with_a_fault() {
    let c = cluster(Options::default()).await;
    let s = &c.servers[0];
    let admin = s.admin();
    admin
        .invoke(
            "zato.security.basic-auth.create",
            &json!({"name": "soap-users", "username": "u", "password": "p", "realm": "SOAP"}),
        )
        .await
        .unwrap();
    create_channel(
        &admin,
        "secured-soap",
        "/secured-soap",
        "test.envelope",
        json!({"transport": "soap", "data_format": "xml", "security_name": "soap-users"}),
    )
    .await
    .unwrap();
    let url = format!("{}/secured-soap", s.address());
    let http = zato_common::http::local_client();
    for (content_type, ns) in [
        ("text/xml", "http://schemas.xmlsoap.org/soap/envelope/"),
        (
            "application/soap+xml",
            "http://www.w3.org/2003/05/soap-envelope",
        ),
    ] {
        let r = http
            .post(&url)
            .header("content-type", content_type)
            .basic_auth("u", Some("wrong"))
            .body("<x/>")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers().get("www-authenticate").unwrap(),
            "Basic realm=\"SOAP\""
        );
        let body = expect(r, 401, "Unauthorized; cid=").await;
        assert!(body.contains("Fault>") && body.contains(ns), "{body}");
    }
    c.finish().await;
}

/// With `return_tracebacks = false` (what `zato create server` writes), a failing service or a
/// remote system that is down sends the client no traceback, server path or remote address.
#[tokio::test]
async fn no_server_details_without_tracebacks() {
    fn no_tracebacks(dir: &std::path::Path) {
        let conf = dir.join("config/repo/server.conf");
        let text = std::fs::read_to_string(&conf)
            .unwrap()
            .replace("return_tracebacks = true", "return_tracebacks = false");
        std::fs::write(&conf, text).unwrap();
    }
    let c = cluster(Options {
        prepare: Some(no_tracebacks),
        ..Default::default()
    })
    .await;
    let s = &c.servers[0];
    let closed = zato_tests::free_port();
    s.admin()
        .invoke(
            "zato.http-soap.create",
            &json!({"name": "down", "connection": "outgoing", "transport": "plain_http",
                "host": format!("http://127.0.0.1:{closed}"), "url_path": "/internal/api"}),
        )
        .await
        .unwrap();
    let http = zato_common::http::local_client();
    for path in ["/raiser", "/calls-down"] {
        let r = http
            .post(format!("{}{path}", s.address()))
            .send()
            .await
            .unwrap();
        let body = expect(r, 500, "An error has occurred (CID").await;
        for secret in [
            "Traceback",
            ".py",
            "/tmp",
            &s.dir.to_string_lossy(),
            &closed.to_string(),
            "/internal/api",
            "always fails",
        ] {
            assert!(!body.contains(secret), "{path}: `{secret}` in {body}");
        }
    }
    assert!(
        s.log().contains("/internal/api"),
        "the log keeps the details"
    );
    c.finish().await;
}
