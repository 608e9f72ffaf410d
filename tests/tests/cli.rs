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
    // A server made for real use never sends tracebacks to clients (quickstart does).
    let conf = std::fs::read_to_string(server.join("config/repo/server.conf")).unwrap();
    assert!(conf.contains("return_tracebacks = false"), "{conf}");
    // ... and has its own virtualenv for services' packages, made on the embedded Python.
    assert!(conf.contains("virtualenv = \"venv\""), "{conf}");
    assert!(server.join("venv/bin/python").exists());
    assert!(server.join("venv/pyvenv.cfg").exists());
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
    let pidfile = std::fs::read_to_string(Path::new(s).join("pidfile")).unwrap();
    assert!(
        pidfile.ends_with('\n'),
        "{pidfile:?}: a text file ends with a newline"
    );
    let pid: i32 = pidfile.trim().parse().unwrap();
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
    assert!(
        out.contains("<soapenv:Body><response><pong>zato</pong></response></soapenv:Body>"),
        "{out}"
    );
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

/// A pidfile whose pid now belongs to another program: `zato stop` leaves that program
/// alone, and `zato start` does not take it for the component.
#[test]
fn a_reused_pid_is_never_signalled() {
    let dir = tempfile::tempdir().unwrap();
    let server = create_server(dir.path(), free_port());
    let mut other = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = other.id() as i32;
    std::fs::write(Path::new(&server).join("pidfile"), pid.to_string()).unwrap();
    let out = ok(&["stop", &server]);
    assert!(out.contains("another program"), "{out}");
    assert!(
        running(pid),
        "zato stop signalled a process that is not the server"
    );
    assert!(!Path::new(&server).join("pidfile").exists());
    std::fs::write(Path::new(&server).join("pidfile"), pid.to_string()).unwrap();
    let _guard = StopOnDrop(server.clone());
    ok(&["start", &server]);
    ok(&["stop", &server]);
    assert!(running(pid), "the other program was stopped");
    let _ = other.kill();
    let _ = other.wait();
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

/// Upstream's shortcuts: Basic Auth and API key definitions, a REST channel secured by each,
/// a password change, and deleting them again — each live at once.
#[tokio::test(flavor = "multi_thread")]
async fn security_and_rest_channel_shortcuts() {
    use zato_tests::{Backend, Options, TestCluster};
    let options = Options {
        servers: 2,
        ..Options::default()
    };
    let cluster = TestCluster::start(Backend::Sqlite, options)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let server = &cluster.servers[0];
    let path = server.dir.to_string_lossy().into_owned();
    let p = path.as_str();
    // Changes are made through server 1 and tried on server 2 at once: the commands return
    // only when every server has applied them.
    let url = format!("{}/shortcut/ping", cluster.servers[1].address());
    let http = zato_common::http::local_client();
    let get = |user: &'static str, pw: &'static str| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            http.get(&url)
                .basic_auth(user, Some(pw))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };

    let out = ok(&[
        "create",
        "basic-auth",
        "--path",
        p,
        "--name",
        "crm",
        "--username",
        "crm-user",
        "--password",
        "p-1",
    ]);
    assert!(out.contains(r#""name":"crm""#), "{out}");
    ok(&[
        "create-rest-channel",
        "--path",
        p,
        "--name",
        "sc-ping",
        "--url-path",
        "/shortcut/ping",
        "--service",
        "zato.ping",
        "--method",
        "get",
        "--basic-auth",
        "crm",
    ]);
    assert_eq!(get("crm-user", "p-1").await, 200);
    assert_eq!(get("crm-user", "wrong").await, 401);

    ok(&[
        "change-password",
        "--path",
        p,
        "--name",
        "crm",
        "--password",
        "p-2",
    ]);
    assert_eq!(get("crm-user", "p-2").await, 200);
    assert_eq!(get("crm-user", "p-1").await, 401);
    fails(
        &["change-password", "--path", p, "--name", "crm"],
        14,
        "--password",
    );

    // An API key on a second channel.
    ok(&[
        "create",
        "api-key",
        "--path",
        p,
        "--name",
        "partner",
        "--password",
        "key-1",
    ]);
    ok(&[
        "create-rest-channel",
        "--path",
        p,
        "--name",
        "sc-key",
        "--url-path",
        "/shortcut/key",
        "--service",
        "zato.ping",
        "--api-key",
        "partner",
    ]);
    let key_url = format!("{}/shortcut/key", server.address());
    let with_key = |key: &'static str| {
        let (http, url) = (http.clone(), key_url.clone());
        async move {
            http.get(&url)
                .header("X-API-Key", key)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(with_key("key-1").await, 200);
    assert_eq!(with_key("key-2").await, 401);

    // A definition still used by a channel cannot go; after the channel it can.
    let out = zato(&["delete", "basic-auth", "--path", p, "--name", "crm"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    ok(&["delete-rest-channel", "--path", p, "--name", "sc-ping"]);
    assert_eq!(get("crm-user", "p-2").await, 404);
    ok(&["delete", "basic-auth", "--path", p, "--name", "crm"]);
    ok(&["delete-rest-channel", "--path", p, "--name", "sc-key"]);
    ok(&["delete", "api-key", "--path", p, "--name", "partner"]);
    fails(
        &["delete-rest-channel", "--path", p, "--name", "sc-key"],
        1,
        "No channel named `sc-key`",
    );
    // Not a server directory.
    fails(
        &[
            "create",
            "basic-auth",
            "--path",
            "/tmp",
            "--name",
            "x",
            "--username",
            "y",
        ],
        3,
        "doesn't seem to belong to a Zato component",
    );
    cluster.finish().await;
}

/// The SOAP channel and outgoing connection commands create what they say (seen through the
/// admin API), delete it, and refuse to delete it twice; `--pretty` indents answers.
#[tokio::test(flavor = "multi_thread")]
async fn connection_shortcuts() {
    use zato_tests::{Backend, Options, TestCluster};
    let cluster = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let server = &cluster.servers[0];
    let path = server.dir.to_string_lossy().into_owned();
    let p = path.as_str();
    let host = server.address();
    let db = server
        .dir
        .join("shortcuts.db")
        .to_string_lossy()
        .into_owned();
    let creates: [&[&str]; 4] = [
        &[
            "create-soap-channel",
            "--name",
            "sc-soap",
            "--url-path",
            "/sc/soap",
            "--service",
            "zato.ping",
        ],
        &[
            "create-outgoing-rest",
            "--name",
            "sc-rest",
            "--host",
            &host,
            "--url-path",
            "/zato/ping",
            "--method",
            "get",
        ],
        &[
            "create-outgoing-soap",
            "--name",
            "sc-out-soap",
            "--host",
            &host,
            "--url-path",
            "/ws",
            "--soap-action",
            "ping",
        ],
        &[
            "create-outgoing-sql",
            "--name",
            "sc-sql",
            "--engine",
            "sqlite",
            "--db-name",
            &db,
        ],
    ];
    for args in creates {
        let mut all = vec![args[0], "--path", p];
        all.extend(&args[1..]);
        ok(&all);
    }
    let listed =
        |service: &str, payload: &str| ok(&["service", "invoke", p, service, "--payload", payload]);
    let channels = listed(
        "zato.http-soap.get-list",
        r#"{"connection": "channel", "transport": "soap"}"#,
    );
    assert!(channels.contains(r#""name":"sc-soap""#), "{channels}");
    let rest = listed(
        "zato.http-soap.get-list",
        r#"{"connection": "outgoing", "transport": "plain_http"}"#,
    );
    assert!(rest.contains(r#""name":"sc-rest""#), "{rest}");
    let soap = listed(
        "zato.http-soap.get-list",
        r#"{"connection": "outgoing", "transport": "soap"}"#,
    );
    assert!(
        soap.contains(r#""name":"sc-out-soap""#) && soap.contains("ping"),
        "{soap}"
    );
    let sql = listed("zato.outgoing.sql.get-list", "{}");
    assert!(sql.contains(r#""name":"sc-sql""#), "{sql}");
    let pretty = ok(&["service", "invoke", p, "zato.ping", "--pretty"]);
    assert_eq!(pretty, "{\n  \"pong\": \"zato\"\n}");
    for (command, name) in [
        ("delete-soap-channel", "sc-soap"),
        ("delete-outgoing-rest", "sc-rest"),
        ("delete-outgoing-soap", "sc-out-soap"),
        ("delete-outgoing-sql", "sc-sql"),
    ] {
        ok(&[command, "--path", p, "--name", name]);
        let again = zato(&[command, "--path", p, "--name", name]);
        assert_eq!(again.status.code(), Some(1), "{command} twice: {again:?}");
    }
    let sql = listed("zato.outgoing.sql.get-list", "{}");
    assert!(!sql.contains("sc-sql"), "{sql}");
    cluster.finish().await;
}
