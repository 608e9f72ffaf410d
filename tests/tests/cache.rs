//! The built-in caches (`self.cache`): a value set on one server is read on the other, with
//! upstream's API (get with a default, details, has_key / `in`, `[]`, delete with KeyError,
//! expire, get_by_prefix, len, keys, clear); an entry expires on both servers; caches by name
//! are apart; a key too long is refused with a clear error. The rest of the cluster-wide
//! service API rides along: `self.crypto` (one cluster key on every server, passlib-format
//! hashes), `invoke_by_id`, `invoke_by_impl_name`, `new_instance` and `spawn`.
use std::time::Duration;

use serde_json::{Value, json};
use zato_common::admin::AdminClient;
use zato_tests::{Backend, Options, TestCluster, eventually};

const SERVICES: &str = include_str!("fixtures/caches.py");

async fn op(admin: &AdminClient, payload: Value) -> Value {
    admin
        .invoke("caches.op", &payload)
        .await
        .unwrap_or_else(|e| panic!("{payload}: {e}"))
        .data["out"]
        .clone()
}

async fn caches_on(backend: Backend) {
    let c = TestCluster::start(
        backend,
        Options {
            servers: 2,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let (a, b) = (c.servers[0].admin(), c.servers[1].admin());
    zato_tests::deploy(&a, "caches.py", SERVICES).await.unwrap();
    let ready = eventually(Duration::from_secs(10), || async {
        let p = json!({"op": "get", "key": "warm"});
        a.invoke("caches.op", &p).await.ok()?;
        b.invoke("caches.op", &p).await.ok()?;
        Some(())
    })
    .await;
    assert!(ready.is_some(), "the service did not reach both servers");

    // Set on one server, read on the other.
    assert_eq!(
        op(&a, json!({"op": "set", "key": "k1", "value": {"n": 1}})).await,
        Value::Null
    );
    assert_eq!(
        op(&b, json!({"op": "get", "key": "k1"})).await,
        json!({"n": 1})
    );
    assert_eq!(
        op(&b, json!({"op": "set", "key": "k1", "value": 2})).await,
        json!({"n": 1})
    );
    assert_eq!(op(&a, json!({"op": "get", "key": "k1"})).await, 2);
    assert_eq!(op(&a, json!({"op": "get", "key": "nope"})).await, "missing");
    assert_eq!(
        op(&b, json!({"op": "has", "key": "k1"})).await,
        json!([true, true])
    );
    assert_eq!(
        op(&b, json!({"op": "has", "key": "nope"})).await,
        json!([false, false])
    );
    assert_eq!(
        op(&a, json!({"op": "item", "key": "nope"})).await,
        "KeyError"
    );
    op(&a, json!({"op": "set", "key": "k2", "value": "two"})).await;
    assert_eq!(
        op(&b, json!({"op": "prefix", "key": "k"})).await,
        json!({"k1": 2, "k2": "two"})
    );
    assert_eq!(op(&b, json!({"op": "len"})).await, json!([2, ["k1", "k2"]]));
    // Another cache by name is apart.
    assert_eq!(
        op(&b, json!({"op": "get", "key": "k1", "cache": "other"})).await,
        "missing"
    );
    assert_eq!(op(&b, json!({"op": "delete", "key": "k2"})).await, "two");
    assert_eq!(
        op(&a, json!({"op": "delete", "key": "k2"})).await,
        "KeyError"
    );

    // An entry with an expiry: details say so; gone on both servers once it passed.
    op(
        &a,
        json!({"op": "set", "key": "short", "value": "v", "expiry": 1.5}),
    )
    .await;
    assert_eq!(
        op(&b, json!({"op": "details", "key": "short"})).await,
        json!({"value": "v", "expiry": 1.5, "has_end": true})
    );
    assert_eq!(
        op(&a, json!({"op": "expire", "key": "k1", "expiry": 1})).await,
        true
    );
    tokio::time::sleep(Duration::from_millis(1700)).await;
    for admin in [&a, &b] {
        assert_eq!(
            op(admin, json!({"op": "get", "key": "short"})).await,
            "missing"
        );
        assert_eq!(
            op(admin, json!({"op": "get", "key": "k1"})).await,
            "missing"
        );
    }
    assert_eq!(
        op(&a, json!({"op": "expire", "key": "k1", "expiry": 1})).await,
        false
    );

    op(&a, json!({"op": "set", "key": "x", "value": 1})).await;
    assert_eq!(op(&b, json!({"op": "clear"})).await, 3);
    assert_eq!(op(&a, json!({"op": "len"})).await, json!([0, []]));

    // Keys differing only in case are two entries on every backend (MariaDB included).
    op(&a, json!({"op": "set", "key": "Case", "value": 1})).await;
    op(&a, json!({"op": "set", "key": "case", "value": 2})).await;
    assert_eq!(op(&b, json!({"op": "get", "key": "Case"})).await, 1);
    assert_eq!(
        op(&b, json!({"op": "prefix", "key": "ca"})).await,
        json!({"case": 2})
    );

    // A key longer than the index allows: refused, saying so.
    let long = "k".repeat(601);
    let err = a
        .invoke("caches.op", &json!({"op": "set", "key": long, "value": 1}))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("a cache key is at most 600 characters, this one has 601"),
        "{err}"
    );

    // self.crypto: what one server encrypts the other decrypts (one cluster key), also with
    // the ODB's `zato.secf.` prefix; a token from another key is refused; hashes verify.
    let crypto = |admin: &AdminClient, p: Value| {
        let admin = admin.clone();
        async move {
            admin
                .invoke("caches.crypto", &p)
                .await
                .unwrap_or_else(|e| panic!("{p}: {e}"))
                .data["out"]
                .clone()
        }
    };
    let token = crypto(&a, json!({"op": "encrypt", "data": "sekrit"})).await;
    let token = token.as_str().unwrap().to_string();
    assert!(token.starts_with("gAAAAA"), "{token}");
    assert_eq!(
        crypto(&b, json!({"op": "decrypt", "data": token})).await,
        "sekrit"
    );
    let prefixed = format!("zato.secf.{token}");
    assert_eq!(
        crypto(&b, json!({"op": "decrypt", "data": prefixed})).await,
        "sekrit"
    );
    let other = zato_common::crypto::SecretKey::generate().encrypt("x");
    let refused = crypto(&a, json!({"op": "decrypt", "data": other})).await;
    assert!(
        refused
            .as_str()
            .is_some_and(|r| r
                .starts_with("ValueError: the data cannot be decrypted with the cluster's key")),
        "{refused}"
    );
    let hash = crypto(&a, json!({"op": "hash", "data": "pw"})).await;
    assert!(
        hash.as_str()
            .is_some_and(|h| h.starts_with("$pbkdf2-sha512$")),
        "{hash}"
    );
    assert_eq!(
        crypto(&b, json!({"op": "verify", "data": "pw", "hash": hash})).await,
        true
    );
    assert_eq!(
        crypto(&b, json!({"op": "verify", "data": "px", "hash": hash})).await,
        false
    );
    assert_eq!(crypto(&b, json!({"op": "generate"})).await, json!([44, 32]));

    // invoke_by_id, invoke_by_impl_name, new_instance and spawn.
    let target = a
        .invoke("zato.service.get-by-name", &json!({"name": "api.target"}))
        .await
        .unwrap()
        .data;
    let called = a
        .invoke(
            "api.caller",
            &json!({"target_id": target["id"], "impl_name": target["impl_name"], "x": 0}),
        )
        .await
        .unwrap()
        .data;
    assert_eq!(
        called,
        json!({"by_id": {"got": {"x": 1}, "channel": "invoke"},
            "by_impl": {"got": {"x": 2}, "channel": "invoke"}, "err": "ZeroDivisionError", "spawned": 5,
            "inst": ["api.target", "new-instance", true,
                {"target_id": target["id"], "impl_name": target["impl_name"], "x": 0}]})
    );
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn caches_on_sqlite() {
    caches_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn caches_on_postgresql() {
    caches_on(Backend::Postgresql).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn caches_on_mariadb() {
    caches_on(Backend::Mysql).await;
}

/// `zato.cache.builtin.*`: a new cluster has upstream's two definitions; a definition made
/// through the admin API bounds its cache for Python and the admin API alike (`max_item_size`,
/// `is_active`, reads extending an expiry or not), its entries are listed, set, read, renamed
/// and deleted by `cache_id`, and the ODB keeps a cache to `max_size`, oldest written first.
async fn definitions_on(backend: Backend) {
    let c = TestCluster::start(backend, Options::default())
        .await
        .unwrap();
    let a = c.servers[0].admin();
    zato_tests::deploy(&a, "caches.py", SERVICES).await.unwrap();
    let call = |name: &'static str, p: Value| {
        let a = a.clone();
        async move { a.invoke(name, &p).await.map(|r| r.data) }
    };
    let list = call("zato.cache.builtin.get-list", json!({}))
        .await
        .unwrap();
    let names: Vec<(&str, bool, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap(),
                d["is_default"].as_bool().unwrap(),
                d["extend_expiry_on_get"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [("default", true, true), ("zato.bearer.token", false, false)]
    );

    let made = call(
        "zato.cache.builtin.create",
        json!({"name": "tc", "max_item_size": 20, "max_size": 3}),
    )
    .await
    .unwrap();
    let id = made["id"].as_i64().unwrap();
    let bad = call(
        "zato.cache.builtin.create",
        json!({"name": "tc2", "sync_method": "sometimes"}),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(bad.contains("sync_method"), "{bad}");

    // Python sees the definition's limit once the change reached the server.
    let big = json!({"op": "set", "cache": "tc", "key": "big", "value": "x".repeat(30)});
    let refused = eventually(Duration::from_secs(10), || async {
        let e = a.invoke("caches.op", &big).await.err()?.to_string();
        e.contains("max_item_size").then_some(e)
    })
    .await;
    assert!(refused.is_some(), "a value over max_item_size was stored");
    assert_eq!(
        op(
            &a,
            json!({"op": "set", "cache": "tc", "key": "small", "value": "ok"})
        )
        .await,
        Value::Null
    );

    // Entries by cache_id.
    let entry = |p: Value| {
        let mut p = p;
        p["cache_id"] = json!(id);
        p
    };
    call(
        "zato.cache.builtin.entry.create",
        entry(json!({"key": "user.1", "value": "John Smith", "expiry": 0})),
    )
    .await
    .unwrap();
    let dup = call(
        "zato.cache.builtin.entry.create",
        entry(json!({"key": "user.1", "value": "x"})),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(dup.contains("already exists"), "{dup}");
    call(
        "zato.cache.builtin.entry.create",
        entry(json!({"key": "n", "value": "42", "value_data_type": "int"})),
    )
    .await
    .unwrap();
    assert_eq!(
        op(&a, json!({"op": "get", "cache": "tc", "key": "n"})).await,
        42
    );
    let got = call("zato.cache.builtin.entry.get", entry(json!({"key": "n"})))
        .await
        .unwrap();
    assert_eq!(
        (
            got["key_found"].clone(),
            got["value"].clone(),
            got["is_value_integer"].clone()
        ),
        (json!(true), json!("42"), json!(true))
    );
    let listed = call(
        "zato.cache.builtin.entry.get-list",
        entry(json!({"query": "v:Smith", "max_chars": 4})),
    )
    .await
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        (
            listed[0]["key"].clone(),
            listed[0]["value"].clone(),
            listed[0]["chars_omitted"].clone()
        ),
        (json!("user.1"), json!("John"), json!(6))
    );
    call(
        "zato.cache.builtin.entry.update",
        entry(json!({"key": "user.2", "old_key": "user.1", "value": "Jane", "replace_existing": true})),
    )
    .await
    .unwrap();
    assert_eq!(
        op(&a, json!({"op": "get", "cache": "tc", "key": "user.1"})).await,
        "missing"
    );
    assert_eq!(
        op(&a, json!({"op": "get", "cache": "tc", "key": "user.2"})).await,
        "Jane"
    );
    let size = call("zato.cache.builtin.get", json!({"cache_id": id}))
        .await
        .unwrap();
    assert_eq!(
        (size["name"].clone(), size["current_size"].clone()),
        (json!("tc"), json!(3))
    );
    assert_eq!(
        call(
            "zato.cache.builtin.entry.delete",
            entry(json!({"key": "n"}))
        )
        .await
        .unwrap()["key_found"],
        true
    );
    assert_eq!(
        call(
            "zato.cache.builtin.entry.delete",
            entry(json!({"key": "n"}))
        )
        .await
        .unwrap()["key_found"],
        false
    );
    let missing = call("zato.cache.builtin.get", json!({"cache_id": id + 1000}))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("no built-in cache definition"),
        "{missing}"
    );

    // A read extends an expiring entry's life in `default`, not in `zato.bearer.token`.
    for cache in ["default", "zato.bearer.token"] {
        op(
            &a,
            json!({"op": "set", "cache": cache, "key": "e", "value": 1, "expiry": 3}),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    for cache in ["default", "zato.bearer.token"] {
        assert_eq!(
            op(&a, json!({"op": "get", "cache": cache, "key": "e"})).await,
            1
        );
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        op(&a, json!({"op": "get", "cache": "default", "key": "e"})).await,
        1
    );
    assert_eq!(
        op(
            &a,
            json!({"op": "get", "cache": "zato.bearer.token", "key": "e"})
        )
        .await,
        "missing"
    );

    // An inactive cache refuses its callers.
    call(
        "zato.cache.builtin.edit",
        json!({"id": id, "is_active": false}),
    )
    .await
    .unwrap();
    let off = eventually(Duration::from_secs(10), || async {
        let p = json!({"op": "get", "cache": "tc", "key": "small"});
        let e = a.invoke("caches.op", &p).await.err()?.to_string();
        e.contains("not active").then_some(e)
    })
    .await;
    assert!(off.is_some(), "an inactive cache still answered");
    call(
        "zato.cache.builtin.edit",
        json!({"id": id, "is_active": true}),
    )
    .await
    .unwrap();

    // max_size: the ODB keeps the newest written.
    let odb = zato_common::odb::Odb::connect(&c.db.cfg).await.unwrap();
    let cluster_id = odb.cluster_by_name(&c.name).await.unwrap().unwrap().id;
    for (i, key) in ["k1", "k2", "k3", "k4", "k5"].iter().enumerate() {
        let at = format!("2026-01-01T00:00:0{i}.000000");
        let e = zato_common::odb::cache::CacheEntry {
            key: key.to_string(),
            value: "1".into(),
            expiry_ms: 0,
            expires_at: None,
            last_modified: at.clone(),
        };
        odb.cache_set(cluster_id, "trim-me", &e, &at).await.unwrap();
    }
    assert_eq!(odb.cache_trim(cluster_id, "trim-me", 3).await.unwrap(), 2);
    let left: Vec<String> = odb
        .cache_list(cluster_id, "trim-me", "", "2026-01-01T00:00:00")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(left, ["k3", "k4", "k5"]);
    assert_eq!(odb.cache_trim(cluster_id, "trim-me", 3).await.unwrap(), 0);

    let cleared = call("zato.cache.builtin.clear", json!({"cache_id": id}))
        .await
        .unwrap();
    assert_eq!(cleared["count"], 2);

    // `zato cache get|set|delete`, as upstream's CLI, on `default` unless told.
    use zato_tests::cli;
    let dir = c.servers[0].dir.to_string_lossy().to_string();
    let zato = |args: &[&str]| -> Value {
        let mut all = vec!["cache", args[0], "--path", dir.as_str()];
        all.extend(&args[1..]);
        serde_json::from_str(cli::ok(&all).trim()).unwrap()
    };
    assert_eq!(
        zato(&["set", "--int-value", "hits", "42"]),
        json!({"prev_value": null})
    );
    assert_eq!(zato(&["get", "hits"]), json!({"value": 42}));
    assert_eq!(op(&a, json!({"op": "get", "key": "hits"})).await, 42);
    assert_eq!(zato(&["set", "hits", " x y "]), json!({"prev_value": 42}));
    assert_eq!(zato(&["get", "hits"]), json!({"value": " x y "}));
    assert_eq!(zato(&["delete", "hits"]), json!({"prev_value": " x y "}));
    cli::fails(
        &["cache", "get", "--path", &dir, "hits"],
        27,
        "is not in cache `default`",
    );
    cli::fails(
        &["cache", "delete", "--path", &dir, "hits"],
        27,
        "is not in cache",
    );
    cli::fails(
        &["cache", "get", "--path", &dir, "--cache", "nope", "k"],
        15,
        "no built-in cache named `nope`",
    );
    cli::fails(
        &["cache", "set", "--path", &dir, "--int-value", "k", "x"],
        15,
        "is not an integer",
    );
    zato(&["set", "--cache", "tc", "--bool-value", "flag", "true"]);
    assert_eq!(
        op(&a, json!({"op": "get", "cache": "tc", "key": "flag"})).await,
        true
    );
    assert_eq!(
        zato(&["get", "--cache", "tc", "--bool-value", "flag"]),
        json!({"value": true})
    );
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn definitions_on_sqlite() {
    definitions_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn definitions_on_postgresql() {
    definitions_on(Backend::Postgresql).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn definitions_on_mariadb() {
    definitions_on(Backend::Mysql).await;
}
