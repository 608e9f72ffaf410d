//! `zato enmasse`: export → import into a fresh cluster → export gives the same file (YAML and
//! JSON); a file with problems is refused whole with every problem named and changes nothing;
//! upstream's older type names, `include:` and environment placeholders are understood.
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use zato_common::admin::AdminClient;
use zato_tests::cli::{command, ok};
use zato_tests::{Backend, Options, TestCluster, eventually};

async fn invoke(admin: &AdminClient, service: &str, input: Value) -> Value {
    admin
        .invoke(service, &input)
        .await
        .unwrap_or_else(|e| panic!("{service}: {e}"))
        .data
}

/// One object of every kind enmasse handles.
async fn populate(admin: &AdminClient) {
    for (service, input) in [
        (
            "zato.security.basic-auth.create",
            json!({"name": "CRM Basic", "username": "crm", "password": "p1", "realm": "CRM"}),
        ),
        (
            "zato.security.apikey.create",
            json!({"name": "Partner key", "password": "k1", "header": "X-Partner"}),
        ),
        (
            "zato.security.wss.create",
            json!({"name": "Legacy WSS", "username": "legacy", "password": "w1", "password_type": "digest", "reject_expiry_limit": 300}),
        ),
        (
            "zato.security.jwt.create",
            json!({"name": "Mobile JWT", "username": "mobile", "password": "j1", "ttl": 900}),
        ),
        (
            "zato.security.tech-account.create",
            json!({"name": "batch", "password": "t1"}),
        ),
        (
            "zato.http-soap.create",
            json!({"name": "get-user", "connection": "channel", "transport": "plain_http", "url_path": "/api/users/{id}", "service": "zato.ping", "method": "GET", "data_format": "json", "security_name": "CRM Basic"}),
        ),
        (
            "zato.http-soap.create",
            json!({"name": "legacy-ping", "connection": "channel", "transport": "soap", "url_path": "/soap/ping", "service": "zato.ping", "soap_action": "urn:ping", "soap_version": "1.1", "data_format": "soap", "security_name": "Legacy WSS"}),
        ),
        (
            "zato.http-soap.create",
            json!({"name": "Partner API", "connection": "outgoing", "transport": "plain_http", "host": "https://partner.example.com", "url_path": "/v1/orders/{order}", "data_format": "json", "timeout": 5, "pool_size": 4, "security_name": "Partner key"}),
        ),
        (
            "zato.http-soap.create",
            json!({"name": "Old ERP", "connection": "outgoing", "transport": "soap", "host": "http://erp.example.com", "url_path": "/ws", "soap_action": "urn:get", "soap_version": "1.2", "validate_tls": false}),
        ),
        (
            "zato.outgoing.sql.create",
            json!({"name": "Reports DB", "engine": "postgresql", "host": "db.example.com", "port": 5432, "db_name": "reports", "username": "rep", "password": "s1", "pool_size": 3}),
        ),
    ] {
        invoke(admin, service, input).await;
    }
    // SQLite has no password: the export must not ask for one.
    let db = std::env::temp_dir().join(format!("zato-enmasse-{}.db", std::process::id()));
    invoke(
        admin,
        "zato.outgoing.sql.create",
        json!({"name": "Local cache", "engine": "sqlite", "db_name": db.to_str().unwrap()}),
    )
    .await;
}

fn export(server: &Path, file: &Path, format: &str) -> String {
    let (s, f) = (server.to_str().unwrap(), file.to_str().unwrap());
    let out = ok(&["enmasse", s, "--export", "--format", format, "--output", f]);
    let text = std::fs::read_to_string(file).unwrap();
    // Every placeholder in the file is named on the console, once.
    for part in text.split("{Zato_Enmasse_Env.").skip(1) {
        let var = part.split('}').next().unwrap();
        assert!(
            out.lines().any(|l| l.trim() == var),
            "`{var}` not listed:\n{out}"
        );
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_import_export_is_identical() {
    let a = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let b = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let c = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    populate(&a.servers[0].admin()).await;
    let dir = tempfile::tempdir().unwrap();
    for (format, target) in [("yaml", &b), ("json", &c)] {
        let first_path = dir.path().join(format!("first.{format}"));
        let first = export(&a.servers[0].dir, &first_path, format);
        assert!(
            !first.contains("p1") && !first.contains("s1\""),
            "a secret in clear: {first}"
        );
        assert!(
            first.contains("{Zato_Enmasse_Env.ZATO_SEC_CRM_BASIC_PASSWORD}"),
            "{first}"
        );
        let out = ok(&[
            "enmasse",
            target.servers[0].dir.to_str().unwrap(),
            "--import",
            "--ignore-missing-env",
            "--input",
            first_path.to_str().unwrap(),
        ]);
        assert!(out.contains("Created (11)"), "{out}");
        assert!(!first.contains("LOCAL_CACHE_PASSWORD"), "{first}");
        let second = export(
            &target.servers[0].dir,
            &dir.path().join(format!("second.{format}")),
            format,
        );
        assert_eq!(first, second, "{format}: the round trip changed the file");
    }
    // The imported channel works on the new cluster with the password given by the environment.
    let out = command()
        .args([
            "enmasse",
            b.servers[0].dir.to_str().unwrap(),
            "--import",
            "--replace",
            "--ignore-missing-env",
            "--input",
        ])
        .arg(dir.path().join("first.yaml"))
        .env("ZATO_SEC_CRM_BASIC_PASSWORD", "from-env")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Updated (11)"));
    let http = zato_common::http::local_client();
    let url = format!("{}/api/users/7", b.servers[0].address());
    eventually(Duration::from_secs(3), || async {
        let r = http
            .get(&url)
            .basic_auth("crm", Some("from-env"))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    })
    .await
    .expect("the imported channel never accepted the password from the environment");
    for c in [a, b, c] {
        c.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_changes_nothing() {
    let c = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let admin = c.servers[0].admin();
    populate(&admin).await;
    let server = c.servers[0].dir.to_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let before = export(&c.servers[0].dir, &dir.path().join("before.yaml"), "yaml");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        r#"
security:
  - {name: New Basic, type: basic_auth, username: new, password: x}
  - {name: No User, type: basic_auth, password: x}
  - {name: New Basic, type: apikey, password: y}
  - {name: CRM Basic, type: basic_auth, username: crm2, password: z}
  - {name: Odd, type: ntlm, username: o}
channel_rest:
  - {name: ok-channel, service: zato.ping, url_path: /ok}
  - {name: dangling, service: zato.ping, url_path: /d, security_name: Nobody}
  - {name: no-service, service: not.deployed, url_path: /n}
  - {name: bad-format, service: zato.ping, url_path: /b, data_format: yaml}
  - {name: typo, service: zato.ping, url_path: /t, security_nmae: CRM Basic}
  - {name: same-path, service: zato.ping, url_path: /ok}
  - {name: groups, service: zato.ping, url_path: /g, security_groups: [admins]}
outconn_sql:
  - {name: bad engine, engine: oracle, host: h, db_name: d, username: u}
scheduler:
  - {name: job1, service: zato.ping, job_type: interval_based, seconds: 5}
wrong_type:
  - {name: x}
"#,
    )
    .unwrap();
    let out = command()
        .args(["enmasse", &server, "--import", "--input"])
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for needle in [
        "has 13 problem(s); nothing was imported",
        "channel_rest `typo`: security_nmae: unknown field `security_nmae`; did you mean `security_name`?",
        "channel_rest `same-path`: channel `ok-channel` already serves `/ok` for every method",
        "channel_rest `groups`: security_groups: `security_groups` is an upstream feature this server does not have",
        "security `No User`: username: Missing input: username",
        "security `New Basic`: name: appears more than once in the file",
        "security `CRM Basic`: already exists in the cluster; import with --replace to update it",
        "security `Odd`: type: unsupported security type `ntlm`",
        "channel_rest `dangling`: security_name: no security definition named `Nobody`",
        "channel_rest `no-service`: service: no service named `not.deployed` is deployed",
        "channel_rest `bad-format`: data_format: `data_format` must be one of",
        "outconn_sql `bad engine`: engine: unsupported `engine` `oracle`",
        "scheduler `job1`: start_date: Missing input: start_date",
        "wrong_type ``: unknown type `wrong_type`",
    ] {
        assert!(stderr.contains(needle), "`{needle}` not in:\n{stderr}");
    }
    let after = export(&c.servers[0].dir, &dir.path().join("after.yaml"), "yaml");
    assert_eq!(before, after, "a refused file changed the cluster");
    let list = invoke(&admin, "zato.security.get-list", json!({})).await;
    assert!(
        !list
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "New Basic")
    );

    // --ignore-missing-defs skips the dangling channel; the rest of a good file goes in.
    let partial = dir.path().join("partial.json");
    std::fs::write(
        &partial,
        json!({"channel_rest": [
            {"name": "ok-channel", "service": "zato.ping", "url_path": "/ok"},
            {"name": "dangling", "service": "zato.ping", "url_path": "/d", "security_name": "Nobody"},
        ]})
        .to_string(),
    )
    .unwrap();
    let out = command()
        .args([
            "enmasse",
            &server,
            "--import",
            "--ignore-missing-defs",
            "--input",
        ])
        .arg(&partial)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Skipped channel_rest `dangling`"));
    let rows = invoke(
        &admin,
        "zato.http-soap.get-list",
        json!({"connection": "channel"}),
    )
    .await;
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"ok-channel") && !names.contains(&"dangling"),
        "{names:?}"
    );

    // No action, both actions.
    zato_tests::cli::fails(&["enmasse", &server], 14, "use --export or --import");
    zato_tests::cli::fails(
        &["enmasse", &server, "--export", "--import"],
        13,
        "not both",
    );
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_type_names_includes_and_env() {
    let c = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let s = &c.servers[0];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("security.yml"),
        "def_sec:\n  - {name: Old Basic, type: basic_auth, username: old, password: '{Zato_Enmasse_Env.OLD_BASIC_PW}', realm: Old}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("main.yaml"),
        r#"
include: [security.yml]
channel_plain_http:
  - {name: old-ping, service: zato.ping, url_path: /old/ping, sec_def: Old Basic, data_format: json}
channel_soap:
  - {name: old-soap, service: zato.ping, url_path: /old/soap, sec_def: zato-no-security}
outconn_plain_http:
  - {name: Old CRM, host: 'http://crm.example.com', url_path: /api}
outconn_soap:
  - {name: Old SOAP, host: 'http://soap.example.com', url_path: /ws, soap_action: 'urn:x'}
http_soap:
  - {name: generic-channel, connection: channel, transport: plain_http, service: zato.ping, url_path: /generic}
"#,
    )
    .unwrap();
    let out = command()
        .args(["enmasse", s.dir.to_str().unwrap(), "--import", "--input"])
        .arg(dir.path().join("main.yaml"))
        .env("OLD_BASIC_PW", "old-secret")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admin = s.admin();
    let rows = invoke(&admin, "zato.http-soap.get-list", json!({})).await;
    let find = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        (
            find("old-ping")["connection"].clone(),
            find("old-ping")["security_name"].clone()
        ),
        (json!("channel"), json!("Old Basic"))
    );
    assert_eq!(
        (
            find("old-soap")["transport"].clone(),
            find("old-soap")["security_id"].clone()
        ),
        (json!("soap"), Value::Null)
    );
    assert_eq!(
        (
            find("Old CRM")["connection"].clone(),
            find("Old CRM")["transport"].clone()
        ),
        (json!("outgoing"), json!("plain_http"))
    );
    assert_eq!(
        (
            find("Old SOAP")["connection"].clone(),
            find("Old SOAP")["transport"].clone()
        ),
        (json!("outgoing"), json!("soap"))
    );
    assert_eq!(find("generic-channel")["url_path"], "/generic");
    let http = zato_common::http::local_client();
    let url = format!("{}/old/ping", s.address());
    eventually(Duration::from_secs(3), || async {
        let r = http
            .get(&url)
            .basic_auth("old", Some("old-secret"))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    })
    .await
    .expect("the channel from the old-style file never accepted its password");
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unset_variables_and_empty_secrets_never_become_passwords() {
    let c = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let s = &c.servers[0];
    let server = s.dir.to_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("env.yaml");
    std::fs::write(
        &file,
        "security:\n  - {name: Env Basic, type: basic_auth, username: envu, password: '{Zato_Enmasse_Env.ZATO_TEST_UNSET_PW}', realm: R}\nchannel_rest:\n  - {name: env-ping, service: zato.ping, url_path: /env/ping, security_name: Env Basic, data_format: json}\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        command()
            .args(["enmasse", &server, "--import", "--input"])
            .arg(&file)
            .args(extra)
            .env_remove("ZATO_TEST_UNSET_PW")
            .output()
            .unwrap()
    };
    // Refused, naming the variable; nothing is written.
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(15), "{err}");
    assert!(
        err.contains("ZATO_TEST_UNSET_PW") && err.contains("--ignore-missing-env"),
        "{err}"
    );
    let admin = s.admin();
    let defs = invoke(&admin, "zato.security.get-list", json!({})).await;
    assert!(!defs.to_string().contains("Env Basic"), "{defs}");

    // Asked for explicitly: imported with a random secret, so neither upstream's literal nor
    // an empty password opens the channel.
    let out = run(&["--ignore-missing-env"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let http = zato_common::http::local_client();
    let url = format!("{}/env/ping", s.address());
    for guess in ["Missing_Value_ZATO_TEST_UNSET_PW", ""] {
        let r = http
            .get(&url)
            .basic_auth("envu", Some(guess))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "password {guess:?} was accepted");
    }

    // An empty password in a file is a problem of the file.
    std::fs::write(
        &file,
        "security:\n  - {name: Empty Basic, type: basic_auth, username: emptyu, password: '', realm: R}\n",
    )
    .unwrap();
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("Empty Basic") && err.contains("password: must not be empty"),
        "{err}"
    );

    // A definition whose stored secret is empty (written by an older version, or by hand)
    // lets nobody in, `user:` included.
    let defs = invoke(&admin, "zato.security.get-list", json!({})).await;
    let id = defs
        .as_array()
        .and_then(|a| a.iter().find(|d| d["name"] == "Env Basic"))
        .and_then(|d| d["id"].as_i64())
        .unwrap();
    invoke(
        &admin,
        "zato.security.basic-auth.change-password",
        json!({"id": id, "password1": "known", "password2": "known"}),
    )
    .await;
    let status = |pw: &'static str| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            http.get(&url)
                .basic_auth("envu", Some(pw))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert!(
        eventually(Duration::from_secs(3), || async {
            (status("known").await == 200).then_some(())
        })
        .await
        .is_some()
    );
    let odb = zato_common::odb::Odb::connect(&c.db.cfg).await.unwrap();
    let cluster_id = odb
        .cluster_by_name(&c.name)
        .await
        .unwrap()
        .map(|cl| cl.id)
        .unwrap();
    odb.security_set_password(cluster_id, id, &c.key.encrypt_for_odb(""))
        .await
        .unwrap();
    odb.publish_event(cluster_id, "config", "null", "test")
        .await
        .unwrap();
    odb.close().await;
    // Once the server has the empty secret, the old password stops working...
    assert!(
        eventually(Duration::from_secs(3), || async {
            (status("known").await == 401).then_some(())
        })
        .await
        .is_some()
    );
    // ...and so does an empty one.
    let r = status("").await;
    assert_eq!(r, 401);
    c.finish().await;
}
