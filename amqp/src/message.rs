//! Messages as the server sees them: [`Properties`], JSON headers, [`Message`] to publish and
//! [`Delivery`] received, and their conversion to and from lapin's AMQP types.
//!
//! Headers are a `serde_json::Map`, converted both ways to AMQP field tables:
//!
//! | JSON | AMQP sent | AMQP received | JSON |
//! |------|-----------|---------------|------|
//! | null | void | void | null |
//! | bool | boolean | boolean | bool |
//! | integer (i64) | long-long-int | any integer, timestamp | integer |
//! | integer above i64::MAX | long string (decimal) | | |
//! | float | double | float, double, decimal | float (decimal is lossy; NaN/inf become null) |
//! | string | long string | long or short string | string (invalid UTF-8 replaced with U+FFFD) |
//! | array | field array | field array | array |
//! | object | field table | field table | object |
//! | | | byte array | string, standard base64 (lossless) |

use base64::Engine as _;
use bytes::Bytes;
use lapin::{
    BasicProperties,
    types::{AMQPValue, FieldArray, FieldTable, LongString, ShortString},
};
use serde_json::{Map, Number, Value};

use crate::AmqpError;

/// JSON headers of a message.
pub type Headers = Map<String, Value>;

/// The header that counts deliveries of a message across the republishes done for
/// [`crate::Outcome::Failed`]; absent means 1.
pub const DELIVERY_COUNT_HEADER: &str = "x-zato-delivery-count";
/// Header with the handler's failure reason, added to messages moved to the dead-letter queue.
pub const ERROR_HEADER: &str = "x-zato-error";
/// Header with the original queue's name, added to messages moved to the dead-letter queue.
pub const QUEUE_HEADER: &str = "x-zato-queue";

/// AMQP basic properties, all optional (headers are kept apart, see [`Headers`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    /// MIME content type.
    pub content_type: Option<String>,
    /// MIME content encoding.
    pub content_encoding: Option<String>,
    /// 1 = transient, 2 = persistent.
    pub delivery_mode: Option<u8>,
    /// Priority, 0 to 9.
    pub priority: Option<u8>,
    /// Application correlation identifier.
    pub correlation_id: Option<String>,
    /// Address to reply to.
    pub reply_to: Option<String>,
    /// Per-message TTL in milliseconds, as a string.
    pub expiration: Option<String>,
    /// Application message identifier.
    pub message_id: Option<String>,
    /// Seconds since the Unix epoch.
    pub timestamp: Option<u64>,
    /// The AMQP `type` property.
    pub kind: Option<String>,
    /// Creating user; RabbitMQ checks it against the connection's user.
    pub user_id: Option<String>,
    /// Creating application.
    pub app_id: Option<String>,
}

/// A message to publish.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    /// Exchange name; `""` and `"/"` both mean the default exchange.
    pub exchange: String,
    /// Routing key (the queue's name with the default exchange).
    pub routing_key: String,
    /// Payload.
    pub body: Bytes,
    /// Basic properties.
    pub properties: Properties,
    /// Headers.
    pub headers: Headers,
    /// Ask the broker to return the message if no queue takes it; with a publisher confirm
    /// this makes [`crate::Publisher::publish`] fail with [`crate::AmqpError::Returned`].
    pub mandatory: bool,
}

/// A message received by a consumer.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Payload.
    pub body: Bytes,
    /// Basic properties.
    pub properties: Properties,
    /// Headers, including [`DELIVERY_COUNT_HEADER`] once the message was republished.
    pub headers: Headers,
    /// Exchange it was published to (`""` for the default exchange).
    pub exchange: String,
    /// Routing key it was published with.
    pub routing_key: String,
    /// The broker's redelivered flag (delivered before but not acknowledged).
    pub redelivered: bool,
    /// Delivery tag on its channel.
    pub delivery_tag: u64,
    /// Tag of the consumer that received it.
    pub consumer_tag: String,
    /// How many times the handler has seen this message, starting at 1
    /// (from [`DELIVERY_COUNT_HEADER`]).
    pub delivery_count: u32,
}

/// Maps upstream Zato's `'/'` (its name for the default exchange) to AMQP's `""`.
pub(crate) fn exchange_name(exchange: &str) -> &str {
    if exchange == "/" { "" } else { exchange }
}

/// A short string (at most 255 bytes) or an [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) error.
pub(crate) fn short(what: &str, value: &str) -> Result<ShortString, AmqpError> {
    ShortString::try_new(value)
        .map_err(|e| AmqpError::invalid(what, format!("`{}...`: {e}", prefix(value))))
}

fn prefix(s: &str) -> &str {
    let mut end = s.len().min(40);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Properties {
    /// Builds lapin's properties, with `headers` (when not empty) as the headers table.
    pub(crate) fn to_amqp(&self, headers: &Headers) -> Result<BasicProperties, AmqpError> {
        let mut p = BasicProperties::default();
        let s = |what, v: &Option<String>| v.as_deref().map(|v| short(what, v)).transpose();
        if let Some(v) = s("content_type", &self.content_type)? {
            p = p.with_content_type(v);
        }
        if let Some(v) = s("content_encoding", &self.content_encoding)? {
            p = p.with_content_encoding(v);
        }
        if let Some(v) = self.delivery_mode {
            p = p.with_delivery_mode(v);
        }
        if let Some(v) = self.priority {
            p = p.with_priority(v);
        }
        if let Some(v) = s("correlation_id", &self.correlation_id)? {
            p = p.with_correlation_id(v);
        }
        if let Some(v) = s("reply_to", &self.reply_to)? {
            p = p.with_reply_to(v);
        }
        if let Some(v) = s("expiration", &self.expiration)? {
            p = p.with_expiration(v);
        }
        if let Some(v) = s("message_id", &self.message_id)? {
            p = p.with_message_id(v);
        }
        if let Some(v) = self.timestamp {
            p = p.with_timestamp(v);
        }
        if let Some(v) = s("type", &self.kind)? {
            p = p.with_type(v);
        }
        if let Some(v) = s("user_id", &self.user_id)? {
            p = p.with_user_id(v);
        }
        if let Some(v) = s("app_id", &self.app_id)? {
            p = p.with_app_id(v);
        }
        if !headers.is_empty() {
            p = p.with_headers(headers_to_table(headers)?);
        }
        Ok(p)
    }

    /// Reads lapin's properties (headers are read by [`headers_from_amqp`]).
    pub(crate) fn from_amqp(p: &BasicProperties) -> Self {
        let s = |v: &Option<ShortString>| v.as_ref().map(|v| v.as_str().to_owned());
        Self {
            content_type: s(p.content_type()),
            content_encoding: s(p.content_encoding()),
            delivery_mode: *p.delivery_mode(),
            priority: *p.priority(),
            correlation_id: s(p.correlation_id()),
            reply_to: s(p.reply_to()),
            expiration: s(p.expiration()),
            message_id: s(p.message_id()),
            timestamp: *p.timestamp(),
            kind: s(p.kind()),
            user_id: s(p.user_id()),
            app_id: s(p.app_id()),
        }
    }
}

/// The headers of lapin's properties as JSON (empty when there are none).
pub(crate) fn headers_from_amqp(p: &BasicProperties) -> Headers {
    p.headers().as_ref().map(table_to_json).unwrap_or_default()
}

/// Converts JSON headers to an AMQP field table.
pub fn headers_to_table(headers: &Headers) -> Result<FieldTable, AmqpError> {
    let mut table = FieldTable::default();
    for (k, v) in headers {
        table.insert(short("header name", k)?, json_to_amqp(v)?);
    }
    Ok(table)
}

/// Converts an AMQP field table to JSON headers.
pub fn table_to_json(table: &FieldTable) -> Headers {
    table
        .inner()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), amqp_to_json(v)))
        .collect()
}

fn json_to_amqp(v: &Value) -> Result<AMQPValue, AmqpError> {
    Ok(match v {
        Value::Null => AMQPValue::Void,
        Value::Bool(b) => AMQPValue::Boolean(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                AMQPValue::LongLongInt(i)
            } else if let Some(u) = n.as_u64() {
                // RabbitMQ has no unsigned 64-bit field type; a decimal string keeps the value.
                AMQPValue::LongString(LongString::from(u.to_string()))
            } else {
                AMQPValue::Double(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => AMQPValue::LongString(LongString::from(s.as_str())),
        Value::Array(items) => AMQPValue::FieldArray(FieldArray::from(
            items
                .iter()
                .map(json_to_amqp)
                .collect::<Result<Vec<_>, _>>()?,
        )),
        Value::Object(map) => AMQPValue::FieldTable(headers_to_table(map)?),
    })
}

fn amqp_to_json(v: &AMQPValue) -> Value {
    match v {
        AMQPValue::Void => Value::Null,
        AMQPValue::Boolean(b) => Value::Bool(*b),
        AMQPValue::ShortShortInt(i) => Value::from(*i),
        AMQPValue::ShortShortUInt(i) => Value::from(*i),
        AMQPValue::ShortInt(i) => Value::from(*i),
        AMQPValue::ShortUInt(i) => Value::from(*i),
        AMQPValue::LongInt(i) => Value::from(*i),
        AMQPValue::LongUInt(i) => Value::from(*i),
        AMQPValue::LongLongInt(i) => Value::from(*i),
        AMQPValue::Timestamp(t) => Value::from(*t),
        AMQPValue::Float(f) => float(f64::from(*f)),
        AMQPValue::Double(f) => float(*f),
        AMQPValue::DecimalValue(d) => float(f64::from(d.value) / 10f64.powi(i32::from(d.scale))),
        AMQPValue::ShortString(s) => Value::String(s.as_str().to_owned()),
        AMQPValue::LongString(s) => {
            Value::String(String::from_utf8_lossy(s.as_bytes()).into_owned())
        }
        AMQPValue::ByteArray(b) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_slice()))
        }
        AMQPValue::FieldArray(a) => Value::Array(a.as_slice().iter().map(amqp_to_json).collect()),
        AMQPValue::FieldTable(t) => Value::Object(table_to_json(t)),
    }
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// The delivery count carried by `headers`, 1 when absent or unreadable.
pub(crate) fn delivery_count(headers: &Headers) -> u32 {
    headers
        .get(DELIVERY_COUNT_HEADER)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::{ByteArray, DecimalValue};
    use serde_json::json;

    #[test]
    fn headers_round_trip() {
        let headers = json!({
            "s": "text", "i": -5, "big": 9_007_199_254_740_993_i64, "f": 1.5, "b": true, "n": null,
            "a": [1, "two", [3.5]], "t": {"nested": {"deep": false}}
        });
        let Value::Object(headers) = headers else {
            panic!("not an object")
        };
        let table = headers_to_table(&headers).expect("convertible");
        assert_eq!(table_to_json(&table), headers);
    }

    #[test]
    fn amqp_only_types_become_json() {
        let mut table = FieldTable::default();
        table.insert(
            "bytes".into(),
            AMQPValue::ByteArray(ByteArray::from(&b"\x00\xff"[..])),
        );
        table.insert(
            "dec".into(),
            AMQPValue::DecimalValue(DecimalValue {
                scale: 2,
                value: 150,
            }),
        );
        table.insert("ts".into(), AMQPValue::Timestamp(1_700_000_000));
        table.insert("u8".into(), AMQPValue::ShortShortUInt(7));
        table.insert(
            "bad".into(),
            AMQPValue::LongString(LongString::from(&b"a\xffb"[..])),
        );
        let json = table_to_json(&table);
        assert_eq!(json["bytes"], "AP8=");
        assert_eq!(json["dec"], 1.5);
        assert_eq!(json["ts"], 1_700_000_000);
        assert_eq!(json["u8"], 7);
        assert_eq!(json["bad"], "a\u{fffd}b");
    }

    #[test]
    fn unsigned_above_i64_is_sent_as_a_string() {
        let mut headers = Headers::new();
        headers.insert("u".into(), json!(u64::MAX));
        let table = headers_to_table(&headers).expect("convertible");
        assert_eq!(table_to_json(&table)["u"], u64::MAX.to_string());
    }

    #[test]
    fn properties_round_trip() {
        let props = Properties {
            content_type: Some("application/json".into()),
            content_encoding: Some("utf-8".into()),
            delivery_mode: Some(2),
            priority: Some(5),
            correlation_id: Some("c1".into()),
            reply_to: Some("replies".into()),
            expiration: Some("60000".into()),
            message_id: Some("m1".into()),
            timestamp: Some(1_700_000_000),
            kind: Some("order".into()),
            user_id: Some("guest".into()),
            app_id: Some("zato".into()),
        };
        let mut headers = Headers::new();
        headers.insert("k".into(), json!("v"));
        let amqp = props.to_amqp(&headers).expect("convertible");
        assert_eq!(Properties::from_amqp(&amqp), props);
        assert_eq!(headers_from_amqp(&amqp), headers);
    }

    #[test]
    fn too_long_names_are_invalid_not_a_panic() {
        let props = Properties {
            message_id: Some("x".repeat(300)),
            ..Properties::default()
        };
        let err = props.to_amqp(&Headers::new()).expect_err("too long");
        assert_eq!(err.kind(), crate::ErrorKind::Invalid);
        let mut headers = Headers::new();
        headers.insert("é".repeat(200), json!(1));
        assert!(headers_to_table(&headers).is_err());
    }

    #[test]
    fn delivery_count_defaults_to_one() {
        let mut headers = Headers::new();
        assert_eq!(delivery_count(&headers), 1);
        headers.insert(DELIVERY_COUNT_HEADER.into(), json!(3));
        assert_eq!(delivery_count(&headers), 3);
        headers.insert(DELIVERY_COUNT_HEADER.into(), json!("junk"));
        assert_eq!(delivery_count(&headers), 1);
    }

    #[test]
    fn slash_is_the_default_exchange() {
        assert_eq!(exchange_name("/"), "");
        assert_eq!(exchange_name("amq.direct"), "amq.direct");
    }
}
