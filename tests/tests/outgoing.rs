//! Outgoing connections used by Python services against real remote ends: REST and SOAP (a
//! local stand-in HTTP server), SQL (PostgreSQL, MariaDB, SQLite) and Redis; the article's
//! GetMarketCap over JSON and SOAP; a connection changed on server1 is live on server2.
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use zato_common::admin::AdminClient;
use zato_tests::standin::{self, Reply, Seen};
use zato_tests::{Backend, Options, TestCluster, create_channel, eventually, free_port};

const SERVICES: &str = include_str!("fixtures/outgoing.py");

async fn deploy(admin: &AdminClient) {
    let payload = base64::engine::general_purpose::STANDARD.encode(SERVICES);
    admin
        .invoke(
            "zato.service.upload-package",
            &json!({"payload": payload, "payload_name": "outgoing.py"}),
        )
        .await
        .expect("deploy outgoing.py");
}

/// The remote systems: a JSON market-data API, an XML one, a SOAP one and an echo endpoint.
fn remote(seen: &Seen) -> Reply {
    let path = seen.path.as_str();
    match path {
        "/yql" if seen.query.contains("format=json") && seen.query.contains("GOOG") => (
            200,
            "application/json",
            json!({"query": {"results": {"quote": {"MarketCapitalization": "298.8B"}}}}).to_string(),
        ),
        "/yql2" => (
            200,
            "application/json",
            json!({"query": {"results": {"quote": {"MarketCapitalization": "300.1B"}}}}).to_string(),
        ),
        "/finance/GOOG/info" => (
            200,
            "text/xml",
            "<xml_api_reply><finance><company data=\"Google Inc.\"/><market_cap data=\"298815.05\"/></finance></xml_api_reply>".into(),
        ),
        "/soap" => {
            let body = String::from_utf8_lossy(&seen.body);
            let ok = seen.header("soapaction") == Some("\"urn:getQuote\"")
                && body.contains("<soapenv:Envelope")
                && body.contains("<symbol>IBM</symbol>");
            let price = if ok { "123.45" } else { "wrong request" };
            (
                200,
                "text/xml; charset=utf-8",
                format!("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><getQuoteResponse><price>{price}</price></getQuoteResponse></s:Body></s:Envelope>"),
            )
        }
        p if p.starts_with("/echo/") => (
            if seen.method == "GET" { 404 } else { 201 },
            "application/json",
            json!({
                "method": seen.method, "path": p, "query": seen.query,
                "body": String::from_utf8_lossy(&seen.body),
                "content_type": seen.header("content-type"), "custom": seen.header("x-custom"),
                "auth": seen.header("authorization"), "has_cid": seen.header("x-zato-cid").is_some(),
            })
            .to_string(),
        ),
        _ => (404, "text/plain", "not found".into()),
    }
}

async fn outgoing(admin: &AdminClient, name: &str, host: &str, url_path: &str, extra: Value) {
    let mut input = json!({
        "name": name, "connection": "outgoing", "transport": "plain_http",
        "host": host, "url_path": url_path, "data_format": "json",
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        input[k] = v.clone();
    }
    admin
        .invoke("zato.http-soap.create", &input)
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
}

/// Outgoing responses above 64 KiB are refused (the echo endpoint returns what it was sent).
fn small_responses(dir: &std::path::Path) {
    let conf = dir.join("config/repo/server.conf");
    let text = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("max_response_size = 67108864", "max_response_size = 65536");
    std::fs::write(&conf, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_soap_and_get_market_cap() {
    let host = standin::start(remote).await;
    let c = TestCluster::start(
        Backend::Sqlite,
        Options {
            servers: 2,
            prepare: Some(small_responses),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (s1, s2) = (&c.servers[0], &c.servers[1]);
    let admin = s1.admin();
    deploy(&admin).await;
    outgoing(&admin, "Quotes JSON", &host, "/yql", json!({})).await;
    outgoing(
        &admin,
        "Finance XML",
        &host,
        "/finance/{stock}/info",
        json!({"data_format": "xml"}),
    )
    .await;
    admin
        .invoke(
            "zato.security.basic-auth.create",
            &json!({"name": "Echo creds", "username": "crm", "password": "crm-secret", "realm": "CRM"}),
        )
        .await
        .unwrap();
    outgoing(
        &admin,
        "Echo",
        &host,
        "/echo/{id}",
        json!({"security_name": "Echo creds"}),
    )
    .await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    outgoing(&admin, "Dead", &dead, "/x", json!({"timeout": 2})).await;
    outgoing(&admin, "Market path", &host, "/x/{symbol}", json!({})).await;
    outgoing(
        &admin,
        "Legacy SOAP",
        &host,
        "/soap",
        json!({"transport": "soap", "soap_action": "urn:getQuote", "soap_version": "1.1", "data_format": "soap"}),
    )
    .await;
    create_channel(
        &admin,
        "market-cap",
        "/market-cap",
        "stockmarket.get-market-cap",
        json!({}),
    )
    .await
    .unwrap();
    create_channel(
        &admin,
        "market-cap.soap",
        "/soap/market-cap",
        "stockmarket.get-market-cap",
        json!({"transport": "soap", "data_format": "soap", "soap_version": "1.1"}),
    )
    .await
    .unwrap();

    // GetMarketCap over JSON, on the server that did not receive the configuration.
    let http = zato_common::http::local_client();
    let json_url = format!("{}/market-cap", s2.address());
    let body = eventually(Duration::from_secs(5), || async {
        let r = http
            .post(&json_url)
            .body(r#"{"symbol": "GOOG"}"#)
            .send()
            .await
            .ok()?;
        if r.status() != 200 {
            return None;
        }
        r.json::<Value>().await.ok()
    })
    .await
    .unwrap_or_else(|| panic!("GetMarketCap never answered 200\n{}", s2.log()));
    // JSON channels answer without the response_elem wrapper, as upstream 3.2's REST does.
    assert_eq!(
        body,
        json!([
            {"provider": "Quotes", "value": "298.8"},
            {"provider": "Finance", "value": "298.81505"},
        ])
    );

    // Path params and the message: which wins is the channel's params_pri.
    for (path, pri, body_symbol) in [
        (
            "/market-cap/by-path/{symbol}",
            "channel-params-over-msg",
            "IBM",
        ),
        (
            "/market-cap/by-msg/{symbol}",
            "msg-over-channel-params",
            "GOOG",
        ),
    ] {
        create_channel(
            &admin,
            path,
            path,
            "stockmarket.get-market-cap",
            json!({"params_pri": pri}),
        )
        .await
        .unwrap();
        let other = if body_symbol == "GOOG" { "IBM" } else { "GOOG" };
        let url = format!("{}{}", s1.address(), path.replace("{symbol}", other));
        let body = json!({"symbol": body_symbol}).to_string();
        let r = eventually(Duration::from_secs(3), || async {
            let r = http.post(&url).body(body.clone()).send().await.ok()?;
            (r.status() == 200).then_some(r)
        })
        .await
        .unwrap_or_else(|| panic!("{pri}: never answered 200"));
        let v: Value = r.json().await.unwrap();
        assert_eq!(v[0]["value"], "298.8", "{pri}: {v}");
    }

    // The same service as SOAP.
    let envelope = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:zato="https://zato.io/ns/20130518"><soapenv:Body><zato:request><zato:symbol>GOOG</zato:symbol></zato:request></soapenv:Body></soapenv:Envelope>"#;
    let r = http
        .post(format!("{}/soap/market-cap", s1.address()))
        .header("content-type", "text/xml; charset=utf-8")
        .header("soapaction", "\"\"")
        .body(envelope)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("soapenv:Envelope"), "{text}");
    assert!(
        text.contains("<soapenv:Body><market_cap><item><provider>Quotes</provider><value>298.8</value></item><item><provider>Finance</provider><value>298.81505</value></item></market_cap></soapenv:Body>"),
        "{text}"
    );

    // The seed article's form: `zato service invoke ... --data-format xml --transport soap`
    // with a namespaced SOAP request is decoded as the SOAP channel does, and answered in SOAP.
    let out = zato_tests::cli::ok(&[
        "service",
        "invoke",
        s1.dir.to_str().unwrap(),
        "stockmarket.get-market-cap",
        "--data-format",
        "xml",
        "--transport",
        "soap",
        "--payload",
        envelope,
    ]);
    assert!(
        out.contains(
            "<soapenv:Body><market_cap><item><provider>Quotes</provider><value>298.8</value></item>"
        ),
        "{out}"
    );
    // Plain XML, the same way.
    let out = zato_tests::cli::ok(&[
        "service",
        "invoke",
        s1.dir.to_str().unwrap(),
        "stockmarket.get-market-cap",
        "--data-format",
        "xml",
        "--payload",
        "<request><symbol>GOOG</symbol></request>",
    ]);
    assert!(out.starts_with("<market_cap><item>"), "{out}");

    // Methods, params into the path and the query, headers, security and parsed replies.
    let r = admin
        .invoke("test.rest-details", &json!({"conn": "Echo"}))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", s1.log()));
    let d = &r.data;
    assert_eq!(d["status"], 201);
    assert_eq!(d["content_type"], "application/json");
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("crm:crm-secret")
    );
    assert_eq!(
        d["data"],
        json!({"method": "POST", "path": "/echo/7", "query": "q=x+y", "body": "{\"a\": 1}",
            "content_type": "application/json", "custom": "yes", "auth": auth, "has_cid": true})
    );
    assert_eq!(d["put"]["method"], "PUT");
    assert_eq!(d["put"]["body"], "plain text");
    assert_eq!(d["put"]["path"], "/echo/8");
    assert_eq!(
        (d["get_status"].clone(), d["ok"].clone()),
        (json!(404), json!(false))
    );
    assert_eq!(d["get"]["path"], "/echo/9");

    // Failures a service can catch: refused, unknown connection, a path param not given.
    let r = admin.invoke("test.rest-errors", &json!({})).await.unwrap();
    assert_eq!(
        r.data["refused"],
        json!({"type": "OutgoingConnectionError", "name": "Dead", "has_cause": true})
    );
    assert!(
        r.data["missing"]
            .as_str()
            .unwrap()
            .contains("No such connection")
    );
    assert_eq!(r.data["get_missing"], Value::Null);
    assert!(
        r.data["no_param"].as_str().unwrap().contains("symbol"),
        "{}",
        r.data
    );
    assert!(
        r.data["too_big"]
            .as_str()
            .unwrap_or("")
            .contains("larger than 65536 bytes"),
        "{}",
        r.data
    );

    // HTTPS: a certificate no system trusts is refused unless the connection turns
    // verification off.
    let ca = tempfile::tempdir().unwrap();
    let tls_host = standin::start_tls(remote, &ca.path().join("ca")).await;
    outgoing(&admin, "TLS strict", &tls_host, "/echo/{id}", json!({})).await;
    outgoing(
        &admin,
        "TLS lax",
        &tls_host,
        "/echo/{id}",
        json!({"validate_tls": false}),
    )
    .await;
    let r = admin.invoke("test.tls", &json!({})).await.unwrap();
    assert_eq!(r.data["lax"], 201, "{}", r.data);
    let strict = r.data["strict"].as_str().unwrap_or_default();
    assert!(
        strict.contains("certificate") || strict.contains("Unknown"),
        "{strict}"
    );

    // zato.http-soap.ping reaches a live remote end and reports a dead one.
    for (name, up) in [("Quotes JSON", true), ("Dead", false)] {
        let row = admin
            .invoke(
                "zato.http-soap.get-by-name",
                &json!({"name": name, "connection": "outgoing"}),
            )
            .await
            .unwrap();
        let r = admin
            .invoke("zato.http-soap.ping", &json!({"id": row.data["id"]}))
            .await
            .unwrap();
        assert_eq!(r.data["is_success"], up, "{name}: {}", r.data);
    }

    // SOAP outgoing: the body wrapped into an envelope, SOAPAction sent, the reply's Body parsed.
    let r = admin.invoke("test.soap-call", &json!({})).await.unwrap();
    assert_eq!(r.data, json!({"status": 200, "price": "123.45"}));

    // A change made through server1 is live on server2 within a second.
    let list = admin
        .invoke(
            "zato.http-soap.get-list",
            &json!({"connection": "outgoing"}),
        )
        .await
        .unwrap();
    let quotes = list
        .data
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Quotes JSON")
        .unwrap()
        .clone();
    let started = Instant::now();
    admin
        .invoke(
            "zato.http-soap.edit",
            &json!({"id": quotes["id"], "name": "Quotes JSON", "connection": "outgoing",
                "host": host, "url_path": "/yql2", "data_format": "json"}),
        )
        .await
        .unwrap();
    let changed = eventually(Duration::from_secs(3), || async {
        let r = http
            .post(&json_url)
            .body(r#"{"symbol": "GOOG"}"#)
            .send()
            .await
            .ok()?;
        let v: Value = r.json().await.ok()?;
        (v[0]["value"] == "300.1").then_some(started.elapsed())
    })
    .await
    .expect("server2 never used the edited connection");
    assert!(changed < Duration::from_secs(1), "took {changed:?}");
    c.finish().await;
}

async fn sql_roundtrip(backend: Backend) {
    let c = TestCluster::start(backend, Options::default())
        .await
        .unwrap();
    let s = &c.servers[0];
    let admin = s.admin();
    deploy(&admin).await;
    let cfg = &c.db.cfg;
    let (engine, db_name) = match backend {
        Backend::Sqlite => ("sqlite", format!("{}.out", cfg.db_name)),
        Backend::Postgresql => ("postgresql+pg8000", cfg.db_name.clone()),
        Backend::Mysql => ("mysql+pymysql", cfg.db_name.clone()),
    };
    admin
        .invoke(
            "zato.outgoing.sql.create",
            &json!({"name": "db1", "engine": engine, "host": cfg.host, "port": cfg.port,
                "db_name": db_name, "username": cfg.username, "password": cfg.password,
                "pool_size": 2, "is_active": true}),
        )
        .await
        .unwrap();
    let list = admin
        .invoke("zato.outgoing.sql.get-list", &json!({}))
        .await
        .unwrap();
    assert!(list.data[0].get("password").is_none(), "{}", list.data);
    let r = eventually(Duration::from_secs(3), || async {
        admin
            .invoke("zato.outgoing.sql.ping", &json!({"name": "db1"}))
            .await
            .ok()
    })
    .await
    .unwrap_or_else(|| panic!("{backend:?}: ping never worked\n{}", s.log()));
    assert!(r.data["response_time"].is_string());
    let r = admin
        .invoke("test.sql", &json!({"conn": "db1"}))
        .await
        .unwrap_or_else(|e| panic!("{backend:?}: {e}\n{}", s.log()));
    assert_eq!(
        r.data,
        json!({
            "rows": [{"id": 1, "name": "it's a", "price": 1.5}, {"id": 2, "name": "b", "price": 2.5}],
            "first_name": "it's a", "deleted": 1, "count": 1,
            "error": {"name": "db1", "mentions_table": true},
        }),
        "{backend:?}"
    );
    if let Some(engine) = match backend {
        Backend::Postgresql => Some("postgresql"),
        Backend::Mysql => Some("mysql"),
        Backend::Sqlite => None,
    } {
        let r = admin
            .invoke("test.sql-types", &json!({"conn": "db1", "engine": engine}))
            .await
            .unwrap_or_else(|e| panic!("{backend:?}: {e}\n{}", s.log()));
        let pg = engine == "postgresql";
        // MariaDB's JSON is LONGTEXT with a binary collation: its driver reports bytes.
        let doc = if pg {
            json!(["dict", {"a": [1, 2]}])
        } else {
            json!(["bytes", "{\"a\":[1,2]}"])
        };
        assert_eq!(
            r.data,
            json!({
                "amount": ["Decimal", "12.50"], "created": ["datetime", "2026-11-22T18:00:00.500000"],
                "day": ["date", "2026-11-22"],
                "uid": [if pg { "UUID" } else { "str" }, "12345678-1234-5678-1234-567812345678"],
                "doc": doc, "flag": ["bool", true], "n": ["NoneType", null],
                // PostgreSQL refuses text for an integer parameter; MySQL compares it as 0.
                "bad_param": if pg { json!(true) } else { Value::Null },
            }),
            "{backend:?}"
        );
    }
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_on_postgresql() {
    sql_roundtrip(Backend::Postgresql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_on_mariadb() {
    sql_roundtrip(Backend::Mysql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_on_sqlite() {
    sql_roundtrip(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_through_kvdb() {
    let c = TestCluster::start(
        Backend::Sqlite,
        Options {
            kvdb: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let admin = c.servers[0].admin();
    deploy(&admin).await;
    let key = format!("zato-test:{}", uuid::Uuid::new_v4().simple());
    let r = admin
        .invoke("test.kvdb", &json!({"key": key}))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", c.servers[0].log()));
    assert_eq!(
        r.data,
        json!({
            "set": true, "get": "v1", "missing": null, "incr": [1, 6], "hset": 2,
            "hgetall": {"a": "1", "b": "2"}, "ttl_ok": true, "ping": true,
            "lrange": [2, ["x", "y"]], "generic": 2, "same_as_outgoing": "v1", "deleted": 4,
        })
    );
    c.finish().await;
}

/// Redis settings changed through server1 are used by server2 within a second, written to its
/// server.conf, and taken at start-up by a server that was down when they changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_settings_change_cluster_wide() {
    let mut c = TestCluster::start(
        Backend::Sqlite,
        Options {
            servers: 2,
            kvdb: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let admin = c.servers[0].admin();
    deploy(&admin).await;
    let where_is = |admin: AdminClient| async move {
        admin
            .invoke("test.kvdb-where", &json!({}))
            .await
            .ok()
            .map(|r| r.data["db"].clone())
    };
    let admin2 = c.servers[1].admin();
    let ready = eventually(Duration::from_secs(3), || async {
        where_is(admin2.clone()).await
    })
    .await
    .expect("server2 never ran test.kvdb-where");
    assert_eq!(ready, json!(0));
    let r = admin
        .invoke(
            "zato.outgoing.redis.edit",
            &json!({"host": "127.0.0.1", "port": 6379, "db": 3}),
        )
        .await
        .unwrap();
    assert_eq!(r.data["db"], 3);
    let started = Instant::now();
    let took = eventually(Duration::from_secs(3), || async {
        (where_is(admin2.clone()).await? == json!(3)).then_some(started.elapsed())
    })
    .await
    .expect("server2 never used the new Redis db");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let conf_path = c.servers[1].dir.join("config/repo/server.conf");
    let conf = || std::fs::read_to_string(&conf_path).unwrap();
    assert!(conf().contains("db = 3"), "{}", conf());
    let list = admin
        .invoke("zato.outgoing.redis.get-list", &json!({}))
        .await
        .unwrap();
    assert_eq!(list.data[0]["db"], 3);
    assert!(list.data[0].get("password").is_none());

    // Changed while server2 is down: it takes the stored settings when it starts.
    c.servers[1].stop();
    admin
        .invoke(
            "zato.outgoing.redis.edit",
            &json!({"host": "127.0.0.1", "db": 4}),
        )
        .await
        .unwrap();
    c.servers[1].start().await.unwrap();
    assert_eq!(where_is(c.servers[1].admin()).await, Some(json!(4)));
    assert!(conf().contains("db = 4"), "{}", conf());
    let bad = admin
        .invoke(
            "zato.outgoing.redis.edit",
            &json!({"host": "127.0.0.1", "port": 70000}),
        )
        .await;
    assert!(format!("{bad:?}").contains("port"), "{bad:?}");
    c.finish().await;
}

/// A service that waits on a slow remote system holds no interpreter seat while it waits: 24
/// such calls at once, each waiting 300 ms, are not queued behind the 4 interpreter threads
/// (which would take 6 x 300 ms).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_waiting_on_a_slow_remote_do_not_queue_behind_the_interpreter_threads() {
    let cluster = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let admin = cluster.servers[0].admin();
    deploy(&admin).await;
    let host = standin::start(remote).await;
    outgoing(&admin, "Slow", &host, "/delay/300/yql2", json!({})).await;
    create_channel(&admin, "slow", "/slow", "test.slow-call", json!({}))
        .await
        .unwrap();
    let url = format!("{}/slow", cluster.servers[0].address());
    let http = reqwest::Client::new();
    let call = || async {
        let r = http.get(&url).send().await.expect("call /slow");
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.expect("JSON")
    };
    // Warm up the connection pools.
    call().await;
    let started = Instant::now();
    let answers = futures_util::future::join_all((0..24).map(|_| call())).await;
    let took = started.elapsed();
    assert!(
        answers
            .iter()
            .all(|a| a["query"]["results"]["quote"]["MarketCapitalization"] == "300.1B")
    );
    assert!(
        took < Duration::from_millis(1200),
        "24 calls of 300 ms took {took:?} with 4 interpreter threads"
    );
    cluster.finish().await;
}
