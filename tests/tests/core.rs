//! Two real servers on one ODB, for each of SQLite, PostgreSQL and MariaDB: hot deploy through
//! the pickup dir, REST channels and admin invoke, the broken-file rule, SimpleIO validation,
//! `self.invoke` between Python services, and a restart that reloads packages from the ODB.
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zato_tests::{Backend, Options, Server, TestCluster, create_channel, drop_file, eventually};

const DEMO: &str = include_str!("fixtures/demo.py");
const DEMO_BROKEN: &str = include_str!("fixtures/demo_broken.py");
const HELLO: &str = include_str!("fixtures/hello.py");
const CALLER: &str = include_str!("fixtures/caller.py");
const SIO: &str = include_str!("fixtures/sio.py");

async fn admin_data(server: &Server, service: &str, payload: Value) -> Option<Value> {
    server
        .admin()
        .invoke(service, &payload)
        .await
        .ok()
        .map(|r| r.data)
}

/// Waits until `service` answers `expected` through admin invoke on `server`.
async fn wait_for(
    server: &Server,
    service: &str,
    payload: Value,
    expected: Value,
    within: Duration,
) -> Duration {
    let start = Instant::now();
    let got = eventually(within, || {
        let p = payload.clone();
        let e = expected.clone();
        async move { admin_data(server, service, p).await.filter(|v| *v == e) }
    })
    .await;
    assert!(
        got.is_some(),
        "{} did not answer {expected} from {service} within {within:?}; last: {:?}\nlog:\n{}",
        server.name,
        admin_data(server, service, payload).await,
        server.log()
    );
    start.elapsed()
}

async fn scenario(backend: Backend) {
    let mut cluster = TestCluster::start(
        backend,
        Options {
            servers: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("cannot start a {backend:?} cluster: {e:#}"));
    let (s1, s2) = (&cluster.servers[0], &cluster.servers[1]);
    let http = zato_common::http::local_client();

    // Ping, no auth, upstream's body.
    for s in [s1, s2] {
        let r = http
            .get(format!("{}/zato/ping", s.address()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("x-zato-cid").is_some());
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["pong"], "zato");
        assert_eq!(body["zato_env"]["result"], "ZATO_OK");
        assert_eq!(body["zato_env"]["cid"].as_str().unwrap().len(), 24);
    }

    // Hot deploy by copying into server1's pickup dir; server2 follows within 1 s.
    drop_file(&s1.pickup_dir(), "demo.py", DEMO).unwrap();
    drop_file(&s1.pickup_dir(), "hello.py", HELLO).unwrap();
    let howdy = json!({"salutation": "Howdy Zato!"});
    wait_for(
        s1,
        "demo.my-service",
        json!({"name": "Zato"}),
        howdy.clone(),
        Duration::from_secs(10),
    )
    .await;
    let lag = wait_for(
        s2,
        "demo.my-service",
        json!({"name": "Zato"}),
        howdy.clone(),
        Duration::from_secs(1),
    )
    .await;
    assert!(lag <= Duration::from_secs(1), "server2 lagged {lag:?}");
    wait_for(
        s2,
        "hello.hello-world",
        json!(null),
        json!("How goes it?"),
        Duration::from_secs(2),
    )
    .await;
    assert!(s1.log().contains("Deployed 1 service from"), "{}", s1.log());

    // REST channels, answered by both servers.
    let admin = s1.admin();
    create_channel(&admin, "demo", "/demo", "demo.my-service", json!({}))
        .await
        .unwrap();
    create_channel(
        &admin,
        "hello",
        "/hello/{who}",
        "hello.hello-world",
        json!({"method": "GET"}),
    )
    .await
    .unwrap();
    for s in [s1, s2] {
        let got = eventually(Duration::from_secs(2), || async {
            let r = http
                .post(format!("{}/demo", s.address()))
                .json(&json!({"name": "REST"}))
                .send()
                .await
                .ok()?;
            (r.status() == 200).then_some(r.json::<Value>().await.ok()?)
        })
        .await;
        assert_eq!(
            got,
            Some(json!({"salutation": "Howdy REST!"})),
            "{}",
            s.name
        );
        // Each channel's create reaches the other server as its own event.
        let hello = eventually(Duration::from_secs(2), || async {
            let r = http
                .get(format!("{}/hello/someone", s.address()))
                .send()
                .await
                .ok()?;
            (r.status() == 200).then_some(r.text().await.ok()?)
        })
        .await;
        assert_eq!(hello.as_deref(), Some("How goes it?"), "{}", s.name);
    }

    // A broken file changes nothing, anywhere; the error names the file and line.
    drop_file(&s1.pickup_dir(), "demo.py", DEMO_BROKEN).unwrap();
    let logged = eventually(Duration::from_secs(5), || async {
        s1.log()
            .contains("Could not deploy `demo.py`")
            .then_some(())
    })
    .await;
    assert!(logged.is_some(), "{}", s1.log());
    assert!(
        s1.log().contains("demo.py:7"),
        "no line number in:\n{}",
        s1.log()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    for s in [s1, s2] {
        assert_eq!(
            admin_data(s, "demo.my-service", json!({"name": "Zato"})).await,
            Some(howdy.clone())
        );
    }
    // The same broken file through upload-package is refused with the reason.
    let b64 = base64_encode(DEMO_BROKEN);
    let err = admin
        .invoke(
            "zato.service.upload-package",
            &json!({"payload": b64, "payload_name": "demo.py"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("demo.py:7") && err.contains("SyntaxError"),
        "{err}"
    );

    // self.invoke between two Python services (and into a built-in).
    let r = admin
        .invoke(
            "zato.service.upload-package",
            &json!({"payload": base64_encode(CALLER), "payload_name": "caller.py"}),
        )
        .await
        .unwrap();
    assert_eq!(r.data["services_deployed"], json!(["test.call-demo"]));
    let out = admin_data(s2, "test.call-demo", json!({"who": "Bob"})).await;
    let out = match out {
        Some(v) => v,
        None => {
            wait_for(
                s2,
                "zato.service.is-deployed",
                json!({"name": "test.call-demo"}),
                json!({"is_deployed": true}),
                Duration::from_secs(1),
            )
            .await;
            admin_data(s2, "test.call-demo", json!({"who": "Bob"}))
                .await
                .unwrap()
        }
    };
    assert_eq!(out["inner"], json!({"salutation": "Howdy Bob!"}));
    assert_eq!(out["pong"], json!({"pong": "zato"}));
    assert_eq!(out["cid_len"], 24);

    // SimpleIO: implicit types and one 400 naming every missing field.
    drop_file(&s1.pickup_dir(), "sio.py", SIO).unwrap();
    wait_for(
        s1,
        "zato.service.is-deployed",
        json!({"name": "test.create-user"}),
        json!({"is_deployed": true}),
        Duration::from_secs(5),
    )
    .await;
    create_channel(&admin, "users", "/users", "test.create-user", json!({}))
        .await
        .unwrap();
    let got = eventually(Duration::from_secs(2), || async {
        let r = http
            .post(format!("{}/users", s1.address()))
            .json(&json!({"user_name": "ann", "email": "a@x", "user_id": "12", "is_admin": "true"}))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(r.json::<Value>().await.ok()?)
    })
    .await;
    assert_eq!(
        got,
        Some(json!({"user_id": 12, "is_admin": true, "greeting": "Welcome ann <a@x>"}))
    );
    let r = http
        .post(format!("{}/users", s1.address()))
        .json(&json!({"user_name": "ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let cid = r
        .headers()
        .get("x-zato-cid")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = r.json().await.unwrap();
    let details = body["details"].as_str().unwrap();
    assert!(
        details.contains("email") && details.contains("user_id") && !details.contains("user_name"),
        "{details}"
    );
    assert_eq!(body["cid"], cid);
    let r = http
        .post(format!("{}/users", s1.address()))
        .json(&json!({"user_name": "ann", "email": "a@x", "user_id": "twelve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("user_id"));

    // A restarted server loads the latest packages from the ODB.
    cluster.servers[1].stop();
    let boot = cluster.servers[1].start().await.unwrap();
    let s2 = &cluster.servers[1];
    assert_eq!(
        admin_data(s2, "demo.my-service", json!({"name": "again"})).await,
        Some(json!({"salutation": "Howdy again!"}))
    );
    assert_eq!(
        admin_data(s2, "test.call-demo", json!({"who": "Eve"}))
            .await
            .unwrap()["inner"],
        json!({"salutation": "Howdy Eve!"})
    );
    assert!(boot < Duration::from_secs(5), "restart took {boot:?}");

    cluster.finish().await;
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_sqlite() {
    scenario(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_postgresql() {
    scenario(Backend::Postgresql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_mariadb() {
    scenario(Backend::Mysql).await;
}
