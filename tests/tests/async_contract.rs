//! The contract both transports of asynchronous requests keep (the ODB's `async_request`
//! table and the Redis stream of `kvdb_queue`), checked by one scenario run against each:
//! what is put is stored whole, several at once all in order; each request is held by one process at a time; a holder that
//! renews keeps its requests; one that stops renewing loses them to another after a lease;
//! what is done is gone for good.
use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use zato_common::kvdb_queue::RedisQueue;
use zato_common::odb::Odb;
use zato_common::odb::async_requests::AsyncRequest;
use zato_tests::{Backend, TestDb};

/// Shorter than the server's three seconds, so the test is quick.
const LEASE: Duration = Duration::from_millis(1000);

trait Transport {
    async fn put_all(&self, rs: &[AsyncRequest]) -> Vec<i64>;
    async fn take(&self, holder: &str, max: usize) -> Vec<AsyncRequest>;
    async fn renew(&self, holder: &str);
    async fn done(&self, ids: &[i64]);
    async fn len(&self) -> i64;
}

struct OdbQueue {
    odb: Odb,
    cluster_id: i64,
}

fn iso_in(d: Duration) -> String {
    zato_common::time::to_iso(Utc::now() + chrono::TimeDelta::from_std(d).unwrap_or_default())
}

impl Transport for OdbQueue {
    async fn put_all(&self, rs: &[AsyncRequest]) -> Vec<i64> {
        self.odb
            .async_put_all(self.cluster_id, rs, None)
            .await
            .unwrap()
    }
    async fn take(&self, holder: &str, max: usize) -> Vec<AsyncRequest> {
        let now = iso_in(Duration::ZERO);
        self.odb
            .async_claim(self.cluster_id, holder, &iso_in(LEASE), &now, max)
            .await
            .unwrap()
    }
    async fn renew(&self, holder: &str) {
        self.odb.async_renew(holder, &iso_in(LEASE)).await.unwrap();
    }
    async fn done(&self, ids: &[i64]) {
        self.odb.async_done(ids).await.unwrap();
    }
    async fn len(&self) -> i64 {
        self.odb.async_count(self.cluster_id).await.unwrap()
    }
}

impl Transport for RedisQueue {
    async fn put_all(&self, rs: &[AsyncRequest]) -> Vec<i64> {
        RedisQueue::put_all(self, rs).await.unwrap()
    }
    /// As the server's loop takes: lapsed requests first, then new ones.
    async fn take(&self, holder: &str, max: usize) -> Vec<AsyncRequest> {
        let mut out = self.reclaim(holder, max).await.unwrap();
        let room = max - out.len();
        out.extend(
            RedisQueue::take(self, holder, room, Duration::ZERO)
                .await
                .unwrap(),
        );
        out
    }
    async fn renew(&self, holder: &str) {
        RedisQueue::renew(self, holder).await.unwrap();
    }
    async fn done(&self, ids: &[i64]) {
        RedisQueue::done(self, ids).await.unwrap();
    }
    async fn len(&self) -> i64 {
        RedisQueue::len(self).await.unwrap()
    }
}

fn request(n: i64) -> AsyncRequest {
    AsyncRequest {
        id: 0,
        cid: format!("cid-{n}"),
        service: "contract.target".into(),
        payload: format!("{{\"n\": {n}}}"),
        channel: "invoke-async".into(),
        callback: Some("[\"contract.cb\"]".into()),
        in_reply_to: Some("cid-origin".into()),
        expires_at: Some("2999-01-01T00:00:00.000000".into()),
        not_before: None,
        origin: Some("{\"pattern\": {\"cid\": \"p1\"}}".into()),
    }
}

fn cids(rs: &[AsyncRequest]) -> HashSet<String> {
    rs.iter().map(|r| r.cid.clone()).collect()
}

async fn contract(q: &impl Transport) {
    let mut ids = Vec::new();
    for n in 0..2 {
        ids.extend(q.put_all(&[request(n)]).await);
    }
    ids.extend(q.put_all(&(2..5).map(request).collect::<Vec<_>>()).await);
    assert_eq!(q.len().await, 5);
    assert_eq!(ids.len(), 5);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids in order: {ids:?}");

    // Each request is held by one process at a time, stored whole.
    let a = q.take("holder-a", 3).await;
    assert_eq!(a.len(), 3);
    let stored = a.iter().find(|r| r.cid == "cid-0").cloned();
    let mut expected = request(0);
    if let Some(s) = &stored {
        expected.id = s.id;
    }
    assert_eq!(stored, Some(expected), "the first request, stored whole");
    let b = q.take("holder-b", 10).await;
    assert_eq!(b.len(), 2);
    assert!(cids(&a).is_disjoint(&cids(&b)));
    let taken: HashSet<i64> = a.iter().chain(&b).map(|r| r.id).collect();
    assert_eq!(
        taken,
        ids.iter().copied().collect(),
        "taken under the ids put gave"
    );
    assert!(q.take("holder-b", 10).await.is_empty(), "all are held");

    // A renews, B does not: after a lease B's are A's, A's stay A's.
    tokio::time::sleep(LEASE * 6 / 10).await;
    q.renew("holder-a").await;
    tokio::time::sleep(LEASE * 6 / 10).await;
    let lapsed = q.take("holder-a", 10).await;
    assert_eq!(
        cids(&lapsed),
        cids(&b),
        "B's lapsed requests, and only those"
    );
    assert!(q.take("holder-c", 10).await.is_empty(), "A renewed its own");

    // What is done is gone.
    let ids: Vec<i64> = a.iter().chain(&lapsed).map(|r| r.id).collect();
    q.done(&ids).await;
    assert_eq!(q.len().await, 0);
    tokio::time::sleep(LEASE + Duration::from_millis(200)).await;
    assert!(
        q.take("holder-c", 10).await.is_empty(),
        "done requests never come back"
    );
}

async fn on_odb(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create(backend, dir.path()).await.unwrap();
    let odb = Odb::connect(&db.cfg).await.unwrap();
    zato_common::setup::create_odb(&odb).await.unwrap();
    contract(&OdbQueue {
        odb: odb.clone(),
        cluster_id: 1,
    })
    .await;
    odb.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_odb_on_sqlite_keeps_the_contract() {
    on_odb(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_odb_on_postgresql_keeps_the_contract() {
    on_odb(Backend::Postgresql).await;
}

/// A queue of its own (a unique cluster name) in the local Redis, its stream and group made.
async fn redis_queue(prefix: &str) -> RedisQueue {
    let cfg = zato_common::config::KvdbConfig {
        host: "127.0.0.1".into(),
        port: 6379,
        ..Default::default()
    };
    let name = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
    let q = RedisQueue::new(&cfg, &name, LEASE).unwrap();
    q.prepare()
        .await
        .unwrap_or_else(|e| panic!("{e}; is Redis running on 127.0.0.1:6379?"));
    q
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_keeps_the_contract() {
    let q = redis_queue("contract").await;
    contract(&q).await;
    q.destroy().await.unwrap();
}

/// Ended processes do not pile up in the Redis consumer group: one that holds nothing goes,
/// one that still holds a request stays (deleting it would lose the request), and so does
/// the caller.
#[tokio::test(flavor = "multi_thread")]
async fn redis_forgets_ended_consumers_that_hold_nothing() {
    let q = redis_queue("consumers").await;
    Transport::put_all(&q, &[request(0), request(1)]).await;
    let done = RedisQueue::take(&q, "ended-empty", 1, Duration::ZERO)
        .await
        .unwrap();
    Transport::done(&q, &[done[0].id]).await;
    let held = RedisQueue::take(&q, "ended-holding", 1, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    RedisQueue::take(&q, "me", 1, Duration::ZERO).await.unwrap();
    // Not idle long enough yet: nobody goes.
    assert_eq!(
        q.forget_idle("me", Duration::from_secs(60)).await.unwrap(),
        0
    );
    assert_eq!(q.forget_idle("me", Duration::ZERO).await.unwrap(), 1);
    assert_eq!(
        q.forget_idle("me", Duration::ZERO).await.unwrap(),
        0,
        "the holder stays"
    );
    q.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_odb_on_mariadb_keeps_the_contract() {
    on_odb(Backend::Mysql).await;
}
