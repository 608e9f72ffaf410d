//! Raw AMQP throughput with this crate alone (no Zato server), the baseline that the server's
//! AMQP numbers are compared to. Needs RabbitMQ at 127.0.0.1:5672 (guest/guest).
//!
//! ```text
//! cargo run --release -p zato-amqp --example raw -- publish N [channels] [in_flight]
//! cargo run --release -p zato-amqp --example raw -- consume N [channels] [prefetch]
//! ```
//!
//! `publish` sends N messages of 100 bytes to a fresh queue, each confirmed by the broker, with
//! `in_flight` (default 256) publishes outstanding at once over `channels` (default 4).
//! `consume` fills a fresh queue with N messages, then consumes and acks them over `channels`
//! (default 1) with `prefetch` (default 100). Both delete their queues.
//!
//! For measuring a server against the same numbers (bench/amqp.sh):
//!
//! ```text
//! raw fill QUEUE N          declare QUEUE (expiring after 10 minutes unused) and put N messages in it
//! raw wait-count QUEUE N    wait until QUEUE holds exactly N ready messages; print the time taken
//! raw delete QUEUE          delete QUEUE and QUEUE.dead-letter
//! ```

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;
use tokio::sync::Notify;
use zato_amqp::{
    Admin, AmqpError, Consumer, ConsumerConfig, Definition, Delivery, Headers, Message, Outcome,
    Publisher,
};

const BODY_SIZE: usize = 100;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: usize| -> Result<usize, String> {
        args.get(i).map_or(Ok(default), |a| {
            a.parse().map_err(|e| format!("argument `{a}`: {e}"))
        })
    };
    let usage = "usage: raw publish N [channels] [in_flight] | raw consume N [channels] [prefetch] | raw fill QUEUE N | raw wait-count QUEUE N | raw delete QUEUE";
    let mode = args.first().ok_or(usage)?.clone();
    if let ("fill" | "wait-count" | "delete", Some(queue)) = (mode.as_str(), args.get(1)) {
        let def = Definition {
            name: "raw-bench".into(),
            ..Definition::default()
        };
        let admin = Admin::connect(&def).await?;
        let n = args.get(2).map_or(Ok(0), |a| a.parse::<usize>())?;
        match mode.as_str() {
            "fill" => {
                let mut table = Headers::new();
                table.insert("x-expires".into(), json!(600_000));
                admin.declare_queue(queue, false, &table).await?;
                let publisher = Publisher::new(def.clone(), 4);
                let took = publish_n(&publisher, queue, n, 256).await?;
                publisher.close().await;
                report("filled", n, took);
            }
            "wait-count" => {
                let started = Instant::now();
                while admin.message_count(queue).await? as usize != n {
                    if started.elapsed() > Duration::from_secs(300) {
                        return Err(format!("{queue} did not reach {n} messages in 300 s").into());
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                println!("{:.3}", started.elapsed().as_secs_f64());
            }
            _ => {
                admin.delete_queue(queue).await?;
                admin.delete_queue(&format!("{queue}.dead-letter")).await?;
            }
        }
        admin.close().await;
        return Ok(());
    }
    let n = arg(1, 0)?;
    if n == 0 {
        return Err(usage.into());
    }

    let def = Definition {
        name: "raw-bench".into(),
        ..Definition::default()
    };
    let admin = Admin::connect(&def).await?;
    let queue = format!("zato-amqp-raw.{}", std::process::id());
    let mut args_table = Headers::new();
    // Dropped by the broker if this run is interrupted before cleaning up.
    args_table.insert("x-expires".into(), json!(600_000));
    admin.declare_queue(&queue, false, &args_table).await?;

    let result = match mode.as_str() {
        "publish" => publish(&def, &queue, n, arg(2, 4)?, arg(3, 256)?).await,
        "consume" => consume(&def, &admin, &queue, n, arg(2, 1)?, arg(3, 100)?).await,
        _ => Err(AmqpError::Invalid {
            what: "mode".into(),
            reason: usage.into(),
        }),
    };
    admin.delete_queue(&queue).await?;
    admin.delete_queue(&format!("{queue}.dead-letter")).await?;
    admin.close().await;
    Ok(result?)
}

/// Publishes `n` confirmed messages with `in_flight` outstanding; returns the elapsed time.
async fn publish_n(
    publisher: &Publisher,
    queue: &str,
    n: usize,
    in_flight: usize,
) -> Result<Duration, AmqpError> {
    let body = bytes::Bytes::from(vec![b'x'; BODY_SIZE]);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(in_flight);
    for _ in 0..in_flight.clamp(1, n.max(1)) {
        let (publisher, next, body) = (publisher.clone(), next.clone(), body.clone());
        let msg = Message {
            routing_key: queue.to_owned(),
            body,
            ..Message::default()
        };
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                publisher.publish(msg.clone(), true).await?;
            }
            Ok::<(), AmqpError>(())
        }));
    }
    for task in tasks {
        task.await.map_err(|e| AmqpError::Invalid {
            what: "publishing task".into(),
            reason: e.to_string(),
        })??;
    }
    Ok(started.elapsed())
}

async fn publish(
    def: &Definition,
    queue: &str,
    n: usize,
    channels: usize,
    in_flight: usize,
) -> Result<(), AmqpError> {
    let publisher = Publisher::new(def.clone(), channels);
    publisher.connect().await?;
    let took = publish_n(&publisher, queue, n, in_flight).await?;
    publisher.close().await;
    report("published (confirmed)", n, took);
    println!("  channels={channels} in_flight={in_flight} body={BODY_SIZE}B");
    Ok(())
}

async fn consume(
    def: &Definition,
    admin: &Admin,
    queue: &str,
    n: usize,
    channels: usize,
    prefetch: usize,
) -> Result<(), AmqpError> {
    let publisher = Publisher::new(def.clone(), 4);
    publish_n(&publisher, queue, n, 256).await?;
    publisher.close().await;
    println!(
        "pre-filled {queue} with {} messages",
        admin.message_count(queue).await?
    );

    let handled = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(Notify::new());
    let first = Arc::new(std::sync::OnceLock::<Instant>::new());
    let handler = {
        let (handled, done, first) = (handled.clone(), done.clone(), first.clone());
        move |_d: Delivery| {
            first.get_or_init(Instant::now);
            if handled.fetch_add(1, Ordering::Relaxed) + 1 == n {
                done.notify_one();
            }
            async { Outcome::Ack }
        }
    };
    let cfg = ConsumerConfig {
        pool_size: channels,
        prefetch_count: u16::try_from(prefetch).unwrap_or(u16::MAX),
        ..ConsumerConfig::new(queue)
    };
    let started = Instant::now();
    let consumer = Consumer::start(def.clone(), cfg, Arc::new(handler));
    done.notified().await;
    let took = started.elapsed();
    let from_first = first.get().map(Instant::elapsed);
    consumer.stop().await;
    report("consumed and acked (from start, incl. connecting)", n, took);
    if let Some(from_first) = from_first {
        report(
            "consumed and acked (from the first delivery)",
            n,
            from_first,
        );
    }
    println!("  channels={channels} prefetch={prefetch} body={BODY_SIZE}B");
    let left = admin.message_count(queue).await?;
    if left != 0 {
        println!("  warning: {left} messages left in the queue");
    }
    Ok(())
}

fn report(what: &str, n: usize, took: Duration) {
    let secs = took.as_secs_f64();
    let rate = if secs > 0.0 {
        n as f64 / secs
    } else {
        f64::INFINITY
    };
    println!("{what}: {n} messages in {secs:.3} s = {rate:.0} msg/s");
}
