//! Errors come back sorted, with a bounded wait, never as a hang.

mod common;

use std::{
    net::TcpListener,
    time::{Duration, Instant},
};

use common::*;
use zato_amqp::{Admin, AmqpError, ErrorKind, Message, Publisher};

/// Every failure below must come back well within this.
const BOUND: Duration = Duration::from_secs(5);

/// A local port with nothing listening on it.
fn unused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    port
}

async fn connect_error(def: &zato_amqp::Definition) -> (AmqpError, Duration) {
    let started = Instant::now();
    let err = Admin::connect(def).await.expect_err("connecting fails");
    (err, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused() {
    init_tracing();
    let def = zato_amqp::Definition {
        port: unused_port(),
        ..def("refused")
    };
    let (err, took) = connect_error(&def).await;
    assert_eq!(err.kind(), ErrorKind::Refused, "{err}");
    assert!(
        err.to_string()
            .contains("is RabbitMQ running at 127.0.0.1:"),
        "{err}"
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");

    // The publisher reports it on each publish, without hanging.
    let publisher = Publisher::new(def, 2);
    for _ in 0..2 {
        let started = Instant::now();
        let err = publisher
            .publish(message("q", "x"), true)
            .await
            .expect_err("no broker");
        assert_eq!(err.kind(), ErrorKind::Refused);
        assert!(started.elapsed() < BOUND);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_timeout_on_a_silent_server() {
    init_tracing();
    // Accepts TCP connections (the backlog does) but never speaks AMQP.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let def = zato_amqp::Definition {
        port: listener.local_addr().expect("address").port(),
        connect_timeout: Duration::from_millis(500),
        ..def("silent")
    };
    let (err, took) = connect_error(&def).await;
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password() {
    init_tracing();
    let def = zato_amqp::Definition {
        password: "not-the-password".into(),
        ..def("auth")
    };
    let (err, took) = connect_error(&def).await;
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(
        err.to_string()
            .contains("check the definition's username and password"),
        "{err}"
    );
    assert!(took < BOUND, "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_vhost() {
    init_tracing();
    let def = zato_amqp::Definition {
        vhost: unique("no-such-vhost"),
        ..def("vhost")
    };
    let (err, took) = connect_error(&def).await;
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(
        err.to_string()
            .contains("does not exist or user `guest` has no access"),
        "{err}"
    );
    assert!(took < BOUND, "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_a_plain_port() {
    init_tracing();
    let def = zato_amqp::Definition {
        host: "amqps://127.0.0.1".into(),
        ..def("tls")
    };
    let (err, took) = connect_error(&def).await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(took < BOUND, "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_exchange_nack_and_unroutable() {
    init_tracing();
    let def = def(&unique("protocol"));
    let admin = admin(&def).await;
    let queue = unique("protocol");
    declare(&admin, &queue).await;
    let publisher = Publisher::new(def, 1);

    let started = Instant::now();
    let missing = Message {
        exchange: unique("no-such-exchange"),
        routing_key: "x".into(),
        body: "x".into(),
        ..Message::default()
    };
    let err = publisher
        .publish(missing, true)
        .await
        .expect_err("no exchange");
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(err.to_string().contains("NOT_FOUND"), "{err}");
    assert!(started.elapsed() < BOUND);

    // The broker closed that channel; the publisher opens another one.
    publisher
        .publish(message(&queue, "fine"), true)
        .await
        .expect("publish on a fresh channel");
    assert_eq!(admin.message_count(&queue).await.expect("stats"), 1);

    // Mandatory and routed nowhere: returned, reported as an error.
    let mut unroutable = message(&unique("no-such-queue"), "lost");
    unroutable.mandatory = true;
    let err = publisher
        .publish(unroutable, true)
        .await
        .expect_err("returned");
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(
        matches!(
            err,
            AmqpError::Returned {
                reply_code: 312,
                ..
            }
        ),
        "{err}"
    );

    // Invalid input is refused before anything is sent.
    let err = publisher
        .publish(message(&"q".repeat(300), "x"), true)
        .await
        .expect_err("too long");
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");

    publisher.close().await;
    let err = publisher
        .publish(message(&queue, "late"), true)
        .await
        .expect_err("closed");
    assert_eq!(err.kind(), ErrorKind::Closed, "{err}");

    delete(&admin, &[&queue]).await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfirmed_publishes_arrive() {
    init_tracing();
    let def = def(&unique("unconfirmed"));
    let admin = admin(&def).await;
    let queue = unique("unconfirmed");
    declare(&admin, &queue).await;
    let publisher = Publisher::new(def, 2);
    for i in 0..100 {
        publisher
            .publish(message(&queue, format!("{i}")), false)
            .await
            .expect("handed over");
    }
    wait_count(&admin, &queue, 100, BOUND).await;
    publisher.close().await;
    delete(&admin, &[&queue]).await;
    admin.close().await;
}
