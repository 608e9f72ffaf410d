//! Stopping a consumer: prompt, lets running handlers settle, consumes nothing afterwards.

mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use common::*;
use tokio::sync::{Notify, mpsc};
use zato_amqp::{Consumer, ConsumerConfig, ConsumerState, Delivery, Outcome, Publisher};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_is_prompt_and_final() {
    init_tracing();
    let def = def(&unique("stop"));
    let admin = admin(&def).await;
    let queue = unique("stop");
    declare(&admin, &queue).await;
    let publisher = Publisher::new(def.clone(), 1);

    // The handler signals that it started, then finishes only once stop() is under way.
    let (started_tx, mut started_rx) = mpsc::unbounded_channel::<()>();
    let release = Arc::new(Notify::new());
    let release2 = release.clone();
    let handler = move |_d: Delivery| {
        let started = started_tx.clone();
        let release = release2.clone();
        async move {
            let _ = started.send(());
            release.notified().await;
            Outcome::Ack
        }
    };
    let cfg = ConsumerConfig {
        pool_size: 2,
        ..ConsumerConfig::new(&queue)
    };
    let consumer = Arc::new(Consumer::start(def.clone(), cfg, Arc::new(handler)));
    assert!(consumer.wait_consuming(Duration::from_secs(10)).await);
    assert_eq!(admin.queue_stats(&queue).await.expect("stats").consumers, 2);

    fill(&publisher, &queue, 1).await;
    tokio::time::timeout(Duration::from_secs(10), started_rx.recv())
        .await
        .expect("the handler started");

    let began = Instant::now();
    let stopping = tokio::spawn({
        let consumer = consumer.clone();
        async move { consumer.stop().await }
    });
    wait_until(
        Duration::from_secs(5),
        "the consumer to start stopping",
        || async { consumer.status().state == ConsumerState::Stopping },
    )
    .await;
    release.notify_one();
    stopping.await.expect("stop task");
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "stop took {:?}",
        began.elapsed()
    );
    assert_eq!(consumer.status().state, ConsumerState::Stopped);
    assert!(!consumer.is_connected());

    // The running handler's message was acked before the connection closed.
    let stats = admin.queue_stats(&queue).await.expect("stats");
    assert_eq!(stats.messages, 0);
    assert_eq!(stats.consumers, 0, "no longer consuming");

    // Nothing consumes what comes next.
    fill(&publisher, &queue, 1).await;
    assert_eq!(admin.message_count(&queue).await.expect("stats"), 1);
    assert!(started_rx.try_recv().is_err());

    // A second stop is a no-op.
    consumer.stop().await;

    publisher.close().await;
    delete(&admin, &[&queue, &format!("{queue}.dead-letter")]).await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_while_reconnecting_is_prompt() {
    init_tracing();
    let def = zato_amqp::Definition {
        port: 1,
        ..def("stop-refused")
    };
    let consumer = Consumer::start(
        def,
        ConsumerConfig::new("nowhere"),
        Arc::new(|_d: Delivery| async { Outcome::Ack }),
    );
    wait_until(
        Duration::from_secs(5),
        "a failed connection attempt",
        || async { consumer.status().state == ConsumerState::Reconnecting },
    )
    .await;
    let began = Instant::now();
    consumer.stop().await;
    assert!(began.elapsed() < Duration::from_secs(1));
    assert_eq!(consumer.status().state, ConsumerState::Stopped);
}
