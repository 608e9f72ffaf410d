//! Helpers shared by the integration tests, which run against a real RabbitMQ at
//! 127.0.0.1:5672 (guest/guest, vhost `/`).

#![allow(dead_code)] // each test binary uses a different subset

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::json;
use zato_amqp::{Admin, Definition, Headers, Message, Publisher};

/// Each test's queues expire on the broker after this long unused, in case a failing test
/// never reaches its clean-up.
const QUEUE_EXPIRES_MS: u64 = 300_000;

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The test broker's definition; `name` ends up in the connection names RabbitMQ shows.
pub fn def(name: &str) -> Definition {
    Definition {
        name: name.to_owned(),
        connect_timeout: Duration::from_secs(3),
        ..Definition::default()
    }
}

/// A name no other test (or run) uses.
pub fn unique(what: &str) -> String {
    format!("zato-amqp-test.{what}.{}", uuid::Uuid::new_v4().simple())
}

/// Connects the admin helper, or fails saying how to start RabbitMQ.
pub async fn admin(def: &Definition) -> Admin {
    match Admin::connect(def).await {
        Ok(admin) => admin,
        Err(e) => panic!(
            "these tests need RabbitMQ at 127.0.0.1:5672 with guest/guest ({e}); start it with \
             `sudo systemctl start rabbitmq-server` or `rabbitmq-server -detached`"
        ),
    }
}

/// Declares a fresh non-durable queue that the broker drops by itself if the test dies.
pub async fn declare(admin: &Admin, queue: &str) {
    let mut args = Headers::new();
    args.insert("x-expires".into(), json!(QUEUE_EXPIRES_MS));
    admin
        .declare_queue(queue, false, &args)
        .await
        .expect("declare the test queue");
}

pub async fn delete(admin: &Admin, queues: &[&str]) {
    for queue in queues {
        admin
            .delete_queue(queue)
            .await
            .expect("delete a test queue");
    }
}

pub fn message(queue: &str, body: impl Into<bytes::Bytes>) -> Message {
    Message {
        exchange: "/".into(),
        routing_key: queue.to_owned(),
        body: body.into(),
        ..Message::default()
    }
}

/// Publishes `n` confirmed messages with bodies and message ids `0..n`.
pub async fn fill(publisher: &Publisher, queue: &str, n: usize) {
    for i in 0..n {
        let mut msg = message(queue, i.to_string());
        msg.properties.message_id = Some(i.to_string());
        publisher.publish(msg, true).await.expect("publish");
    }
}

/// Polls `check` until it is true, failing the test with `what` after `within`.
pub async fn wait_until<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ready messages in `queue`, waiting until it has settled at `expected` (messages being
/// acked or requeued take a moment to show).
pub async fn wait_count(admin: &Admin, queue: &str, expected: u32, within: Duration) {
    wait_until(
        within,
        &format!("{expected} message(s) in {queue}"),
        || async { admin.message_count(queue).await.expect("queue stats") == expected },
    )
    .await;
}

/// A shared list that handlers append to.
pub type Seen<T> = Arc<Mutex<Vec<T>>>;

pub fn seen<T>() -> Seen<T> {
    Arc::new(Mutex::new(Vec::new()))
}

pub fn len<T>(seen: &Seen<T>) -> usize {
    seen.lock().expect("not poisoned").len()
}
