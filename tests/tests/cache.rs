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
