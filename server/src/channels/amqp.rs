//! AMQP channels (`channel_amqp` rows): `pool_size` consumers of a queue, each with
//! `prefetch_count`, invoking the channel's service per message. After the service returns
//! the message is acked (`ack_mode` ack) or rejected (`reject`), unless the service settled it
//! itself with `self.request.amqp.ack()` / `.reject()`. A service that fails has the message
//! retried up to `max_deliveries` times, then moved to `<queue>.dead-letter`: never lost,
//! never redelivered forever (see `zato_amqp::consumer`).
//!
//! Where consumers run (`consumers_on`): `each-server` (the default) runs a channel's
//! `pool_size` consumers in the first worker process of every server; `each-process` runs
//! them in every worker process.
use std::sync::{Arc, Mutex, Weak};

use rustc_hash::FxHashMap;
use serde_json::{Value, json};
use zato_amqp::{AckMode, Consumer, ConsumerConfig, Delivery, Outcome};
use zato_common::odb::kinds::Values;

use crate::connectors::amqp::{definition, definition_of};
use crate::core::{Call, ChannelInfo, ConfigListener, Disposition, ErrorKind, KindRows, Origin};
use crate::invoke::invoke;
use crate::state::ServerState;

const DEF: &str = "amqp_def";
const CHANNEL: &str = "amqp_channel";

struct Running {
    fingerprint: String,
    consumer: Arc<Consumer>,
}

/// Keeps one consumer set per active AMQP channel, in step with the ODB.
pub struct AmqpChannels {
    state: Weak<ServerState>,
    running: Mutex<FxHashMap<i64, Running>>,
}

impl AmqpChannels {
    pub fn new(state: Weak<ServerState>) -> Self {
        Self {
            state,
            running: Mutex::default(),
        }
    }

    /// Whether this process runs the consumers of a channel with that `consumers_on`.
    fn runs_here(&self, consumers_on: &str) -> bool {
        consumers_on == "each-process" || self.state.upgrade().is_some_and(|s| s.worker_index == 0)
    }
}

/// What a consumer needs to know of its channel per message.
struct ChannelDef {
    service_id: i64,
    /// Read from the ODB on the first message (a changed row makes a new channel).
    service: tokio::sync::OnceCell<String>,
    data_format: String,
    info: Arc<ChannelInfo>,
}

/// Why a message could not be handed to the channel's service.
#[derive(Debug, thiserror::Error)]
enum ChannelError {
    #[error("service id {0} does not exist")]
    NoService(i64),
    #[error("cannot read the channel's service: {0}")]
    Odb(#[from] zato_common::odb::OdbError),
    #[error("the message is not valid JSON: {0}")]
    NotJson(#[from] serde_json::Error),
}

impl ChannelDef {
    async fn service_name(&self, state: &ServerState) -> Result<&str, ChannelError> {
        self.service
            .get_or_try_init(|| async {
                match state
                    .odb
                    .service_by_id(state.cluster_id, self.service_id)
                    .await
                {
                    Ok(Some(s)) => Ok(s.name),
                    Ok(None) => Err(ChannelError::NoService(self.service_id)),
                    Err(e) => Err(ChannelError::Odb(e)),
                }
            })
            .await
            .map(String::as_str)
    }
}

fn text<'a>(row: &'a Values, k: &str) -> &'a str {
    row.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn int(row: &Values, k: &str, default: i64) -> i64 {
    row.get(k).and_then(Value::as_i64).unwrap_or(default)
}

impl ConfigListener for AmqpChannels {
    fn kinds(&self) -> &'static [&'static str] {
        &[DEF, CHANNEL]
    }

    fn apply(&self, rows: &KindRows) {
        let Some(state) = self.state.upgrade() else {
            return;
        };
        let wanted: Vec<(i64, Values, Values)> = rows
            .get(CHANNEL)
            .map(|r| r.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|r| r.get("is_active").and_then(Value::as_bool) != Some(false))
            .filter(|r| self.runs_here(text(r, "consumers_on")))
            .filter_map(|r| {
                let def = definition_of(r, rows).cloned();
                if def.is_none() {
                    tracing::error!(channel = text(r, "name"), "AMQP channel has no definition");
                }
                Some((int(r, "id", 0), r.clone(), def?))
            })
            .collect();
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let mut keep = FxHashMap::default();
        let mut to_stop = Vec::new();
        for (id, row, def_row) in wanted {
            let fingerprint = format!(
                "{}{}",
                Value::Object(row.clone()),
                Value::Object(def_row.clone())
            );
            match running.remove(&id) {
                Some(r) if r.fingerprint == fingerprint => {
                    keep.insert(id, r);
                    continue;
                }
                Some(r) => to_stop.push(r.consumer),
                None => {}
            }
            match start(&state, &row, &def_row) {
                Ok(consumer) => {
                    keep.insert(
                        id,
                        Running {
                            fingerprint,
                            consumer: Arc::new(consumer),
                        },
                    );
                }
                Err(e) => tracing::error!(
                    channel = text(&row, "name"),
                    "AMQP channel not started: {e}"
                ),
            }
        }
        to_stop.extend(running.drain().map(|(_, r)| r.consumer));
        *running = keep;
        // Old consumers are told now (so they take no new message once the new ones run) and
        // stop in the background: their running services finish and their messages are
        // settled first.
        for c in to_stop {
            c.begin_stop();
            state.rt.spawn(async move { c.stop().await });
        }
    }

    fn stop(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let running: Vec<Running> = self
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain()
                .map(|(_, r)| r)
                .collect();
            for r in running {
                r.consumer.stop().await;
            }
        })
    }
}

fn start(
    state: &Arc<ServerState>,
    row: &Values,
    def_row: &Values,
) -> Result<Consumer, crate::connectors::ConnError> {
    let def = definition(def_row, &state.cfg.secret_key)?;
    let service_id = int(row, "service_id", 0);
    let name = text(row, "name").to_string();
    let mut cfg = ConsumerConfig::new(text(row, "queue"));
    cfg.consumer_tag_prefix = format!("{}/{}", text(row, "consumer_tag_prefix"), state.server_name);
    cfg.pool_size = usize::try_from(int(row, "pool_size", 1))
        .unwrap_or(1)
        .max(1);
    cfg.prefetch_count = u16::try_from(int(row, "prefetch_count", 10)).unwrap_or(10);
    cfg.ack_mode = if text(row, "ack_mode") == "reject" {
        AckMode::Reject
    } else {
        AckMode::Ack
    };
    cfg.max_deliveries = u32::try_from(int(row, "max_deliveries", 5))
        .unwrap_or(5)
        .max(1);
    // As upstream: without a data format, JSON content types are decoded, the rest is text.
    let data_format = text(row, "data_format").to_string();
    let info = ChannelInfo::new(json!({
        "id": int(row, "id", 0), "name": name, "type": "amqp", "data_format": data_format,
        "queue": text(row, "queue"), "is_internal": false,
    }));
    let channel = Arc::new(ChannelDef {
        service_id,
        service: tokio::sync::OnceCell::new(),
        data_format,
        info,
    });
    let weak = Arc::downgrade(state);
    let handler = move |delivery: Delivery| {
        let (weak, channel) = (weak.clone(), channel.clone());
        async move {
            let Some(state) = weak.upgrade() else {
                return Outcome::Failed("the server is stopping".into());
            };
            match channel.service_name(&state).await {
                Ok(service) => handle(&state, &channel, service, delivery).await,
                Err(e) => Outcome::Failed(e.to_string()),
            }
        }
    };
    Ok(Consumer::start(def, cfg, Arc::new(handler)))
}

/// The payload a service gets: JSON decoded for `json` channels and for JSON content types,
/// text otherwise (upstream hands over what kombu decoded).
fn payload(def: &ChannelDef, d: &Delivery) -> Result<Value, ChannelError> {
    let json_ct = d
        .properties
        .content_type
        .as_deref()
        .is_some_and(|ct| ct.contains("json"));
    if def.data_format == "json" || json_ct {
        if d.body.is_empty() {
            return Ok(Value::Null);
        }
        return Ok(serde_json::from_slice(&d.body)?);
    }
    Ok(Value::String(String::from_utf8_lossy(&d.body).into_owned()))
}

/// The message's details, as JSON text: Python parses them only if the service looks.
fn meta(d: &Delivery) -> Value {
    let p = &d.properties;
    Value::String(
        json!({
            "headers": d.headers,
            "properties": {
                "content_type": p.content_type, "content_encoding": p.content_encoding,
                "delivery_mode": p.delivery_mode, "priority": p.priority,
                "correlation_id": p.correlation_id, "reply_to": p.reply_to,
                "expiration": p.expiration, "message_id": p.message_id, "timestamp": p.timestamp,
                "type": p.kind, "user_id": p.user_id, "app_id": p.app_id,
            },
            "delivery_info": {
                "exchange": d.exchange, "routing_key": d.routing_key,
                "redelivered": d.redelivered, "delivery_tag": d.delivery_tag,
                "consumer_tag": d.consumer_tag, "delivery_count": d.delivery_count,
            },
        })
        .to_string(),
    )
}

async fn handle(
    state: &Arc<ServerState>,
    def: &ChannelDef,
    service: &str,
    delivery: Delivery,
) -> Outcome {
    let cid = zato_common::new_cid();
    let payload = match payload(def, &delivery) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(cid, service, "AMQP message not handed over: {e}");
            return Outcome::DeadLetter(e.to_string());
        }
    };
    let payload_is_text = payload.is_string();
    let call = Call {
        name: service.to_string(),
        cid: cid.clone(),
        payload,
        raw_request: String::from_utf8_lossy(&delivery.body).into_owned(),
        data_format: match def.data_format.as_str() {
            "" if payload_is_text => "text".to_string(),
            "" => "json".to_string(),
            other => other.to_string(),
        },
        channel: def.info.clone(),
        origin: Origin::Message {
            transport: "amqp",
            meta: meta(&delivery),
        },
        environ: Value::Object(Default::default()),
    };
    match invoke(state, call).await {
        Ok(out) => match out.disposition {
            Some(Disposition::Ack) => Outcome::Ack,
            Some(Disposition::Reject) => Outcome::Reject,
            None => Outcome::Default,
        },
        Err(e) => {
            let level_error = !matches!(e.kind, ErrorKind::BadInput | ErrorKind::NotFound);
            if level_error {
                tracing::error!(cid, service, "AMQP message failed: {}", e.message);
            } else {
                tracing::warn!(cid, service, "AMQP message failed: {}", e.message);
            }
            if let Some(tb) = &e.traceback {
                tracing::error!(cid, service, "{tb}");
            }
            Outcome::Failed(e.message)
        }
    }
}
