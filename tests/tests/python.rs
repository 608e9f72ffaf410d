//! The Python service API as seen over real HTTP: virtualenv imports, user config, request
//! and response attributes, per-verb handlers; admin invoke by id and its timing headers.
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use zato_tests::{Backend, Options, TestCluster, create_channel, eventually};

const SURFACE: &str = include_str!("fixtures/surface.py");
const INVENTORY: &str = include_str!("fixtures/inventory.py");
/// Every public name of upstream's service, exception, api and SimpleIO modules, by module.
const UPSTREAM_INVENTORY: &str = include_str!("../../server/python/upstream-inventory.json");

/// A virtualenv with one package, and a user config file, as users would set them up.
fn prepare(dir: &Path) {
    let venv = dir.join("venv");
    let site = venv.join("lib/python3.11/site-packages/thirdparty");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("__init__.py"), "def answer():\n    return 42\n").unwrap();
    let conf = dir.join("config/repo/server.conf");
    let text = std::fs::read_to_string(&conf).unwrap().replace(
        "virtualenv = \"\"",
        &format!("virtualenv = \"{}\"", venv.display()),
    );
    std::fs::write(&conf, text).unwrap();
    std::fs::write(
        dir.join("config/repo/user-conf/crm.conf"),
        "[main]\nurl = https://crm.example.com\n",
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_service_surface() {
    let c = TestCluster::start(
        Backend::Sqlite,
        Options {
            prepare: Some(prepare),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let s = &c.servers[0];
    let admin = s.admin();
    let payload = base64::engine::general_purpose::STANDARD.encode(SURFACE);
    let r = admin
        .invoke(
            "zato.service.upload-package",
            &json!({"payload": payload, "payload_name": "surface.py"}),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", s.log()));
    assert_eq!(r.data["services_deployed"], json!(["test.surface"]));
    create_channel(
        &admin,
        "surface",
        "/surface/{item}",
        "test.surface",
        json!({}),
    )
    .await
    .unwrap();
    let http = zato_common::http::local_client();
    let url = format!("{}/surface/abc?x=1", s.address());
    let r = eventually(Duration::from_secs(2), || async {
        let r = http
            .get(&url)
            .header("user-agent", "tester/1")
            .send()
            .await
            .ok()?;
        (r.status() == 201).then_some(r)
    })
    .await
    .expect("the channel never answered 201");
    assert_eq!(r.headers()["x-custom"], "yes");
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "method": "GET", "path": "/surface/abc", "params": {"item": "abc"}, "query": {"x": "1"},
            "agent": "tester/1", "channel_type": "http-soap", "channel_name": "surface",
            "crm_url": "https://crm.example.com", "thirdparty": 42, "has_time": true, "name": "test.surface",
        })
    );
    let r = http.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv");
    assert_eq!(r.text().await.unwrap(), "a,b\n1,2\n");
    let r = http.delete(&url).send().await.unwrap();
    assert_eq!(r.status(), 405, "no handle_DELETE");

    // Admin invoke by service id, with the response-time headers upstream sends.
    let id = admin
        .invoke("zato.service.get-by-name", &json!({"name": "zato.ping"}))
        .await
        .unwrap()
        .data["id"]
        .clone();
    let r = http
        .post(format!("{}/zato/admin/invoke", s.address()))
        .basic_auth("admin.invoke", Some(zato_tests::ADMIN_PASSWORD))
        .body(json!({"id": id, "payload": "bnVsbA==", "needs_response_time": true}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ms: f64 = r.headers()["x-zato-response-time"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms >= 0.0);
    assert!(r.headers().contains_key("x-zato-response-time-human"));
    let body: Value = r.json().await.unwrap();
    let (env, data) = zato_common::admin::decode_reply(&body).unwrap();
    assert_eq!(
        (env.result.as_str(), data),
        ("ZATO_OK", json!({"pong": "zato"}))
    );
    c.finish().await;
}

/// Starts a cluster and deploys fixtures/inventory.py (`test.inventory` and its helpers).
async fn start_with_inventory() -> TestCluster {
    let c = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let s = &c.servers[0];
    let payload = base64::engine::general_purpose::STANDARD.encode(INVENTORY);
    let r = s
        .admin()
        .invoke(
            "zato.service.upload-package",
            &json!({"payload": payload, "payload_name": "inventory.py"}),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", s.log()));
    assert!(
        r.data["services_deployed"]
            .as_array()
            .is_some_and(|names| names.contains(&json!("test.inventory"))),
        "{}",
        r.data
    );
    c
}

/// Upstream's public names all import, and a few behave as upstream's (statuses, SimpleIO aliases,
/// self.server.fs_server_config).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_upstream_inventory() {
    let c = start_with_inventory().await;
    let s = &c.servers[0];
    create_channel(
        &s.admin(),
        "inventory",
        "/inventory",
        "test.inventory",
        json!({}),
    )
    .await
    .unwrap();

    let inventory: Value = serde_json::from_str(UPSTREAM_INVENTORY).unwrap();
    let expected: usize = inventory
        .as_object()
        .unwrap()
        .iter()
        .filter(|(module, _)| !module.starts_with('_'))
        .map(|(_, names)| names.as_array().unwrap().len())
        .sum();
    assert!(expected > 0);

    let http = zato_common::http::local_client();
    let url = format!("{}/inventory", s.address());
    let r = eventually(Duration::from_secs(2), || async {
        let r = http
            .post(&url)
            .header("content-type", "application/json")
            .body(UPSTREAM_INVENTORY)
            .send()
            .await
            .ok()?;
        (r.status() != 404).then_some(r)
    })
    .await
    .expect("the channel never appeared");
    assert_eq!(r.status(), 200, "{}", s.log());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["missing"], json!([]), "names missing: {body}");
    assert_eq!(body["failures"], json!([]), "behaviours differ: {body}");
    assert_eq!(body["checked"], json!(expected));
    c.finish().await;
}

/// ServiceUnavailable answers 503 and InternalServerError 500 over a REST channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_service_unavailable_is_503() {
    let c = start_with_inventory().await;
    let s = &c.servers[0];
    create_channel(
        &s.admin(),
        "unavailable",
        "/inventory/unavailable/{how}",
        "test.inventory.unavailable",
        json!({}),
    )
    .await
    .unwrap();

    let http = zato_common::http::local_client();
    let get = |how: &'static str| {
        let http = http.clone();
        let url = format!("{}/inventory/unavailable/{how}", s.address());
        async move {
            eventually(Duration::from_secs(2), || async {
                let r = http.get(&url).send().await.ok()?;
                (r.status() != 404).then_some(r)
            })
            .await
            .expect("the channel never appeared")
        }
    };

    // raise ServiceUnavailable('x')
    let r = get("short").await;
    assert_eq!(r.status(), 503);

    // raise ServiceUnavailable(self.cid, 'Try again later'): the message is the error's details.
    let r = get("full").await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["details"], "Try again later", "{body}");

    // raise InternalServerError(self.cid)
    let r = get("ise").await;
    assert_eq!(r.status(), 500);
    c.finish().await;
}
