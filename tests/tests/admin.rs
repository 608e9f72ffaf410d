//! The admin services end to end: services, channels and security definitions managed through
//! `/zato/admin/invoke` on one server and live on the other; async invocations; workers.
use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use zato_common::admin::{AdminError, AdminResponse};
use zato_tests::{Backend, Options, Server, TestCluster, create_channel, drop_file, eventually};

const ASYNCS: &str = include_str!("fixtures/asyncs.py");
const DEMO: &str = include_str!("fixtures/demo.py");

async fn upload(s: &Server, name: &str, text: &str) -> Value {
    let payload = base64::engine::general_purpose::STANDARD.encode(text);
    s.admin()
        .invoke(
            "zato.service.upload-package",
            &json!({"payload": payload, "payload_name": name}),
        )
        .await
        .unwrap_or_else(|e| panic!("upload of {name} failed: {e}"))
        .data
}

/// Waits until `name` is deployed on `s`.
async fn deployed(s: &Server, name: &str) {
    let ok = eventually(Duration::from_secs(5), || async {
        let r = s
            .admin()
            .invoke("zato.service.is-deployed", &json!({"name": name}))
            .await
            .ok()?;
        (r.data["is_deployed"] == true).then_some(())
    })
    .await;
    assert!(
        ok.is_some(),
        "{name} never deployed on {}:\n{}",
        s.name,
        s.log()
    );
}

async fn status_of(http: &reqwest::RequestBuilder) -> u16 {
    http.try_clone()
        .unwrap()
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Polls until the request answers `status` (config changes reach other servers by broker).
async fn until_status(req: reqwest::RequestBuilder, status: u16) {
    let got = eventually(Duration::from_secs(2), || {
        let r = req.try_clone().unwrap();
        async move { (status_of(&r).await == status).then_some(()) }
    })
    .await;
    assert!(
        got.is_some(),
        "never got {status}; last {}",
        status_of(&req).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_channels_and_security() {
    let c = TestCluster::start(
        Backend::Sqlite,
        Options {
            servers: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (s1, s2) = (&c.servers[0], &c.servers[1]);
    let admin = s1.admin();
    let http = zato_common::http::local_client();
    assert_eq!(
        upload(s1, "demo.py", DEMO).await["services_deployed"],
        json!(["demo.my-service"])
    );
    deployed(s2, "demo.my-service").await;

    // Services: list, get, source, deactivate on one server → refused on both, delete.
    let list = admin
        .invoke("zato.service.get-list", &json!({"cluster_id": 1}))
        .await
        .unwrap()
        .data;
    let names: HashSet<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    for n in [
        "zato.ping",
        "zato.service.invoke",
        "zato.http-soap.create",
        "demo.my-service",
    ] {
        assert!(names.contains(n), "{n} missing from {names:?}");
    }
    let demo = admin
        .invoke(
            "zato.service.get-by-name",
            &json!({"name": "demo.my-service"}),
        )
        .await
        .unwrap()
        .data;
    assert_eq!(demo["impl_name"], "demo.MyService");
    assert_eq!(demo["is_internal"], false);
    let src = admin
        .invoke(
            "zato.service.get-source-info",
            &json!({"name": "demo.my-service"}),
        )
        .await
        .unwrap()
        .data;
    assert_eq!(src["source"], DEMO);
    let id = demo["id"].as_i64().unwrap();
    admin
        .invoke("zato.service.edit", &json!({"id": id, "is_active": false}))
        .await
        .unwrap();
    for s in [s1, s2] {
        let refused = eventually(Duration::from_secs(2), || async {
            s.admin()
                .invoke("demo.my-service", &json!({"name": "x"}))
                .await
                .err()
                .map(|e| e.to_string())
        })
        .await
        .unwrap();
        assert!(refused.contains("not active"), "{refused}");
    }
    admin
        .invoke("zato.service.edit", &json!({"id": id, "is_active": true}))
        .await
        .unwrap();
    let back = eventually(Duration::from_secs(2), || async {
        s2.admin()
            .invoke("demo.my-service", &json!({"name": "y"}))
            .await
            .ok()
    })
    .await
    .unwrap();
    assert_eq!(back.data, json!({"salutation": "Howdy y!"}));
    let err = admin
        .invoke("zato.service.delete", &json!({"name": "zato.ping"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("internal"), "{err}");

    // Basic Auth definition on a channel, created on server1, enforced on server2.
    let sec = admin
        .invoke(
            "zato.security.basic-auth.create",
            &json!({"name": "crm", "username": "crm-user", "realm": "CRM", "is_active": true}),
        )
        .await
        .unwrap()
        .data;
    let sec_id = sec["id"].as_i64().unwrap();
    admin
        .invoke(
            "zato.security.basic-auth.change-password",
            &json!({"id": sec_id, "password1": "s3cret", "password2": "s3cret"}),
        )
        .await
        .unwrap();
    let listed = admin
        .invoke("zato.security.basic-auth.get-list", &json!({}))
        .await
        .unwrap()
        .data
        .to_string();
    assert!(
        listed.contains("crm-user") && !listed.contains("s3cret") && !listed.contains("gAAA"),
        "{listed}"
    );
    let ch_id = create_channel(
        &admin,
        "crm",
        "/crm/{user_id}",
        "demo.my-service",
        json!({"security_name": "crm"}),
    )
    .await
    .unwrap();
    let url = format!("{}/crm/7", s2.address());
    until_status(
        http.post(&url)
            .basic_auth("crm-user", Some("s3cret"))
            .json(&json!({"name": "C"})),
        200,
    )
    .await;
    let r = http
        .post(&url)
        .json(&json!({"name": "C"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"CRM\"");
    assert_eq!(
        http.post(&url)
            .basic_auth("crm-user", Some("bad"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // API key: header name from the definition; editing the channel moves it.
    let key = admin
        .invoke(
            "zato.security.apikey.create",
            &json!({"name": "partner", "header": "X-Partner-Key"}),
        )
        .await
        .unwrap()
        .data;
    let key_id = key["id"].as_i64().unwrap();
    admin
        .invoke(
            "zato.security.apikey.change-password",
            &json!({"id": key_id, "password1": "k-123", "password2": "k-123"}),
        )
        .await
        .unwrap();
    admin
        .invoke(
            "zato.http-soap.edit",
            &json!({"id": ch_id, "name": "crm", "url_path": "/partner", "connection": "channel", "service": "demo.my-service", "security_id": key_id}),
        )
        .await
        .unwrap();
    let url2 = format!("{}/partner", s2.address());
    until_status(
        http.post(&url2)
            .header("X-Partner-Key", "k-123")
            .json(&json!({"name": "P"})),
        200,
    )
    .await;
    until_status(http.post(&url).basic_auth("crm-user", Some("s3cret")), 404).await;
    assert_eq!(
        http.post(&url2)
            .header("X-Partner-Key", "nope")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(http.post(&url2).send().await.unwrap().status(), 401);
    let err = admin
        .invoke("zato.security.apikey.delete", &json!({"id": key_id}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("used by channels"), "{err}");

    // Channel listing, delete, and the definition can go once unused.
    let chans = admin
        .invoke("zato.http-soap.get-list", &json!({"connection": "channel"}))
        .await
        .unwrap()
        .data;
    assert!(
        chans
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["url_path"] == "/zato/admin/invoke")
    );
    admin
        .invoke("zato.http-soap.delete", &json!({"id": ch_id}))
        .await
        .unwrap();
    until_status(http.post(&url2).header("X-Partner-Key", "k-123"), 404).await;
    admin
        .invoke("zato.security.apikey.delete", &json!({"id": key_id}))
        .await
        .unwrap();
    let bad = admin
        .invoke("zato.http-soap.create", &json!({"name": "x", "url_path": "no-slash", "connection": "channel", "service": "demo.my-service"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(bad.contains("must start with `/`"), "{bad}");

    // Servers and deletion of a user service everywhere.
    let servers = admin
        .invoke("zato.server.get-list", &json!({}))
        .await
        .unwrap()
        .data;
    assert_eq!(servers.as_array().unwrap().len(), 2);
    assert_eq!(servers[1]["up_status"], "running");
    admin
        .invoke("zato.service.delete", &json!({"id": id}))
        .await
        .unwrap();
    let gone = eventually(Duration::from_secs(2), || async {
        let r = s2
            .admin()
            .invoke(
                "zato.service.is-deployed",
                &json!({"name": "demo.my-service"}),
            )
            .await
            .ok()?;
        (r.data["is_deployed"] == false).then_some(())
    })
    .await;
    assert!(gone.is_some());
    c.finish().await;
}

/// A misspelt key never leaves a setting out silently, and a second channel on a path that
/// already has one is refused, naming it; what upstream's clients send is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typos_and_clashing_channels_are_refused() {
    let c = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let admin = c.servers[0].admin();
    let err = |r: Result<AdminResponse, AdminError>| match r {
        Ok(r) => panic!("accepted: {:?}", r.data),
        Err(e) => e.to_string(),
    };
    admin
        .invoke(
            "zato.security.basic-auth.create",
            &json!({"name": "crm", "username": "crm", "realm": "r", "is_active": true}),
        )
        .await
        .unwrap();
    let channel = |name: &str, path: &str, method: &str, extra: Value| {
        let mut v = json!({"name": name, "url_path": path, "method": method,
            "connection": "channel", "transport": "plain_http", "service": "zato.ping"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let typo = err(admin
        .invoke(
            "zato.http-soap.create",
            &channel("typo", "/typo", "GET", json!({"securty_name": "crm"})),
        )
        .await);
    assert!(
        typo.contains("unknown field `securty_name`; did you mean `security_name`?"),
        "{typo}"
    );
    let list = admin
        .invoke("zato.http-soap.get-list", &json!({"connection": "channel"}))
        .await
        .unwrap()
        .data;
    assert!(
        !list.to_string().contains("\"typo\""),
        "the channel went live: {list}"
    );
    let typo = err(admin
        .invoke("zato.service.get-list", &json!({"qeury": "ping"}))
        .await);
    assert!(typo.contains("did you mean `query`?"), "{typo}");

    // Upstream's web admin sends every field, most of them empty: accepted.
    admin
        .invoke(
            "zato.http-soap.create",
            &channel("orders", "/orders/{id}", "GET", json!({"cluster_id": 1,
                "security_id": null, "security_groups": [], "has_rbac": false, "cache_id": null,
                "match_slash": true, "serialization_type": "string", "is_rate_limit_active": false})),
        )
        .await
        .unwrap();
    let groups = err(admin
        .invoke(
            "zato.http-soap.create",
            &channel(
                "grouped",
                "/grouped",
                "GET",
                json!({"security_groups": ["admins"]}),
            ),
        )
        .await);
    assert!(
        groups.contains("`security_groups` is an upstream feature"),
        "{groups}"
    );

    // Same path shape and method: refused, naming the first; another method is fine.
    let clash = err(admin
        .invoke(
            "zato.http-soap.create",
            &channel("orders2", "/orders/{order_id}", "GET", json!({})),
        )
        .await);
    assert!(
        clash.contains("channel `orders` already serves `/orders/{id}` for GET"),
        "{clash}"
    );
    let any = err(admin
        .invoke(
            "zato.http-soap.create",
            &channel("orders3", "/orders/{x}", "", json!({})),
        )
        .await);
    assert!(any.contains("channel `orders` already serves"), "{any}");
    let post = admin
        .invoke(
            "zato.http-soap.create",
            &channel("orders-post", "/orders/{id}", "POST", json!({})),
        )
        .await
        .unwrap()
        .data;
    // Editing the POST one onto GET clashes too.
    let edit = err(admin
        .invoke(
            "zato.http-soap.edit",
            &channel(
                "orders-post",
                "/orders/{id}",
                "get",
                json!({"id": post["id"]}),
            ),
        )
        .await);
    assert!(edit.contains("channel `orders` already serves"), "{edit}");
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_invocations() {
    let c = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let s = &c.servers[0];
    upload(s, "asyncs.py", ASYNCS).await;
    let dir = tempfile::tempdir().unwrap();
    // From the admin API (as the scheduler does): a CID comes back at once.
    let path = dir.path().join("admin.txt");
    let mut req = zato_common::admin::InvokeRequest::new(
        "test.write-file",
        &json!({"path": path, "text": "from-admin"}),
    );
    req.is_async = Some(true);
    let r = s.admin().send(&req).await.unwrap();
    assert_eq!(r.data.as_str().unwrap().len(), 24);
    let text = eventually(Duration::from_secs(5), || async {
        std::fs::read_to_string(&path).ok()
    })
    .await;
    assert_eq!(text.as_deref(), Some("from-admin"));
    // From Python: self.invoke_async.
    let path = dir.path().join("python.txt");
    let r = s
        .admin()
        .invoke("test.kick", &json!({"path": path}))
        .await
        .unwrap();
    assert_eq!(r.data["cid"].as_str().unwrap().len(), 24);
    let text = eventually(Duration::from_secs(5), || async {
        std::fs::read_to_string(&path).ok()
    })
    .await;
    assert_eq!(text.as_deref(), Some("from-python"));
    assert!(
        s.log().contains("started "),
        "self.logger goes to the server log"
    );
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_processes_share_the_port() {
    let c = TestCluster::start(
        Backend::Sqlite,
        Options {
            workers: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let s = &c.servers[0];
    drop_file(&s.pickup_dir(), "asyncs.py", ASYNCS).unwrap();
    deployed(s, "test.whoami").await;
    create_channel(&s.admin(), "whoami", "/whoami", "test.whoami", json!({}))
        .await
        .unwrap();
    let pids = std::sync::Mutex::new(HashSet::new());
    let calls = std::sync::atomic::AtomicU64::new(0);
    let got = eventually(Duration::from_secs(10), || async {
        // A fresh connection each time, so the kernel spreads them over the workers.
        let r = zato_common::http::local_client()
            .get(format!("{}/whoami", s.address()))
            .send()
            .await
            .ok()?;
        if r.status() == 200 {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let v: Value = r.json().await.ok()?;
            assert_eq!(v["server"], "server1");
            pids.lock().unwrap().insert(v["pid"].as_i64()?);
        }
        (pids.lock().unwrap().len() >= 2).then_some(())
    })
    .await;
    assert!(got.is_some(), "only saw worker pids {pids:?}\n{}", s.log());
    // Whichever worker a scrape lands on, /zato/metrics counts both workers' calls.
    let calls = calls.load(std::sync::atomic::Ordering::Relaxed) as f64;
    let url = format!("{}/zato/metrics", s.address());
    let whole = |scrape: &prometheus_parse::Scrape| {
        let counted = zato_tests::metric(
            scrape,
            "zato_service_calls_total",
            &[("service", "test.whoami"), ("channel", "whoami")],
        );
        let parts = zato_tests::metric(scrape, "zato_metrics_workers_answered", &[]);
        (counted, parts)
    };
    let first = eventually(Duration::from_secs(5), || async {
        let (_, scrape) = zato_tests::scrape(&url).await;
        (whole(&scrape) == (calls, 2.0)).then_some(())
    })
    .await;
    let (_, last) = zato_tests::scrape(&url).await;
    assert!(first.is_some(), "{:?} of {calls} calls", whole(&last));
    for _ in 0..6 {
        let (_, scrape) = zato_tests::scrape(&url).await;
        assert_eq!(whole(&scrape), (calls, 2.0));
    }
    // A local process that opens many connections to a worker's loopback port and sends
    // nothing does not keep them: those over the cap are closed at once, the others within
    // their lifetime, and scrapes count both workers again.
    let port: u16 = std::fs::read_to_string(s.dir.join("work/metrics-worker-0.port"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut idle = Vec::new();
    for _ in 0..24 {
        idle.push(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap(),
        );
    }
    let t = std::time::Instant::now();
    for mut conn in idle {
        use tokio::io::AsyncReadExt;
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(15), conn.read(&mut byte)).await;
        assert!(
            matches!(read, Ok(Ok(0) | Err(_))),
            "an idle connection to the metrics part port stayed open: {read:?}"
        );
    }
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let again = eventually(Duration::from_secs(5), || async {
        let (_, scrape) = zato_tests::scrape(&url).await;
        (whole(&scrape) == (calls, 2.0)).then_some(())
    })
    .await;
    assert!(again.is_some(), "scrapes do not count both workers again");
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_written_files_are_never_compiled() {
    let c = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let s = &c.servers[0];
    let path = s.pickup_dir().join("slow.py");
    let (head, tail) = DEMO.split_at(DEMO.len() / 2);
    // A writer that pauses mid-file for less than the debounce window.
    std::fs::write(&path, head).unwrap();
    tokio::time::sleep(Duration::from_millis(40)).await;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, tail.as_bytes()).unwrap();
    drop(f);
    let ok = eventually(Duration::from_secs(5), || async {
        let r = s
            .admin()
            .invoke("slow.my-service", &json!({"name": "S"}))
            .await
            .ok()?;
        Some(r.data)
    })
    .await;
    assert_eq!(ok, Some(json!({"salutation": "Howdy S!"})));
    assert!(
        !s.log().contains("Could not deploy"),
        "a partial file was compiled:\n{}",
        s.log()
    );
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_the_clusters_newer_package() {
    let mut c = TestCluster::start(
        Backend::Sqlite,
        Options {
            servers: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    drop_file(&c.servers[0].pickup_dir(), "demo.py", DEMO).unwrap();
    let v1 = eventually(Duration::from_secs(5), || async {
        c.servers[1]
            .admin()
            .invoke("demo.my-service", &json!({"name": "A"}))
            .await
            .ok()
    })
    .await;
    assert_eq!(v1.unwrap().data, json!({"salutation": "Howdy A!"}));
    // A newer version arrives through server2; server1's pickup dir still holds the old file.
    upload(&c.servers[1], "demo.py", &DEMO.replace("Howdy", "Hello")).await;
    c.servers[0].stop();
    c.servers[0].start().await.unwrap();
    let s1 = &c.servers[0];
    tokio::time::sleep(Duration::from_millis(300)).await;
    for s in &c.servers {
        let r = s
            .admin()
            .invoke("demo.my-service", &json!({"name": "B"}))
            .await
            .unwrap();
        assert_eq!(
            r.data,
            json!({"salutation": "Hello B!"}),
            "{}:\n{}",
            s.name,
            s1.log()
        );
    }
    c.finish().await;
}
