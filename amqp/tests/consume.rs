//! Publishing and consuming against a real RabbitMQ: round trip, reject mode, failed handlers
//! and the dead-letter queue, a missing queue at start.

mod common;

use std::{sync::Arc, time::Duration};

use common::*;
use serde_json::json;
use tokio::sync::mpsc;
use zato_amqp::{
    AckMode, Consumer, ConsumerConfig, ConsumerState, DELIVERY_COUNT_HEADER, Delivery,
    ERROR_HEADER, Outcome, Properties, Publisher, QUEUE_HEADER,
};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_with_confirm_then_consume_and_ack() {
    init_tracing();
    let def = def(&unique("roundtrip"));
    let admin = admin(&def).await;
    let queue = unique("roundtrip");
    declare(&admin, &queue).await;

    let publisher = Publisher::new(def.clone(), 2);
    let properties = Properties {
        content_type: Some("application/json".into()),
        content_encoding: Some("utf-8".into()),
        delivery_mode: Some(2),
        priority: Some(3),
        correlation_id: Some("corr-1".into()),
        reply_to: Some("replies".into()),
        expiration: Some("600000".into()),
        message_id: Some("msg-1".into()),
        timestamp: Some(1_700_000_000),
        kind: Some("order.created".into()),
        user_id: Some("guest".into()),
        app_id: Some("zato-test".into()),
    };
    let Ok(serde_json::Value::Object(headers)) = serde_json::from_str::<serde_json::Value>(
        r#"{"s": "text", "i": -42, "f": 2.5, "b": true, "n": null,
            "list": [1, "two", {"three": 3}], "nested": {"a": {"b": "c"}}}"#,
    ) else {
        panic!("headers are an object")
    };
    let mut msg = message(&queue, &br#"{"hello": "world"}"#[..]);
    msg.properties = properties.clone();
    msg.headers = headers.clone();
    publisher
        .publish(msg, true)
        .await
        .expect("confirmed publish");
    assert_eq!(admin.message_count(&queue).await.expect("stats"), 1);

    let (tx, mut rx) = mpsc::unbounded_channel::<Delivery>();
    let handler = move |d: Delivery| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(d);
            Outcome::Ack
        }
    };
    let consumer = Consumer::start(def.clone(), ConsumerConfig::new(&queue), Arc::new(handler));
    let got = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a delivery in time")
        .expect("a delivery");

    assert_eq!(&got.body[..], br#"{"hello": "world"}"#);
    assert_eq!(got.properties, properties);
    assert_eq!(got.headers, headers);
    assert_eq!(got.routing_key, queue);
    assert_eq!(got.exchange, "");
    assert_eq!(got.delivery_count, 1);
    assert!(!got.redelivered);
    assert_eq!(got.consumer_tag, "zato.0");

    consumer.stop().await;
    // Acked, so nothing came back when the connection closed.
    assert_eq!(admin.message_count(&queue).await.expect("stats"), 0);
    assert!(rx.try_recv().is_err(), "delivered once");

    publisher.close().await;
    delete(&admin, &[&queue, &format!("{queue}.dead-letter")]).await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_mode_drops_the_message() {
    init_tracing();
    let def = def(&unique("reject"));
    let admin = admin(&def).await;
    let queue = unique("reject");
    declare(&admin, &queue).await;
    let publisher = Publisher::new(def.clone(), 1);
    fill(&publisher, &queue, 1).await;

    let calls = seen::<u32>();
    let calls2 = calls.clone();
    let handler = move |d: Delivery| {
        calls2.lock().expect("not poisoned").push(d.delivery_count);
        async { Outcome::Default }
    };
    let cfg = ConsumerConfig {
        ack_mode: AckMode::Reject,
        ..ConsumerConfig::new(&queue)
    };
    let consumer = Consumer::start(def.clone(), cfg, Arc::new(handler));
    wait_until(WAIT, "the handler to run", || async { len(&calls) == 1 }).await;
    consumer.stop().await;

    // Rejected without requeue and the queue has no dead-letter exchange: gone, and it did
    // not go to our own dead-letter queue either.
    assert_eq!(admin.message_count(&queue).await.expect("stats"), 0);
    let dlq = format!("{queue}.dead-letter");
    assert_eq!(admin.message_count(&dlq).await.expect("stats"), 0);
    assert_eq!(len(&calls), 1, "not redelivered");

    publisher.close().await;
    delete(&admin, &[&queue, &dlq]).await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_handler_retries_then_dead_letters() {
    init_tracing();
    let def = def(&unique("failed"));
    let admin = admin(&def).await;
    let queue = unique("failed");
    let dlq = format!("{queue}.dead-letter");
    declare(&admin, &queue).await;
    let publisher = Publisher::new(def.clone(), 1);
    let mut msg = message(&queue, "payload");
    msg.properties.message_id = Some("m-1".into());
    msg.headers.insert("custom".into(), json!({"kept": [1, 2]}));
    publisher.publish(msg, true).await.expect("publish");

    let counts = seen::<u32>();
    let counts2 = counts.clone();
    let handler = move |d: Delivery| {
        counts2.lock().expect("not poisoned").push(d.delivery_count);
        async { Outcome::Failed("boom".into()) }
    };
    let cfg = ConsumerConfig {
        pool_size: 2,
        ..ConsumerConfig::new(&queue)
    };
    assert_eq!(cfg.max_deliveries, 5);
    let consumer = Consumer::start(def.clone(), cfg, Arc::new(handler));
    wait_until(WAIT, "the message in the dead-letter queue", || async {
        admin.message_count(&dlq).await.unwrap_or(0) == 1
    })
    .await;
    consumer.stop().await;

    assert_eq!(*counts.lock().expect("not poisoned"), vec![1, 2, 3, 4, 5]);
    assert_eq!(admin.message_count(&queue).await.expect("stats"), 0);
    let dead = admin.get(&dlq).await.expect("get").expect("one message");
    assert_eq!(&dead.body[..], b"payload");
    assert_eq!(dead.properties.message_id.as_deref(), Some("m-1"));
    assert_eq!(dead.headers[ERROR_HEADER], "boom");
    assert_eq!(dead.headers[QUEUE_HEADER], json!(queue));
    assert_eq!(dead.headers[DELIVERY_COUNT_HEADER], 5);
    assert_eq!(dead.headers["custom"], json!({"kept": [1, 2]}));
    assert!(
        admin.get(&dlq).await.expect("get").is_none(),
        "exactly one copy"
    );

    publisher.close().await;
    delete(&admin, &[&queue, &dlq]).await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_handler_counts_as_failed() {
    init_tracing();
    let def = def(&unique("panic"));
    let admin = admin(&def).await;
    let queue = unique("panic");
    let dlq = unique("panic-dlq");
    declare(&admin, &queue).await;
    let publisher = Publisher::new(def.clone(), 1);
    fill(&publisher, &queue, 1).await;

    let handler = |_d: Delivery| async { panic!("handler bug") };
    let cfg = ConsumerConfig {
        max_deliveries: 2,
        dead_letter_queue: Some(dlq.clone()),
        ..ConsumerConfig::new(&queue)
    };
    let consumer = Consumer::start(def.clone(), cfg, Arc::new(handler));
    wait_until(WAIT, "the message in the dead-letter queue", || async {
        admin.message_count(&dlq).await.unwrap_or(0) == 1
    })
    .await;
    consumer.stop().await;
    assert_eq!(admin.message_count(&queue).await.expect("stats"), 0);
    let dead = admin.get(&dlq).await.expect("get").expect("one message");
    assert_eq!(dead.headers[ERROR_HEADER], "the handler panicked");
    assert_eq!(dead.delivery_count, 2);

    publisher.close().await;
    delete(&admin, &[&queue, &dlq]).await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_run_concurrently_up_to_prefetch() {
    init_tracing();
    let def = def(&unique("concurrent"));
    let admin = admin(&def).await;
    let queue = unique("concurrent");
    declare(&admin, &queue).await;
    let publisher = Publisher::new(def.clone(), 1);
    fill(&publisher, &queue, 20).await;

    // Each handler waits until four are running at once: with one-at-a-time handling the
    // first would never return.
    let running = Arc::new(tokio::sync::Barrier::new(4));
    let done = seen::<()>();
    let done2 = done.clone();
    let handler = move |_d: Delivery| {
        let running = running.clone();
        let done = done2.clone();
        async move {
            running.wait().await;
            done.lock().expect("not poisoned").push(());
            Outcome::Ack
        }
    };
    let cfg = ConsumerConfig {
        prefetch_count: 4,
        ..ConsumerConfig::new(&queue)
    };
    let consumer = Consumer::start(def.clone(), cfg, Arc::new(handler));
    wait_until(WAIT, "20 messages handled", || async { len(&done) == 20 }).await;
    consumer.stop().await;
    assert_eq!(admin.message_count(&queue).await.expect("stats"), 0);

    publisher.close().await;
    delete(&admin, &[&queue, &format!("{queue}.dead-letter")]).await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_queue_is_retried_until_it_exists() {
    init_tracing();
    let def = def(&unique("missing"));
    let admin = admin(&def).await;
    let queue = unique("missing");
    let (tx, mut rx) = mpsc::unbounded_channel::<Delivery>();
    let handler = move |d: Delivery| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(d);
            Outcome::Ack
        }
    };
    let consumer = Consumer::start(def.clone(), ConsumerConfig::new(&queue), Arc::new(handler));
    wait_until(WAIT, "the missing queue to be reported", || async {
        let status = consumer.status();
        status.state == ConsumerState::Reconnecting
            && status
                .last_error
                .is_some_and(|e| e.contains("does not exist"))
    })
    .await;
    assert!(!consumer.is_connected());

    declare(&admin, &queue).await;
    assert!(
        consumer.wait_consuming(WAIT).await,
        "consuming once the queue exists"
    );
    let publisher = Publisher::new(def.clone(), 1);
    fill(&publisher, &queue, 1).await;
    let got = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("in time");
    assert!(got.is_some());
    consumer.stop().await;

    publisher.close().await;
    delete(&admin, &[&queue, &format!("{queue}.dead-letter")]).await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_republish_requeues_the_original() {
    init_tracing();
    let def = def(&unique("requeue"));
    let admin = admin(&def).await;
    let queue = unique("requeue");
    let dlq = format!("{queue}.dead-letter");
    declare(&admin, &queue).await;

    let runs = seen::<bool>();
    let runs2 = runs.clone();
    let handler = move |d: Delivery| {
        runs2.lock().expect("not poisoned").push(d.redelivered);
        async { Outcome::Failed("always".into()) }
    };
    let cfg = ConsumerConfig {
        max_deliveries: 1,
        ..ConsumerConfig::new(&queue)
    };
    let consumer = Consumer::start(def.clone(), cfg, Arc::new(handler));
    assert!(consumer.wait_consuming(WAIT).await);
    // The consumer declared the dead-letter queue at start; without it the copy is returned
    // unroutable, so the original must stay in the broker's hands.
    admin
        .delete_queue(&dlq)
        .await
        .expect("delete the dead-letter queue");
    let publisher = Publisher::new(def.clone(), 1);
    fill(&publisher, &queue, 1).await;
    wait_until(WAIT, "a first handler run", || async { len(&runs) >= 1 }).await;

    admin
        .declare_queue(&dlq, true, &zato_amqp::Headers::new())
        .await
        .expect("declare the dead-letter queue again");
    wait_until(WAIT, "the message in the dead-letter queue", || async {
        admin.message_count(&dlq).await.unwrap_or(0) == 1
    })
    .await;
    consumer.stop().await;

    let runs = runs.lock().expect("not poisoned").clone();
    assert!(runs.len() >= 2, "runs: {runs:?}");
    assert!(
        runs[1],
        "the requeued original came back as a redelivery: {runs:?}"
    );
    assert_eq!(admin.message_count(&queue).await.expect("stats"), 0);

    publisher.close().await;
    delete(&admin, &[&queue, &dlq]).await;
    admin.close().await;
}
