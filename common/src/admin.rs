//! The admin API: upstream's `/zato/admin/invoke` wire format and the one client of it that the
//! CLI, web admin, scheduler, enmasse and the tests all use.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

pub const ADMIN_INVOKE_PATH: &str = "/zato/admin/invoke";
pub const ADMIN_INVOKE_USER: &str = "admin.invoke";
pub const ZATO_OK: &str = "ZATO_OK";
pub const ZATO_ERROR: &str = "ZATO_ERROR";

/// The request body of `POST /zato/admin/invoke`, exactly as upstream's client sends it.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct InvokeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    /// base64 of the UTF-8 payload text.
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub data_format: Option<String>,
    #[serde(default)]
    pub transport: Option<String>,
    #[serde(default, alias = "async")]
    pub is_async: Option<bool>,
    #[serde(default)]
    pub expiration: Option<Value>,
    #[serde(default)]
    pub pid: Option<Value>,
    #[serde(default)]
    pub all_pids: Option<bool>,
    #[serde(default)]
    pub timeout: Option<Value>,
    #[serde(default)]
    pub skip_response_elem: Option<bool>,
    #[serde(default)]
    pub needs_response_time: Option<bool>,
    #[serde(default)]
    pub needs_headers: Option<bool>,
}

impl InvokeRequest {
    /// A request for `name` with `payload` JSON-encoded and base64'd, as `AnyServiceInvoker`.
    pub fn new(name: &str, payload: &Value) -> Self {
        Self::from_json(name, payload.to_string().as_bytes())
    }

    /// As [`InvokeRequest::new`], with the payload already JSON text (a caller with a large
    /// payload serialises it from its own types rather than through a `Value`).
    pub fn from_json(name: &str, payload: &[u8]) -> Self {
        Self {
            name: Some(name.to_string()),
            payload: Some(B64.encode(payload)),
            channel: Some("invoke".into()),
            data_format: Some("json".into()),
            is_async: Some(false),
            expiration: Some(Value::from(15)),
            all_pids: Some(false),
            skip_response_elem: Some(true),
            needs_response_time: Some(true),
            needs_headers: Some(true),
            ..Default::default()
        }
    }
}

/// `zato_env` of every admin reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ZatoEnv {
    pub result: String,
    pub cid: String,
    pub details: String,
}

/// Builds the reply body: `{"response": base64(JSON), "zato_env": {...}}`, or only `zato_env`
/// when the service returned nothing.
pub fn encode_response(cid: &str, data: Option<&Value>) -> Value {
    let env = serde_json::json!({"result": ZATO_OK, "cid": cid, "details": ""});
    match data {
        Some(d) if !d.is_null() => {
            serde_json::json!({"response": B64.encode(d.to_string()), "zato_env": env})
        }
        _ => serde_json::json!({"zato_env": env}),
    }
}

#[derive(Debug, Error)]
pub enum AdminError {
    #[error("cannot reach the server at {url}: {source}")]
    Connect { url: String, source: reqwest::Error },
    #[error("the server answered {status}: {details} (CID {cid})")]
    Status {
        status: u16,
        cid: String,
        details: String,
        body: String,
    },
    #[error("the server's reply is not the admin wire format: {0}")]
    BadReply(String),
}

/// A decoded admin reply.
#[derive(Debug, Clone)]
pub struct AdminResponse<T = Value> {
    pub ok: bool,
    pub cid: String,
    pub details: String,
    /// The service's response, base64-decoded and JSON-parsed, with a single `zato*` key
    /// unwrapped as upstream's client does. Null when the service returned nothing.
    pub data: T,
    pub response_time_ms: Option<f64>,
}

/// A successful reply body split into its envelope and the service's response as JSON text
/// (None when the service returned nothing).
fn decode_envelope(body: &Value) -> Result<(ZatoEnv, Option<Vec<u8>>), AdminError> {
    let obj = body
        .as_object()
        .ok_or_else(|| AdminError::BadReply("not a JSON object".into()))?;
    let env: ZatoEnv = serde_json::from_value(obj.get("zato_env").cloned().unwrap_or(Value::Null))
        .map_err(|e| AdminError::BadReply(format!("zato_env: {e}")))?;
    let Some((_, v)) = obj.iter().find(|(k, _)| *k != "zato_env" && *k != "_meta") else {
        return Ok((env, None));
    };
    let text = v
        .as_str()
        .ok_or_else(|| AdminError::BadReply("response is not a string".into()))?;
    let raw = B64
        .decode(text)
        .map_err(|e| AdminError::BadReply(format!("response is not base64: {e}")))?;
    Ok((env, Some(raw)))
}

fn not_json(e: serde_json::Error) -> AdminError {
    AdminError::BadReply(format!("response is not JSON: {e}"))
}

/// Decodes a successful reply body (upstream `ServiceInvokeResponse`).
pub fn decode_reply(body: &Value) -> Result<(ZatoEnv, Value), AdminError> {
    let (env, raw) = decode_envelope(body)?;
    Ok((env, response_value(raw)?))
}

/// The response's JSON text as a `Value`, a single `zato*` key unwrapped; Null for none.
fn response_value(raw: Option<Vec<u8>>) -> Result<Value, AdminError> {
    match raw {
        Some(raw) => Ok(unwrap_zato_key(
            serde_json::from_slice(&raw).map_err(not_json)?,
        )),
        None => Ok(Value::Null),
    }
}

/// A response of a single `zato*` key is its value, as upstream's client unwraps it.
fn unwrap_zato_key(data: Value) -> Value {
    match data {
        Value::Object(mut inner)
            if inner.len() == 1 && inner.keys().next().is_some_and(|k| k.starts_with("zato")) =>
        {
            let key = inner.keys().next().cloned().unwrap_or_default();
            inner.remove(&key).unwrap_or(Value::Null)
        }
        other => other,
    }
}

/// The one admin-API client.
#[derive(Clone, Debug)]
pub struct AdminClient {
    http: reqwest::Client,
    url: String,
    username: String,
    password: String,
}

impl AdminClient {
    /// `address` is `http://host:port`.
    pub fn new(address: &str, username: &str, password: &str) -> Self {
        Self {
            http: crate::http::local_client(),
            url: format!("{}{ADMIN_INVOKE_PATH}", address.trim_end_matches('/')),
            username: username.to_string(),
            password: password.to_string(),
        }
    }

    /// The same credentials for another server of the cluster, at `address`.
    pub fn at(&self, address: &str) -> Self {
        Self {
            http: self.http.clone(),
            url: format!("{}{ADMIN_INVOKE_PATH}", address.trim_end_matches('/')),
            username: self.username.clone(),
            password: self.password.clone(),
        }
    }

    pub async fn invoke(&self, name: &str, payload: &Value) -> Result<AdminResponse, AdminError> {
        self.send(&InvokeRequest::new(name, payload)).await
    }

    pub async fn send(&self, req: &InvokeRequest) -> Result<AdminResponse, AdminError> {
        self.send_with_headers(req, &[]).await
    }

    /// Invokes `name` with `payload` (JSON text) and reads the response straight into `T`
    /// (from `null` when the service returned nothing), for large answers of known shape: no
    /// `Value` tree, and no `zato*` key unwrapped.
    pub async fn invoke_as<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        payload: &[u8],
    ) -> Result<AdminResponse<T>, AdminError> {
        let (env, raw, response_time_ms) = self
            .exchange(&InvokeRequest::from_json(name, payload), &[])
            .await?;
        let data = serde_json::from_slice(raw.as_deref().unwrap_or(b"null")).map_err(not_json)?;
        Ok(AdminResponse {
            ok: env.result == ZATO_OK,
            cid: env.cid,
            details: env.details,
            data,
            response_time_ms,
        })
    }

    /// As [`AdminClient::send`], with extra HTTP headers (the CLI's `--headers`).
    pub async fn send_with_headers(
        &self,
        req: &InvokeRequest,
        headers: &[(String, String)],
    ) -> Result<AdminResponse, AdminError> {
        let (env, raw, response_time_ms) = self.exchange(req, headers).await?;
        Ok(AdminResponse {
            ok: env.result == ZATO_OK,
            cid: env.cid,
            details: env.details,
            data: response_value(raw)?,
            response_time_ms,
        })
    }

    /// One HTTP exchange: the reply's envelope, its response (JSON text) and the server's
    /// response time; a non-2xx answer is [`AdminError::Status`].
    async fn exchange(
        &self,
        req: &InvokeRequest,
        headers: &[(String, String)],
    ) -> Result<(ZatoEnv, Option<Vec<u8>>, Option<f64>), AdminError> {
        let mut builder = self
            .http
            .post(&self.url)
            .basic_auth(&self.username, Some(&self.password))
            .json(req);
        for (k, v) in headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let resp = builder.send().await.map_err(|source| AdminError::Connect {
            url: self.url.clone(),
            source,
        })?;
        let status = resp.status().as_u16();
        let response_time_ms = resp
            .headers()
            .get("x-zato-response-time")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let text = resp.text().await.map_err(|source| AdminError::Connect {
            url: self.url.clone(),
            source,
        })?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let field = |k: &str| {
                body.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            return Err(AdminError::Status {
                status,
                cid: field("cid"),
                details: if body.is_null() {
                    text.clone()
                } else {
                    field("details")
                },
                body: text,
            });
        }
        let (env, raw) = decode_envelope(&body)?;
        Ok((env, raw, response_time_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_round_trip_unwraps_zato_key() {
        let body = encode_response(
            "abc",
            Some(&serde_json::json!({"zato_ping_response": {"pong": "zato"}})),
        );
        let (env, data) = decode_reply(&body).unwrap();
        assert_eq!(env.result, "ZATO_OK");
        assert_eq!(data, serde_json::json!({"pong": "zato"}));
        let empty = encode_response("abc", None);
        assert_eq!(empty.as_object().unwrap().len(), 1);
        assert_eq!(decode_reply(&empty).unwrap().1, Value::Null);
    }

    #[test]
    fn request_matches_upstream_shape() {
        let r = serde_json::to_value(InvokeRequest::new("zato.ping", &serde_json::json!(null)))
            .unwrap();
        assert_eq!(r["payload"], "bnVsbA==");
        assert_eq!(r["channel"], "invoke");
        assert_eq!(r["is_async"], false);
        assert!(r.get("id").is_none());
    }
}
