//! An admin invoke request (upstream's wire format: base64 payload, name or id, sync or async,
//! JSON, XML or SOAP) run as a call. Shared by `POST /zato/admin/invoke` and the
//! `zato.service.invoke` built-in.
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};
use zato_common::admin::InvokeRequest;

use super::invoke;
use crate::core::{Call, ErrorKind, ServiceError};
use crate::proto::codec;
use crate::state::ServerState;

/// Turns the decoded `payload` text into the service's input. Upstream: text without braces
/// is tried as `key=value` lines (the scheduler's "extra" format); a JSON string holding JSON
/// (what the CLI sends for `--payload '{..}'`) is unpacked.
pub fn parse_payload(text: &str) -> Result<Value, ServiceError> {
    codec::refuse_reserved_key(text.as_bytes())?;
    let t = text.trim();
    if t.is_empty() {
        return Ok(Value::Null);
    }
    let parsed: Result<Value, _> = serde_json::from_str(t);
    match parsed {
        Ok(Value::String(inner)) => {
            let i = inner.trim();
            if (i.starts_with('{') || i.starts_with('['))
                && let Ok(v) = serde_json::from_str::<Value>(i)
            {
                return Ok(v);
            }
            Ok(Value::String(inner))
        }
        Ok(v) => Ok(v),
        Err(e) if t.contains('{') || t.contains('}') => Err(ServiceError::bad_request(format!(
            "Invalid JSON in `payload`: {e}"
        ))),
        Err(_) => {
            let mut map = Map::new();
            for line in t.lines().map(str::trim).filter(|l| !l.is_empty()) {
                match line.split_once('=') {
                    Some((k, v)) => {
                        map.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
                    }
                    None => return Ok(Value::String(text.to_string())),
                }
            }
            Ok(Value::Object(map))
        }
    }
}

async fn resolve_name(state: &ServerState, req: &InvokeRequest) -> Result<String, ServiceError> {
    match (&req.name, &req.id) {
        (Some(_), Some(_)) => Err(ServiceError::bad_request(
            "Give either `name` or `id`, not both",
        )),
        (Some(n), None) if !n.is_empty() => Ok(n.clone()),
        (None, Some(id)) => {
            let id = id
                .as_i64()
                .or_else(|| id.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    ServiceError::bad_request(format!("`id` must be an integer, got {id}"))
                })?;
            state
                .odb
                .service_by_id(state.cluster_id, id)
                .await?
                .map(|s| s.name)
                .ok_or_else(|| {
                    ServiceError::new(ErrorKind::NotFound, format!("No service with id {id}"))
                })
        }
        _ => Err(ServiceError::bad_request("Missing input: name (or id)")),
    }
}

/// The inner part of admin invoke, shared with the `zato.service.invoke` built-in.
pub async fn invoke_from_request(
    state: &Arc<ServerState>,
    cid: &str,
    req: &InvokeRequest,
) -> Result<Value, ServiceError> {
    let name = resolve_name(state, req).await?;
    let text = match req.payload.as_deref() {
        None | Some("") => String::new(),
        Some(p) => {
            let raw = B64.decode(p.trim()).map_err(|e| {
                ServiceError::bad_request(format!("Invalid base64 in `payload`: {e}"))
            })?;
            String::from_utf8(raw)
                .map_err(|_| ServiceError::bad_request("`payload` does not decode to UTF-8 text"))?
        }
    };
    let payload = parse_payload(&text)?;
    let channel = req.channel.clone().unwrap_or_else(|| "invoke".into());
    if req.is_async.unwrap_or(false) {
        if !state.service_exists(&name) {
            return Err(ServiceError::not_found(&name));
        }
        let expiration = match &req.expiration {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let call = super::deferred::AsyncCall {
            service: name,
            payload,
            channel: "invoke-async".into(),
            callback: Vec::new(),
            in_reply_to: None,
            expiration,
            cid: None,
            pattern: None,
        };
        return super::deferred::submit(state, call)
            .await
            .map(Value::String);
    }
    // XML and SOAP are decoded (and answered) exactly as an XML or SOAP channel would.
    let xml_format = match (req.transport.as_deref(), req.data_format.as_deref()) {
        (Some("soap"), _) => Some("soap"),
        (_, Some("xml")) => Some("xml"),
        _ => None,
    };
    let (payload, raw, soap) = match (xml_format, &payload) {
        (Some(format), Value::String(doc)) => {
            let d = codec::decode(format, doc.as_bytes())?;
            (d.payload, d.raw, d.soap)
        }
        _ => (payload, text, None),
    };
    let mut call = Call::internal(&name, cid, payload, &channel);
    call.raw_request = raw;
    call.data_format = match xml_format {
        Some(f) => f.to_string(),
        None => req.data_format.clone().unwrap_or_else(|| "json".into()),
    };
    let out = invoke(state, call).await?;
    match xml_format {
        Some(format) => {
            let (_, bytes) = codec::encode_body(format, soap, out.body);
            Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }
        None => Ok(out.body.to_value()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_forms() {
        assert_eq!(parse_payload("").unwrap(), Value::Null);
        assert_eq!(parse_payload("null").unwrap(), Value::Null);
        assert_eq!(parse_payload("{\"a\": 1}").unwrap(), json!({"a": 1}));
        assert_eq!(parse_payload("\"{\\\"a\\\":1}\"").unwrap(), json!({"a": 1}));
        assert_eq!(
            parse_payload("a=1\nb = x").unwrap(),
            json!({"a": "1", "b": "x"})
        );
        assert_eq!(parse_payload("hello").unwrap(), json!("hello"));
        assert_eq!(
            parse_payload("{\"a\":").unwrap_err().kind,
            ErrorKind::BadInput
        );
    }
}
