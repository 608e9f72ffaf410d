//! Channel security end to end, on a cluster of two servers: each definition type accepts the
//! right credential and refuses wrong, missing, replayed (WS-Security nonce) and stale ones with
//! 401 and a CID; a change made through server1 holds on server2 within a second.
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use zato_common::admin::AdminClient;
use zato_tests::{Backend, Options, TestCluster, create_channel, eventually};

async fn create(admin: &AdminClient, service: &str, input: Value) -> i64 {
    admin
        .invoke(service, &input)
        .await
        .unwrap_or_else(|e| panic!("{service}: {e}"))
        .data["id"]
        .as_i64()
        .unwrap()
}

/// Asserts a refusal: 401, the CID in the header and in the body.
async fn refused(r: reqwest::Response, what: &str) {
    assert_eq!(r.status(), 401, "{what}");
    let cid = r.headers()["x-zato-cid"].to_str().unwrap().to_string();
    assert!(!cid.is_empty(), "{what}: no CID");
    let body = r.text().await.unwrap();
    assert!(
        body.contains(&cid),
        "{what}: the body does not name the CID: {body}"
    );
}

fn envelope(header: &str) -> String {
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><soapenv:Header>{header}</soapenv:Header><soapenv:Body><ping/></soapenv:Body></soapenv:Envelope>"#
    )
}

const TEXT: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";
const DIGEST: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";

/// A UsernameToken; `digest` sends Base64(SHA-1(nonce + created + password)).
fn token(user: &str, password: &str, digest: bool, age: Duration) -> String {
    let nonce: [u8; 16] = uuid::Uuid::new_v4().into_bytes();
    let created = (chrono::Utc::now() - age).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (kind, pw) = if digest {
        let mut h = Sha1::new();
        h.update(nonce);
        h.update(created.as_bytes());
        h.update(password.as_bytes());
        (DIGEST, B64.encode(h.finalize()))
    } else {
        (TEXT, password.to_string())
    };
    format!(
        r#"<wsse:Security><wsse:UsernameToken><wsse:Username>{user}</wsse:Username><wsse:Password Type="{kind}">{pw}</wsse:Password><wsse:Nonce>{}</wsse:Nonce><wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"#,
        B64.encode(nonce)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_security_type_on_channels() {
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

    let basic = create(
        &admin,
        "zato.security.basic-auth.create",
        json!({"name": "b1", "username": "u1", "password": "p1", "realm": "R1"}),
    )
    .await;
    let key = create(
        &admin,
        "zato.security.apikey.create",
        json!({"name": "k1", "password": "key-1", "header": "X-My-Key"}),
    )
    .await;
    let tech = create(
        &admin,
        "zato.security.tech-account.create",
        json!({"name": "tech1", "password": "t1"}),
    )
    .await;
    let wss = create(&admin, "zato.security.wss.create", json!({"name": "w1", "username": "wu", "password": "wp", "password_type": "clear_text", "reject_expiry_limit": 600})).await;
    let wssd = create(
        &admin,
        "zato.security.wss.create",
        json!({"name": "w2", "username": "wd", "password": "wdp", "password_type": "digest"}),
    )
    .await;
    let jwt = create(
        &admin,
        "zato.security.jwt.create",
        json!({"name": "j1", "username": "ju", "password": "jp", "ttl": 60}),
    )
    .await;
    let jwt2 = create(
        &admin,
        "zato.security.jwt.create",
        json!({"name": "j2", "username": "ju2", "password": "jp2", "ttl": 1}),
    )
    .await;
    for (path, sec, soap) in [
        ("/sec/basic", basic, false),
        ("/sec/key", key, false),
        ("/sec/tech", tech, false),
        ("/sec/wss", wss, true),
        ("/sec/wss-digest", wssd, true),
        ("/sec/jwt", jwt, false),
        ("/sec/jwt2", jwt2, false),
    ] {
        let extra = if soap {
            json!({"security_id": sec, "transport": "soap", "data_format": "soap"})
        } else {
            json!({"security_id": sec})
        };
        create_channel(&admin, path, path, "zato.ping", extra)
            .await
            .unwrap();
    }
    // The list never carries secrets.
    let all = admin
        .invoke("zato.security.get-list", &json!({}))
        .await
        .unwrap();
    assert!(
        all.data
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d.get("password").is_none())
    );
    assert!(
        all.data
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["sec_type"] == "tech_acc")
    );

    let url = |s: &zato_tests::Server, p: &str| format!("{}{p}", s.address());
    // Every server holds the new channels before the checks start.
    for s in [s1, s2] {
        let u = url(s, "/sec/basic");
        eventually(Duration::from_secs(3), || async {
            let r = http
                .get(&u)
                .basic_auth("u1", Some("p1"))
                .send()
                .await
                .ok()?;
            (r.status() == 200).then_some(())
        })
        .await
        .expect("the channels never became live");
    }

    // Basic Auth.
    let u = url(s2, "/sec/basic");
    let r = http
        .get(&u)
        .basic_auth("u1", Some("p1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["pong"], "zato");
    let r = http
        .get(&u)
        .basic_auth("u1", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"R1\"");
    refused(r, "basic: wrong password").await;
    refused(http.get(&u).send().await.unwrap(), "basic: none").await;

    // API key in its own header.
    let u = url(s2, "/sec/key");
    let r = http
        .get(&u)
        .header("X-My-Key", "key-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    refused(
        http.get(&u)
            .header("X-My-Key", "key-2")
            .send()
            .await
            .unwrap(),
        "key: wrong",
    )
    .await;
    refused(
        http.get(&u)
            .header("X-API-Key", "key-1")
            .send()
            .await
            .unwrap(),
        "key: other header",
    )
    .await;

    // Technical account: Basic Auth with the account's name.
    let u = url(s2, "/sec/tech");
    assert_eq!(
        http.get(&u)
            .basic_auth("tech1", Some("t1"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    refused(
        http.get(&u)
            .basic_auth("tech1", Some("t2"))
            .send()
            .await
            .unwrap(),
        "tech: wrong",
    )
    .await;
    refused(http.get(&u).send().await.unwrap(), "tech: none").await;

    // WS-Security, PasswordText: right, replayed, wrong, missing, stale.
    let u = url(s1, "/sec/wss");
    let post = |u: String, body: String| {
        http.post(u)
            .header("content-type", "text/xml; charset=utf-8")
            .body(body)
            .send()
    };
    let good = envelope(&token("wu", "wp", false, Duration::ZERO));
    let r = post(u.clone(), good.clone()).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // The same token again, on the other server: the nonce is known cluster-wide.
    let r = post(url(s2, "/sec/wss"), good.clone()).await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    refused(r, "wss: replayed nonce").await;
    refused(
        post(u.clone(), good).await.unwrap(),
        "wss: replayed nonce, same server",
    )
    .await;
    refused(
        post(
            u.clone(),
            envelope(&token("wu", "nope", false, Duration::ZERO)),
        )
        .await
        .unwrap(),
        "wss: wrong",
    )
    .await;
    refused(
        post(u.clone(), envelope("")).await.unwrap(),
        "wss: no token",
    )
    .await;
    let stale = envelope(&token("wu", "wp", false, Duration::from_secs(3600)));
    refused(post(u.clone(), stale).await.unwrap(), "wss: stale").await;

    // WS-Security, PasswordDigest: the digest is accepted, the password in clear is not.
    let u = url(s2, "/sec/wss-digest");
    assert_eq!(
        post(
            u.clone(),
            envelope(&token("wd", "wdp", true, Duration::ZERO))
        )
        .await
        .unwrap()
        .status(),
        200
    );
    refused(
        post(
            u.clone(),
            envelope(&token("wd", "wdp", false, Duration::ZERO)),
        )
        .await
        .unwrap(),
        "wss digest: text",
    )
    .await;
    refused(
        post(
            u.clone(),
            envelope(&token("wd", "bad", true, Duration::ZERO)),
        )
        .await
        .unwrap(),
        "wss digest: wrong",
    )
    .await;

    // WSS on outgoing SOAP: server1 calls server2's WSS channels, a fresh token per call.
    let service = r#"
from zato.server.service import Service

class WssCall(Service):
    name = 'test.wss-call'

    def handle(self):
        conn = self.outgoing.soap[self.request.payload['conn']].conn
        out = []
        for _ in range(2):
            r = conn.send(self.cid, '<ping/>')
            out.append([r.status_code, r.data.findtext('pong') if r.data is not None else r.text])
        self.response.payload = out
"#;
    admin
        .invoke(
            "zato.service.upload-package",
            &json!({"payload": B64.encode(service), "payload_name": "wss_call.py"}),
        )
        .await
        .unwrap();
    for (name, path, sec) in [
        ("wss-text-out", "/sec/wss", wss),
        ("wss-digest-out", "/sec/wss-digest", wssd),
    ] {
        create(
            &admin,
            "zato.http-soap.create",
            json!({"name": name, "connection": "outgoing", "transport": "soap", "host": s2.address(),
                "url_path": path, "security_id": sec, "soap_version": "1.1"}),
        )
        .await;
        let r = eventually(Duration::from_secs(3), || async {
            admin
                .invoke("test.wss-call", &json!({"conn": name}))
                .await
                .ok()
        })
        .await
        .unwrap_or_else(|| panic!("{name}: test.wss-call never worked\n{}", s1.log()));
        assert_eq!(r.data, json!([[200, "zato"], [200, "zato"]]), "{name}");
    }

    // JWT: log in, use, log out (refused by the other server too), wrong credentials, expiry.
    let login = |s: &zato_tests::Server, user: &str, pw: &str| {
        http.post(url(s, "/zato/jwt/log-in"))
            .body(json!({"username": user, "password": pw}).to_string())
            .send()
    };
    refused(
        login(s1, "ju", "wrong").await.unwrap(),
        "jwt: log-in with a wrong password",
    )
    .await;
    let r = login(s1, "ju", "jp").await.unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let u = url(s2, "/sec/jwt");
    assert_eq!(
        http.get(&u)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    refused(http.get(&u).send().await.unwrap(), "jwt: none").await;
    refused(
        http.get(&u).bearer_auth("a.b.c").send().await.unwrap(),
        "jwt: garbage",
    )
    .await;
    refused(
        http.get(url(s2, "/sec/jwt2"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        "jwt: another definition's",
    )
    .await;
    let r = http
        .post(url(s1, "/zato/jwt/log-out"))
        .body(json!({"token": token}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    refused(
        http.get(url(s1, "/sec/jwt"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        "jwt: logged out, same server",
    )
    .await;
    let started = Instant::now();
    let gone = eventually(Duration::from_secs(3), || async {
        let r = http.get(&u).bearer_auth(&token).send().await.ok()?;
        (r.status() == 401).then_some(started.elapsed())
    })
    .await
    .expect("server2 kept accepting a logged-out token");
    assert!(gone < Duration::from_secs(1), "took {gone:?}");
    let short = login(s1, "ju2", "jp2")
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let u2 = url(s2, "/sec/jwt2");
    assert_eq!(
        http.get(&u2)
            .bearer_auth(&short)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let expired = eventually(Duration::from_secs(4), || async {
        let r = http.get(&u2).bearer_auth(&short).send().await.ok()?;
        (r.status() == 401).then_some(r)
    })
    .await
    .expect("an expired token was still accepted");
    refused(expired, "jwt: expired").await;

    // The log-out travelled as a narrow event: no configuration reload for anyone.
    let odb = zato_common::odb::Odb::connect(&c.db.cfg).await.unwrap();
    let cluster_id = odb.cluster_by_name(&c.name).await.unwrap().unwrap().id;
    let events = odb.events_after(cluster_id, 0).await.unwrap();
    let last = events.last().map(|e| e.event_type.clone());
    assert_eq!(last.as_deref(), Some("jwt_revoked"), "{events:?}");
    odb.close().await;

    // Failed log-ins are throttled per client and per user: ten failures from one client
    // block that client and that user, even with the right password, but nobody else.
    let from = |s: &zato_tests::Server, ip: &'static str, user: &str, pw: &str| {
        http.post(url(s, "/zato/jwt/log-in"))
            .header("X-Forwarded-For", ip)
            .body(json!({"username": user, "password": pw}).to_string())
            .send()
    };
    for _ in 0..10 {
        let r = from(s1, "10.9.9.9", "ju2", "bad").await.unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = from(s1, "10.9.9.9", "ju2", "jp2").await.unwrap();
    assert_eq!(r.status(), 429, "the eleventh try was not throttled");
    let body = r.text().await.unwrap();
    assert!(body.contains("Too many failed log-ins"), "{body}");
    let r = from(s1, "10.8.8.8", "ju2", "jp2").await.unwrap();
    assert_eq!(
        r.status(),
        429,
        "the user was not throttled from another client"
    );
    let r = from(s1, "10.7.7.7", "ju", "jp").await.unwrap();
    assert_eq!(
        r.status(),
        200,
        "another user from another client was throttled"
    );

    // A password changed through server1 holds on server2 within a second.
    let started = Instant::now();
    admin
        .invoke(
            "zato.security.basic-auth.change-password",
            &json!({"id": basic, "password1": "p2", "password2": "p2"}),
        )
        .await
        .unwrap();
    let u = url(s2, "/sec/basic");
    let took = eventually(Duration::from_secs(3), || async {
        let r = http
            .get(&u)
            .basic_auth("u1", Some("p2"))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(started.elapsed())
    })
    .await
    .expect("server2 never took the new password");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    refused(
        http.get(&u)
            .basic_auth("u1", Some("p1"))
            .send()
            .await
            .unwrap(),
        "basic: old password",
    )
    .await;
    c.finish().await;
}

/// An ODB failure behind an unauthenticated channel (JWT log-out) is a 500 with the CID and
/// the generic message; what the ODB said goes only to the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odb_errors_stay_in_the_log_for_strangers() {
    use sqlx::Executor;
    let c = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let s = &c.servers[0];
    let admin = s.admin();
    create(
        &admin,
        "zato.security.jwt.create",
        json!({"name": "jx", "username": "jxu", "password": "jxp", "ttl": 60}),
    )
    .await;
    let http = zato_common::http::local_client();
    let token = eventually(Duration::from_secs(3), || async {
        let r = http
            .post(format!("{}/zato/jwt/log-in", s.address()))
            .body(json!({"username": "jxu", "password": "jxp"}).to_string())
            .send()
            .await
            .ok()?;
        let v: Value = r.json().await.ok()?;
        v["token"].as_str().map(str::to_string)
    })
    .await
    .expect("no token");
    let odb = zato_common::odb::Odb::connect(&c.db.cfg).await.unwrap();
    odb.pool()
        .execute("CREATE TRIGGER zato_test_kv BEFORE INSERT ON kv_data BEGIN SELECT RAISE(ABORT, 'secret ODB detail'); END")
        .await
        .unwrap();
    odb.close().await;
    let r = http
        .post(format!("{}/zato/jwt/log-out", s.address()))
        .body(json!({"token": token}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let body = r.text().await.unwrap();
    assert!(
        !body.contains("secret ODB detail") && body.contains("An error has occurred"),
        "{body}"
    );
    assert!(s.log().contains("secret ODB detail"), "not logged");
    c.finish().await;
}
