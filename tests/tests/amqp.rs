//! AMQP against the machine's RabbitMQ (127.0.0.1:5672, guest/guest): a channel runs a Python
//! service that publishes through an outgoing connection; ack, reject and dead-lettering; the
//! broker's connections closed under load; a definition moved to another vhost while running;
//! enmasse round trip of the three AMQP types. Needs `rabbitmqctl` (run as root) for the tests
//! that close connections and add a vhost.
use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use zato_amqp::{Admin, Definition, Delivery, Message, Properties, Publisher};
use zato_common::admin::AdminClient;
use zato_tests::{Backend, Options, TestCluster, eventually};

const SERVICES: &str = include_str!("fixtures/amqp.py");

fn unique(what: &str) -> String {
    format!(
        "zato-test-{what}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

fn broker(vhost: &str) -> Definition {
    Definition {
        name: unique("client"),
        vhost: vhost.into(),
        ..Definition::default()
    }
}

async fn rabbit(vhost: &str) -> Admin {
    Admin::connect(&broker(vhost)).await.unwrap_or_else(|e| {
        panic!(
            "RabbitMQ is needed at 127.0.0.1:5672 (start it with `rabbitmq-server -detached`): {e}"
        )
    })
}

/// Queues that expire on their own should a test fail half-way.
async fn declare(admin: &Admin, queues: &[&str]) {
    let mut args = serde_json::Map::new();
    args.insert("x-expires".into(), json!(300_000));
    for q in queues {
        admin
            .declare_queue(q, true, &args)
            .await
            .expect("declare a queue");
    }
}

async fn cleanup(admin: &Admin, queues: &[&str]) {
    for q in queues {
        let _ = admin.delete_queue(q).await;
        let _ = admin.delete_queue(&format!("{q}.dead-letter")).await;
    }
}

fn rabbitmqctl(args: &[&str]) -> String {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run rabbitmqctl ({e}); this test needs it on the PATH, as root")
        });
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?} failed (run the tests as root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Closes the broker connections whose client name contains `marker` (the definition's name,
/// which the server gives its connections); returns how many.
fn close_connections(marker: &str) -> usize {
    let listing = rabbitmqctl(&["-q", "list_connections", "pid", "client_properties"]);
    let pids: Vec<&str> = listing
        .lines()
        .filter(|l| l.contains(marker))
        .filter_map(|l| l.split('\t').next())
        .collect();
    for pid in &pids {
        rabbitmqctl(&["-q", "close_connection", pid, "zato amqp test"]);
    }
    pids.len()
}

async fn invoke(admin: &AdminClient, service: &str, payload: Value) -> Value {
    admin
        .invoke(service, &payload)
        .await
        .unwrap_or_else(|e| panic!("{service}: {e}"))
        .data
}

/// Deploys the fixtures and makes a definition (guest's password set), an outgoing
/// connection `test-out` and returns the definition's name.
async fn setup(admin: &AdminClient, vhost: &str) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode(SERVICES);
    invoke(
        admin,
        "zato.service.upload-package",
        json!({"payload": payload, "payload_name": "amqp.py"}),
    )
    .await;
    let def = unique("def");
    let created = invoke(
        admin,
        "zato.definition.amqp.create",
        json!({"name": def, "host": "127.0.0.1", "port": 5672, "vhost": vhost, "username": "guest",
               "frame_max": 131072, "heartbeat": 10}),
    )
    .await;
    invoke(
        admin,
        "zato.definition.amqp.change-password",
        json!({"id": created["id"], "password1": "guest", "password2": "guest"}),
    )
    .await;
    invoke(
        admin,
        "zato.outgoing.amqp.create",
        json!({"name": "test-out", "def_name": def, "is_active": true, "delivery_mode": 2,
               "priority": 5, "pool_size": 2}),
    )
    .await;
    def
}

async fn channel(admin: &AdminClient, def: &str, queue: &str, service: &str, extra: Value) -> i64 {
    let mut input = json!({"name": unique("ch"), "def_name": def, "queue": queue, "service": service,
        "is_active": true, "pool_size": 2, "prefetch_count": 20, "ack_mode": "ack",
        "data_format": "json"});
    if let (Some(m), Some(e)) = (input.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    invoke(admin, "zato.channel.amqp.create", input).await["id"]
        .as_i64()
        .expect("channel id")
}

fn message(queue: &str, body: Value, headers: Value) -> Message {
    Message {
        exchange: String::new(),
        routing_key: queue.into(),
        body: body.to_string().into_bytes().into(),
        properties: Properties {
            content_type: Some("application/json".into()),
            correlation_id: Some("corr-1".into()),
            ..Properties::default()
        },
        headers: headers.as_object().cloned().unwrap_or_default(),
        mandatory: false,
    }
}

async fn next(admin: &Admin, queue: &str, within: Duration) -> Option<Delivery> {
    eventually(within, || async { admin.get(queue).await.ok().flatten() }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_service_outgoing_and_settling() {
    let rabbit = rabbit("/").await;
    let (inq, outq, settleq) = (unique("in"), unique("out"), unique("settle"));
    let (rejectq, rejectedq) = (unique("reject-mode"), unique("rejected"));
    declare(&rabbit, &[&inq, &outq, &settleq, &rejectedq]).await;
    // A queue whose rejected messages the broker moves to `rejectedq`: what reject mode did
    // can be seen there.
    let mut dlx = serde_json::Map::new();
    dlx.insert("x-expires".into(), json!(300_000));
    dlx.insert("x-dead-letter-exchange".into(), json!(""));
    dlx.insert("x-dead-letter-routing-key".into(), json!(rejectedq));
    rabbit
        .declare_queue(&rejectq, true, &dlx)
        .await
        .expect("declare");
    let cluster = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let admin = cluster.servers[0].admin();
    let def = setup(&admin, "/").await;
    channel(&admin, &def, &inq, "test.amqp-relay", json!({})).await;
    channel(
        &admin,
        &def,
        &settleq,
        "test.amqp-settle",
        json!({"max_deliveries": 3}),
    )
    .await;
    channel(
        &admin,
        &def,
        &rejectq,
        "test.amqp-settle",
        json!({"ack_mode": "reject"}),
    )
    .await;

    // A message through the channel, the service and the outgoing connection, intact.
    let publisher = Publisher::new(broker("/"), 1);
    publisher
        .publish(
            message(
                &inq,
                json!({"order": 7, "items": ["a", "b"]}),
                json!({"x-out-queue": outq, "x-test": "yes"}),
            ),
            true,
        )
        .await
        .unwrap();
    let got = next(&rabbit, &outq, Duration::from_secs(10))
        .await
        .expect("the relayed message");
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body, json!({"order": 7, "items": ["a", "b"]}));
    assert_eq!(got.properties.correlation_id.as_deref(), Some("corr-1"));
    assert_eq!(got.properties.app_id.as_deref(), Some("relay"));
    assert_eq!(
        got.properties.content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(
        got.properties.delivery_mode,
        Some(2),
        "the connection's own property"
    );
    assert_eq!(got.headers["x-type"], "amqp");
    assert_eq!(got.headers["x-orig"], "yes");
    assert_eq!(got.headers["x-count"], 1);
    assert!(
        got.headers["x-channel"]
            .as_str()
            .is_some_and(|c| c.starts_with("zato-test-ch"))
    );

    // Ack and reject by the service: both leave the queue, neither is dead-lettered.
    for do_ in ["ack", "reject", "nothing"] {
        publisher
            .publish(message(&settleq, json!({"do": do_}), json!({})), true)
            .await
            .unwrap();
    }
    // ack_mode reject: a message the service handled is rejected (here: moved by the broker
    // to the queue's dead-letter target); one the service acked itself is not.
    publisher
        .publish(
            message(&rejectq, json!({"do": "nothing", "n": 1}), json!({})),
            true,
        )
        .await
        .unwrap();
    publisher
        .publish(
            message(&rejectq, json!({"do": "ack", "n": 2}), json!({})),
            true,
        )
        .await
        .unwrap();
    let rejected = next(&rabbit, &rejectedq, Duration::from_secs(10))
        .await
        .expect("the message reject mode rejected");
    assert_eq!(
        serde_json::from_slice::<Value>(&rejected.body).unwrap()["n"],
        1
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        rabbit.get(&rejectedq).await.unwrap().is_none(),
        "the acked one is not rejected"
    );
    assert_eq!(rabbit.message_count(&rejectq).await.unwrap(), 0);
    // A service that raises: tried max_deliveries (3) times, then dead-lettered, not lost.
    publisher
        .publish(message(&settleq, json!({"do": "raise"}), json!({})), true)
        .await
        .unwrap();
    let dead = next(
        &rabbit,
        &format!("{settleq}.dead-letter"),
        Duration::from_secs(15),
    )
    .await
    .expect("the failed message in the dead-letter queue");
    assert_eq!(
        serde_json::from_slice::<Value>(&dead.body).unwrap(),
        json!({"do": "raise"})
    );
    assert_eq!(dead.headers["x-zato-delivery-count"], 3);
    assert!(
        dead.headers["x-zato-error"]
            .as_str()
            .is_some_and(|e| e.contains("asked to fail"))
    );
    assert_eq!(rabbit.message_count(&settleq).await.unwrap(), 0);
    assert!(
        rabbit
            .get(&format!("{settleq}.dead-letter"))
            .await
            .unwrap()
            .is_none()
    );
    let log = cluster.servers[0].log();
    assert!(log.contains("asked to fail"), "the failure is logged");
    // A message a JSON channel cannot read is dead-lettered at once: retrying cannot help.
    let mut unreadable = message(&settleq, json!(null), json!({}));
    unreadable.body = b"not JSON {".to_vec().into();
    publisher.publish(unreadable, true).await.unwrap();
    let dead = next(
        &rabbit,
        &format!("{settleq}.dead-letter"),
        Duration::from_secs(10),
    )
    .await
    .expect("the unreadable message in the dead-letter queue");
    assert_eq!(&dead.body[..], b"not JSON {");
    assert!(
        dead.headers["x-zato-error"]
            .as_str()
            .is_some_and(|e| e.contains("not valid JSON")),
        "{:?}",
        dead.headers
    );

    // The admin API's publish, and the list shows names.
    invoke(
        &admin,
        "zato.outgoing.amqp.publish",
        json!({"conn_name": "test-out", "request_data": "plain text", "routing_key": outq}),
    )
    .await;
    let plain = next(&rabbit, &outq, Duration::from_secs(5))
        .await
        .expect("published");
    assert_eq!(&plain.body[..], b"plain text");
    let list = invoke(&admin, "zato.channel.amqp.get-list", json!({})).await;
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().all(|c| c["def_name"] == def.as_str()))
    );
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|c| c["service_name"] == "test.amqp-relay"))
    );

    // Typos are refused, naming the field meant.
    let typo = admin
        .invoke(
            "zato.channel.amqp.create",
            &json!({"name": "x", "def_name": def, "queue": "q", "service": "test.amqp-relay", "ack_mod": "ack"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        typo.contains("unknown field `ack_mod`; did you mean `ack_mode`?"),
        "{typo}"
    );
    let long = admin
        .invoke(
            "zato.definition.amqp.create",
            &json!({"name": "x".repeat(300), "host": "h", "username": "u"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(long.contains("at most 200 characters"), "{long}");
    // A definition in use cannot be deleted.
    let def_id = invoke(&admin, "zato.definition.amqp.get-list", json!({})).await[0]["id"].clone();
    let in_use = admin
        .invoke("zato.definition.amqp.delete", &json!({"id": def_id}))
        .await
        .unwrap_err()
        .to_string();
    assert!(in_use.contains("is used by"), "{in_use}");

    publisher.close().await;
    cleanup(&rabbit, &[&inq, &outq, &settleq, &rejectq, &rejectedq]).await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_connections_closed_under_load_lose_nothing() {
    let rabbit = rabbit("/").await;
    let (inq, outq) = (unique("load-in"), unique("load-out"));
    declare(&rabbit, &[&inq, &outq]).await;
    let cluster = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let admin = cluster.servers[0].admin();
    let def = setup(&admin, "/").await;
    channel(
        &admin,
        &def,
        &inq,
        "test.amqp-relay",
        json!({"max_deliveries": 50}),
    )
    .await;
    let publisher = Publisher::new(broker("/"), 2);
    let total = 1500;
    for n in 0..total {
        publisher
            .publish(
                message(&inq, json!({"n": n}), json!({"x-out-queue": outq})),
                n % 100 == 99,
            )
            .await
            .unwrap();
        if n == total / 3 || n == 2 * total / 3 {
            // The server's consumers and publishers, by their definition's name.
            assert!(
                close_connections(&def) > 0,
                "no connection of the server found"
            );
        }
    }
    let mut seen = HashSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < total && std::time::Instant::now() < deadline {
        match rabbit.get(&outq).await {
            Ok(Some(d)) => {
                let v: Value = serde_json::from_slice(&d.body).expect("JSON");
                seen.insert(v["n"].as_i64().expect("n"));
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let done = (seen.len() == total).then_some(());
    assert!(done.is_some(), "{} of {total} messages arrived", seen.len());
    assert_eq!(rabbit.message_count(&inq).await.unwrap(), 0);
    publisher.close().await;
    cleanup(&rabbit, &[&inq, &outq]).await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_definition_moved_to_another_vhost_moves_its_consumers() {
    let vhost = unique("vhost");
    rabbitmqctl(&["-q", "add_vhost", &vhost]);
    rabbitmqctl(&[
        "-q",
        "set_permissions",
        "-p",
        &vhost,
        "guest",
        ".*",
        ".*",
        ".*",
    ]);
    let (root, other) = (rabbit("/").await, rabbit(&vhost).await);
    let (inq, outq) = (unique("mv-in"), unique("mv-out"));
    declare(&root, &[&inq, &outq]).await;
    declare(&other, &[&inq, &outq]).await;
    let cluster = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let admin = cluster.servers[0].admin();
    let def = setup(&admin, "/").await;
    channel(&admin, &def, &inq, "test.amqp-relay", json!({})).await;
    let def_id = invoke(&admin, "zato.definition.amqp.get-list", json!({})).await[0]["id"].clone();
    invoke(
        &admin,
        "zato.definition.amqp.edit",
        json!({"id": def_id, "vhost": vhost}),
    )
    .await;

    let publisher = Publisher::new(broker(&vhost), 1);
    publisher
        .publish(
            message(&inq, json!({"moved": true}), json!({"x-out-queue": outq})),
            true,
        )
        .await
        .unwrap();
    let got = next(&other, &outq, Duration::from_secs(15))
        .await
        .expect("consumed and relayed on the new vhost, without a restart");
    assert_eq!(
        serde_json::from_slice::<Value>(&got.body).unwrap(),
        json!({"moved": true})
    );
    // Nothing is consumed from the old vhost any more, once its consumer has cancelled (it
    // is told at once and lets its running work finish first).
    let gone = eventually(Duration::from_secs(10), || async {
        (root.queue_stats(&inq).await.ok()?.consumers == 0).then_some(())
    })
    .await;
    assert!(gone.is_some(), "the old vhost's consumer never went away");
    let old = Publisher::new(broker("/"), 1);
    old.publish(
        message(&inq, json!({"old": true}), json!({"x-out-queue": outq})),
        true,
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(root.message_count(&inq).await.unwrap(), 1);

    publisher.close().await;
    old.close().await;
    cleanup(&root, &[&inq, &outq]).await;
    cleanup(&other, &[&inq, &outq]).await;
    cluster.finish().await;
    rabbitmqctl(&["-q", "delete_vhost", &vhost]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enmasse_round_trip_of_amqp_objects() {
    let a = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let admin = a.servers[0].admin();
    let def = setup(&admin, "/").await;
    channel(
        &admin,
        &def,
        "some-queue",
        "test.amqp-settle",
        json!({"ack_mode": "reject", "pool_size": 3}),
    )
    .await;
    let exported = invoke(&admin, "zato.enmasse.export", json!({})).await;
    for t in ["def_amqp", "outconn_amqp", "channel_amqp"] {
        assert_eq!(
            exported[t].as_array().map(Vec::len),
            Some(1),
            "{t} in {exported}"
        );
    }
    assert_eq!(exported["channel_amqp"][0]["def_name"], def.as_str());
    assert_eq!(
        exported["channel_amqp"][0]["service_name"],
        "test.amqp-settle"
    );
    assert!(
        exported["def_amqp"][0]["password"]
            .as_str()
            .is_some_and(|p| p.starts_with("{Zato_Enmasse_Env."))
    );

    let b = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let admin_b = b.servers[0].admin();
    let payload = base64::engine::general_purpose::STANDARD.encode(SERVICES);
    invoke(
        &admin_b,
        "zato.service.upload-package",
        json!({"payload": payload, "payload_name": "amqp.py"}),
    )
    .await;
    let mut objects = exported.clone();
    objects["def_amqp"][0]["password"] = json!("guest");
    let done = invoke(&admin_b, "zato.enmasse.import", json!({"objects": objects})).await;
    assert_eq!(done["ok"], true, "{done}");
    let again = invoke(&admin_b, "zato.enmasse.export", json!({})).await;
    for t in ["def_amqp", "outconn_amqp", "channel_amqp"] {
        assert_eq!(again[t], exported[t], "{t}");
    }
    // A channel naming a definition that exists nowhere is refused, naming the field.
    let mut bad = json!({"channel_amqp": [exported["channel_amqp"][0].clone()]});
    bad["channel_amqp"][0]["name"] = json!("other");
    bad["channel_amqp"][0]["def_name"] = json!("nope");
    let refused = invoke(&admin_b, "zato.enmasse.import", json!({"objects": bad})).await;
    assert_eq!(refused["ok"], false);
    assert_eq!(refused["problems"][0]["field"], "def_name", "{refused}");
    a.finish().await;
    b.finish().await;
}

/// Messages that queued up while the server was down meet their service after a restart:
/// channels start only once the services they call are deployed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_waiting_for_a_restarted_server_are_handled() {
    let rabbit = rabbit("/").await;
    let (inq, outq) = (unique("restart-in"), unique("restart-out"));
    declare(&rabbit, &[&inq, &outq]).await;
    let mut cluster = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap();
    let admin = cluster.servers[0].admin();
    // Deployed first, so at start-up the relay is deployed only after a second of this.
    let slow = "import time\ntime.sleep(1)\nfrom zato.server.service import Service\n\nclass Slow(Service):\n    name = 'test.slow-import'\n";
    invoke(
        &admin,
        "zato.service.upload-package",
        json!({"payload": base64::engine::general_purpose::STANDARD.encode(slow), "payload_name": "slow_import.py"}),
    )
    .await;
    let def = setup(&admin, "/").await;
    channel(&admin, &def, &inq, "test.amqp-relay", json!({})).await;
    cluster.servers[0].stop();
    let publisher = Publisher::new(broker("/"), 1);
    for n in 0..20 {
        publisher
            .publish(
                message(&inq, json!({"n": n}), json!({"x-out-queue": outq})),
                true,
            )
            .await
            .unwrap();
    }
    cluster.servers[0].start().await.unwrap();
    let mut seen = HashSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < 20 && std::time::Instant::now() < deadline {
        match rabbit.get(&outq).await {
            Ok(Some(d)) => {
                let v: Value = serde_json::from_slice(&d.body).expect("JSON");
                seen.insert(v["n"].as_i64().expect("n"));
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert_eq!(seen.len(), 20, "relayed after the restart");
    assert!(
        rabbit
            .get(&format!("{inq}.dead-letter"))
            .await
            .unwrap()
            .is_none(),
        "nothing dead-lettered"
    );
    publisher.close().await;
    cleanup(&rabbit, &[&inq, &outq]).await;
    cluster.finish().await;
}
