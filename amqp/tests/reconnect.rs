//! Connections force-closed by the broker under load: nothing is lost.
//!
//! The connections are closed with `rabbitmqctl close_connection`, picking only this test's
//! connections by their name (so other users of the broker are left alone). That needs
//! rabbitmqctl on the PATH and the right to use it (root, or the rabbitmq user).

mod common;

use std::{
    collections::HashSet,
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::*;
use zato_amqp::{Consumer, ConsumerConfig, Delivery, Outcome, Publisher};

const MESSAGES: usize = 2_000;
const PUBLISH_TASKS: usize = 8;
/// Each task publishes at most once per this, about 800 messages/s in all.
const PUBLISH_PACE: Duration = Duration::from_millis(10);
/// Simulated work per message.
const HANDLER_WORK: Duration = Duration::from_millis(20);

/// Closes every broker connection whose name contains `marker`; returns how many.
fn close_connections(marker: &str) -> usize {
    let out = Command::new("rabbitmqctl")
        .args(["-q", "list_connections", "pid", "client_properties"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run rabbitmqctl ({e}); this test needs it on the PATH"));
    assert!(
        out.status.success(),
        "rabbitmqctl list_connections failed (run the tests as root or as the rabbitmq user): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    let pids: Vec<&str> = listing
        .lines()
        .filter(|line| line.contains(marker))
        .filter_map(|line| line.split('\t').next())
        .collect();
    for pid in &pids {
        let closed = Command::new("rabbitmqctl")
            .args(["-q", "close_connection", pid, "zato-amqp reconnect test"])
            .output()
            .expect("run rabbitmqctl close_connection");
        assert!(
            closed.status.success(),
            "rabbitmqctl close_connection failed: {}",
            String::from_utf8_lossy(&closed.stderr)
        );
    }
    pids.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_closed_under_load_lose_nothing() {
    init_tracing();
    let marker = unique("reconnect");
    let def = def(&marker);
    // Its own name, so that closing this test's connections leaves it alone.
    let admin = admin(&common::def(&unique("reconnect-admin"))).await;
    let queue = unique("reconnect");
    declare(&admin, &queue).await;

    let ids = Arc::new(Mutex::new(HashSet::<String>::new()));
    let handled = Arc::new(AtomicUsize::new(0));
    let (ids2, handled2) = (ids.clone(), handled.clone());
    // Handlers take a while, so that some are running (their messages unacked) when the
    // connection goes.
    let handler = move |d: Delivery| {
        handled2.fetch_add(1, Ordering::Relaxed);
        if let Some(id) = d.properties.message_id {
            ids2.lock().expect("not poisoned").insert(id);
        }
        async {
            tokio::time::sleep(HANDLER_WORK).await;
            Outcome::Ack
        }
    };
    let cfg = ConsumerConfig {
        pool_size: 2,
        prefetch_count: 50,
        ..ConsumerConfig::new(&queue)
    };
    let consumer = Consumer::start(def.clone(), cfg, Arc::new(handler));
    assert!(consumer.wait_consuming(Duration::from_secs(10)).await);

    // Publishers retry a failed publish: it may or may not have reached the queue, and a
    // duplicate is fine since the check counts distinct ids.
    let publisher = Publisher::new(def.clone(), 4);
    let published = Arc::new(AtomicUsize::new(0));
    let retries = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..PUBLISH_TASKS {
        let (publisher, published, retries) =
            (publisher.clone(), published.clone(), retries.clone());
        let queue = queue.clone();
        tasks.push(tokio::spawn(async move {
            // Paced, so that publishing is still going on when the connections are closed.
            let mut pace = tokio::time::interval(PUBLISH_PACE);
            for i in (t..MESSAGES).step_by(PUBLISH_TASKS) {
                pace.tick().await;
                let mut attempts = 0;
                loop {
                    let mut msg = message(&queue, format!("body {i}"));
                    msg.properties.message_id = Some(i.to_string());
                    match publisher.publish(msg, true).await {
                        Ok(()) => break,
                        Err(e) => {
                            attempts += 1;
                            retries.fetch_add(1, Ordering::Relaxed);
                            assert!(attempts < 100, "publish keeps failing: {e}");
                        }
                    }
                }
                published.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // Twice mid-way, close every connection of this test (consumer's and publisher's); the
    // second time once the consumer is back, so that it loses a connection twice.
    let mut closed = 0;
    for (round, threshold) in [MESSAGES / 4, MESSAGES / 2].into_iter().enumerate() {
        wait_until(
            Duration::from_secs(60),
            "publishing to progress",
            || async { published.load(Ordering::Relaxed) >= threshold },
        )
        .await;
        wait_until(
            Duration::from_secs(30),
            "the consumer to be back",
            || async { consumer.is_connected() && consumer.status().sessions > round as u64 },
        )
        .await;
        let marker = marker.clone();
        closed += tokio::task::spawn_blocking(move || close_connections(&marker))
            .await
            .expect("rabbitmqctl task");
    }
    assert!(
        closed >= 3,
        "closed {closed} connection(s); expected the consumer's twice and the publisher's"
    );

    for task in tasks {
        task.await.expect("publishing task");
    }
    wait_until(Duration::from_secs(60), "every message handled", || async {
        ids.lock().expect("not poisoned").len() == MESSAGES
    })
    .await;
    wait_until(
        Duration::from_secs(30),
        "the consumer to be back again",
        || async { consumer.is_connected() && consumer.status().sessions >= 3 },
    )
    .await;
    consumer.stop().await;

    let status = consumer.status();
    assert!(
        status.sessions >= 3,
        "the consumer reconnected twice: {status:?}"
    );
    assert_eq!(
        admin.message_count(&queue).await.expect("stats"),
        0,
        "queue ends empty"
    );
    eprintln!(
        "{MESSAGES} distinct messages handled ({} handler runs, {} publish retries, {closed} connections closed, {} consumer sessions)",
        handled.load(Ordering::Relaxed),
        retries.load(Ordering::Relaxed),
        status.sessions
    );

    publisher.close().await;
    delete(&admin, &[&queue, &format!("{queue}.dead-letter")]).await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_reconnects_after_a_forced_close() {
    init_tracing();
    let marker = unique("pub-reconnect");
    let def = def(&marker);
    let admin = admin(&common::def(&unique("pub-reconnect-admin"))).await;
    let queue = unique("pub-reconnect");
    declare(&admin, &queue).await;

    let publisher = Publisher::new(def, 2);
    fill(&publisher, &queue, 1).await;
    assert!(publisher.is_connected());
    let closed = tokio::task::spawn_blocking(move || close_connections(&marker))
        .await
        .expect("rabbitmqctl task");
    assert_eq!(closed, 1);
    wait_until(
        Duration::from_secs(10),
        "the publisher to notice",
        || async { !publisher.is_connected() },
    )
    .await;

    // The next publish reconnects by itself.
    publisher
        .publish(message(&queue, "after"), true)
        .await
        .expect("publish after the forced close");
    assert!(publisher.is_connected());
    assert_eq!(admin.message_count(&queue).await.expect("stats"), 2);

    publisher.close().await;
    delete(&admin, &[&queue]).await;
    admin.close().await;
}
