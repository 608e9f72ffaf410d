//! Outgoing AMQP connections (`out_amqp` rows over `conn_def_amqp` definitions): one
//! confirm-mode [`Publisher`] per connection, kept across reloads while neither row changes.
//! Python publishes through `connector_call("amqp", name, "publish", args, body)`:
//! `self.out.amqp.send(...)` queues the message for the connection's sender task and returns
//! (upstream's fire-and-forget: messages go out in the order sent, failures are logged), and
//! `self.out.amqp.invoke(...)` returns once the broker confirmed the message.
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use zato_amqp::{AmqpError, Definition, ErrorKind, Message, Properties, Publisher};
use zato_common::crypto::SecretKey;
use zato_common::odb::kinds::Values;

use super::{ConnError, ConnErrorKind, ConnFuture, ConnectorKind};
use crate::core::{ConfigListener, KindRows};

const DEF: &str = "amqp_def";
const OUT: &str = "amqp_out";

/// A definition row as the client needs it, its password decrypted.
pub fn definition(row: &Values, key: &SecretKey) -> Result<Definition, ConnError> {
    let text = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or_default();
    let int = |k: &str, d: i64| row.get(k).and_then(Value::as_i64).unwrap_or(d);
    let password = match row.get("password").and_then(Value::as_str) {
        Some(p) if !p.is_empty() => key.decrypt_from_odb(p).map_err(|e| {
            ConnError::config(format!(
                "cannot decrypt the password of AMQP definition `{}`: {e}",
                text("name")
            ))
        })?,
        _ => String::new(),
    };
    Ok(Definition {
        name: text("name").to_string(),
        host: text("host").to_string(),
        port: u16::try_from(int("port", 5672)).unwrap_or(5672),
        vhost: match text("vhost") {
            "" => "/".to_string(),
            v => v.to_string(),
        },
        username: text("username").to_string(),
        password,
        frame_max: u32::try_from(int("frame_max", 131_072)).unwrap_or(131_072),
        heartbeat: u16::try_from(int("heartbeat", 30)).unwrap_or(30),
        ..Definition::default()
    })
}

/// The definition row `row` points at with `def_id`.
pub fn definition_of<'a>(row: &Values, rows: &'a KindRows) -> Option<&'a Values> {
    let def_id = row.get("def_id").and_then(Value::as_i64)?;
    rows.get(DEF)?
        .iter()
        .find(|d| d.get("id").and_then(Value::as_i64) == Some(def_id))
}

pub fn conn_error(e: &AmqpError) -> ConnError {
    let kind = match e.kind() {
        ErrorKind::Refused | ErrorKind::Disconnected => ConnErrorKind::Refused,
        ErrorKind::Timeout => ConnErrorKind::Timeout,
        ErrorKind::Tls => ConnErrorKind::Tls,
        ErrorKind::Auth => ConnErrorKind::Auth,
        ErrorKind::Invalid => ConnErrorKind::Input,
        ErrorKind::Closed => ConnErrorKind::Closed,
        _ => ConnErrorKind::Protocol,
    };
    ConnError::new(kind, e.to_string())
}

struct Out {
    publisher: Publisher,
    /// The connection's own properties, used where a message does not set them.
    defaults: Properties,
    fingerprint: String,
    /// `send`'s messages, published in order by one task; when the last sender is dropped
    /// (the connection was replaced or removed) the task publishes what is left and closes
    /// the publisher.
    queue: mpsc::Sender<Message>,
}

/// Messages `send` may queue before the sending service waits for room.
const SEND_QUEUE: usize = 10_000;

/// Publishes what `send` queued. Messages waiting together go out as one batch whose
/// publishes are started in queue order (so their frames are queued in that order) and whose
/// broker confirms are then awaited together: one round trip per batch, not per message, and
/// a message the broker refused is logged with its own error.
async fn sender(publisher: Publisher, mut rx: mpsc::Receiver<Message>, name: String) {
    let mut batch = Vec::with_capacity(SEND_BATCH);
    while rx.recv_many(&mut batch, SEND_BATCH).await > 0 {
        let mut sends: Vec<_> = batch
            .drain(..)
            .map(|msg| Some(Box::pin(publisher.publish(msg, true))))
            .collect();
        // Polled in queue order every time, so the first polls (which queue the frames) are.
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for slot in sends.iter_mut() {
                if let Some(send) = slot {
                    match send.as_mut().poll(cx) {
                        std::task::Poll::Ready(result) => {
                            if let Err(e) = result {
                                tracing::error!(conn = name, "AMQP message not sent: {e}");
                            }
                            *slot = None;
                        }
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
    }
    publisher.close().await;
}

/// Messages the sender publishes at once.
const SEND_BATCH: usize = 256;

/// Every active outgoing AMQP connection, by name.
pub struct AmqpOut {
    key: SecretKey,
    table: ArcSwap<FxHashMap<String, Arc<Out>>>,
}

impl AmqpOut {
    pub fn new(key: SecretKey) -> Self {
        Self {
            key,
            table: ArcSwap::from_pointee(FxHashMap::default()),
        }
    }

    fn build(&self, row: &Values, def_row: &Values) -> Result<Out, ConnError> {
        let def = definition(def_row, &self.key)?;
        let text = |k: &str| {
            row.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let int = |k: &str| row.get(k).and_then(Value::as_i64);
        let defaults = Properties {
            content_type: text("content_type"),
            content_encoding: text("content_encoding"),
            delivery_mode: int("delivery_mode").and_then(|v| u8::try_from(v).ok()),
            priority: int("priority").and_then(|v| u8::try_from(v).ok()),
            expiration: int("expiration").map(|v| v.to_string()),
            user_id: text("user_id"),
            app_id: text("app_id"),
            ..Properties::default()
        };
        let pool_size = usize::try_from(int("pool_size").unwrap_or(1)).unwrap_or(1);
        let publisher = Publisher::new(def, pool_size.max(1));
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| ConnError::closed("AMQP connections need the server's runtime"))?;
        let (queue, rx) = mpsc::channel(SEND_QUEUE);
        let name = row.get("name").and_then(Value::as_str).unwrap_or_default();
        rt.spawn(sender(publisher.clone(), rx, name.to_string()));
        Ok(Out {
            publisher,
            defaults,
            fingerprint: fingerprint(row, def_row),
            queue,
        })
    }
}

fn fingerprint(row: &Values, def_row: &Values) -> String {
    format!(
        "{}{}",
        Value::Object(row.clone()),
        Value::Object(def_row.clone())
    )
}

impl ConfigListener for AmqpOut {
    fn kinds(&self) -> &'static [&'static str] {
        &[DEF, OUT]
    }

    fn apply(&self, rows: &KindRows) {
        let old = self.table.load();
        let mut table = FxHashMap::default();
        let active = rows.get(OUT).map(|r| r.as_slice()).unwrap_or_default();
        for row in active
            .iter()
            .filter(|r| r.get("is_active").and_then(Value::as_bool) != Some(false))
        {
            let name = row.get("name").and_then(Value::as_str).unwrap_or_default();
            let Some(def_row) = definition_of(row, rows) else {
                tracing::error!(conn = name, "outgoing AMQP connection has no definition");
                continue;
            };
            if let Some(kept) = old
                .get(name)
                .filter(|o| o.fingerprint == fingerprint(row, def_row))
            {
                table.insert(name.to_string(), kept.clone());
                continue;
            }
            match self.build(row, def_row) {
                Ok(out) => {
                    table.insert(name.to_string(), Arc::new(out));
                }
                Err(e) => tracing::error!(conn = name, "outgoing AMQP connection not built: {e}"),
            }
        }
        // Connections replaced or removed close once their last queued message is out (see
        // `sender`).
        self.table.store(Arc::new(table));
    }
}

/// Properties given with a message override the connection's (upstream's order).
fn properties(given: Option<&Map<String, Value>>, defaults: &Properties) -> Properties {
    let Some(g) = given else {
        return defaults.clone();
    };
    let text = |k: &str| g.get(k).and_then(Value::as_str).map(str::to_string);
    let small = |k: &str| {
        g.get(k)
            .and_then(Value::as_u64)
            .and_then(|v| u8::try_from(v).ok())
    };
    Properties {
        content_type: text("content_type").or_else(|| defaults.content_type.clone()),
        content_encoding: text("content_encoding").or_else(|| defaults.content_encoding.clone()),
        delivery_mode: small("delivery_mode").or(defaults.delivery_mode),
        priority: small("priority").or(defaults.priority),
        correlation_id: text("correlation_id"),
        reply_to: text("reply_to"),
        expiration: g
            .get("expiration")
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .or_else(|| defaults.expiration.clone()),
        message_id: text("message_id"),
        timestamp: g.get("timestamp").and_then(Value::as_u64),
        kind: text("type"),
        user_id: text("user_id").or_else(|| defaults.user_id.clone()),
        app_id: text("app_id").or_else(|| defaults.app_id.clone()),
    }
}

impl ConnectorKind for AmqpOut {
    fn name(&self) -> &'static str {
        "amqp"
    }

    fn has(&self, conn: &str) -> bool {
        self.table.load().contains_key(conn)
    }

    /// `publish` with `{exchange, routing_key, properties, headers, mandatory, confirm}` and
    /// the body in `data`.
    fn call<'a>(
        &'a self,
        conn: &'a str,
        op: &'a str,
        args: Value,
        data: Option<Vec<u8>>,
    ) -> ConnFuture<'a> {
        Box::pin(async move {
            if op != "publish" {
                return Err(ConnError::input(format!(
                    "AMQP connections have no operation `{op}`; use publish"
                )));
            }
            let out = self.table.load().get(conn).cloned().ok_or_else(|| {
                ConnError::missing(format!("no active outgoing AMQP connection named `{conn}`"))
            })?;
            let text = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or_default();
            let msg = Message {
                exchange: text("exchange").to_string(),
                routing_key: text("routing_key").to_string(),
                body: data.unwrap_or_default().into(),
                properties: properties(
                    args.get("properties").and_then(Value::as_object),
                    &out.defaults,
                ),
                headers: args
                    .get("headers")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
                mandatory: args.get("mandatory").and_then(Value::as_bool) == Some(true),
            };
            if args.get("confirm").and_then(Value::as_bool) == Some(true) {
                out.publisher
                    .publish(msg, true)
                    .await
                    .map_err(|e| conn_error(&e))?;
            } else if let Err(mpsc::error::TrySendError::Full(msg)) = out.queue.try_send(msg) {
                out.queue.send(msg).await.map_err(|_| {
                    ConnError::closed(format!("AMQP connection `{conn}` was closed"))
                })?;
            }
            Ok(json!({"result": "OK"}))
        })
    }
}
