//! The `zato` CLI driving real servers: create, start (twice), service invoke (JSON and the
//! article's SOAP form), stop, and the error exits (not a component, server down, unknown
//! service, no pidfile, wait timeout).
use std::path::Path;
use zato_tests::cli::{fails, ok, zato};
use zato_tests::{free_port, running};

fn create_server(dir: &Path, port: u16) -> String {
    let db = dir.join("zato.db");
    let db = db.to_str().unwrap();
    let key = ok(&["crypto", "create-secret-key"]);
    ok(&["create", "odb", "--odb-db-name", db]);
    ok(&[
        "create",
        "cluster",
        "c1",
        "--odb-db-name",
        db,
        &format!("--secret-key={key}"),
        "--admin-invoke-password=-pw-1",
    ]);
    let server = dir.join("server1");
    ok(&[
        "create",
        "server",
        server.to_str().unwrap(),
        "c1",
        "server1",
        "--odb-db-name",
        db,
        &format!("--secret-key={key}"),
        "--http-host",
        "127.0.0.1",
        "--http-port",
        &port.to_string(),
    ]);
    server.to_str().unwrap().to_string()
}

/// Stops a server started with `zato start` even when the test fails half-way.
struct StopOnDrop(String);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if Path::new(&self.0).join("pidfile").exists() {
            let _ = zato(&["stop", &self.0]);
        }
    }
}

#[test]
fn start_invoke_stop() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = create_server(dir.path(), port);
    let s = server.as_str();
    let _guard = StopOnDrop(server.clone());

    assert_eq!(ok(&["start", s]), "OK");
    let pid: i32 = std::fs::read_to_string(Path::new(s).join("pidfile"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    fails(&["start", s], 9, "already running");

    // JSON in a pipe is compact.
    assert_eq!(
        ok(&["service", "invoke", s, "zato.ping"]),
        r#"{"pong":"zato"}"#
    );
    // upstream's demo.py was deployed from the pickup dir at start.
    let out = ok(&[
        "service",
        "invoke",
        s,
        "demo.my-service",
        "--payload",
        r#"{"name":"CLI"}"#,
    ]);
    assert_eq!(out, r#"{"salutation":"Howdy CLI!"}"#);
    // The article's SOAP form.
    let soap = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><ping/></soapenv:Body></soapenv:Envelope>"#;
    let out = ok(&[
        "service",
        "invoke",
        s,
        "zato.ping",
        "--data-format",
        "xml",
        "--transport",
        "soap",
        "--payload",
        soap,
    ]);
    assert_eq!(out, r#"{"pong":"zato"}"#);
    // Async: a CID at once.
    let cid = ok(&["service", "invoke", s, "zato.ping", "--is-async"]);
    assert_eq!(cid.trim_matches('"').len(), 24, "{cid}");
    fails(
        &["service", "invoke", s, "no.such.service"],
        1,
        "no.such.service",
    );
    fails(
        &["service", "invoke", s, "zato.ping", "--headers", "novalue"],
        15,
        "not key=value",
    );

    let out = ok(&["stop", s]);
    assert!(out.contains("shutting down"), "{out}");
    assert!(!Path::new(s).join("pidfile").exists());
    assert!(!running(pid), "the server process is still there");
    fails(&["stop", s], 2, "No pidfile");
    fails(
        &["service", "invoke", s, "zato.ping"],
        1,
        "Cannot reach the server",
    );
}

#[test]
fn error_exits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for args in [
        vec!["start", d],
        vec!["stop", d],
        vec!["service", "invoke", d, "zato.ping"],
    ] {
        fails(&args, 3, "doesn't seem to belong to a Zato component");
    }
    let port = free_port();
    fails(
        &[
            "wait",
            "--address",
            &format!("http://127.0.0.1:{port}"),
            "--timeout",
            "0.3",
            "--silent",
        ],
        28,
        "did not answer",
    );
    // A server that cannot start (its port is taken) reports why.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let server = create_server(dir.path(), port);
    fails(&["start", &server, "--timeout", "20"], 18, "cannot listen");
    assert!(!Path::new(&server).join("pidfile").exists());
}

#[test]
fn secrets_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let server = create_server(dir.path(), free_port());
    let s = server.as_str();
    let token = ok(&["encrypt", "--data", "-s3cret-", "--path", s]);
    assert!(token.starts_with("gAAAA"), "{token}");
    assert_eq!(ok(&["decrypt", "--data", &token, "--path", s]), "-s3cret-");
    assert_eq!(
        ok(&[
            "decrypt",
            "--data",
            &format!("zato.secf.{token}"),
            "--path",
            s
        ]),
        "-s3cret-"
    );
    let other = ok(&["crypto", "create-secret-key"]);
    fails(
        &[
            "decrypt",
            "--data",
            &token,
            &format!("--secret-key={other}"),
        ],
        15,
        "different key",
    );
    fails(&["encrypt", "--data", "x"], 14, "--path");
    assert_eq!(ok(&["component-version", s]), env!("CARGO_PKG_VERSION"));
    let d = dir.path().to_str().unwrap();
    fails(&["component-version", d], 3, "doesn't seem to belong");
    fails(
        &["encrypt", "--data", "x", "--path", d],
        3,
        "doesn't seem to belong",
    );
}
