//! The one client of the agent API (used by `zato lb ...` and the tests): HTTPS with the load
//! balancer's own certificate as the client identity, so it works wherever its directory is
//! readable.
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use serde_json::Value;
use thiserror::Error;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::config::{self, ConfigError, LbConfig};
use crate::tls::{self, TlsError};

#[derive(Debug, Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot reach the load balancer's agent at {addr}: {detail}; is it running?")]
    Connect { addr: String, detail: String },
    /// Something answers on the agent's port but the TLS handshake failed: another program,
    /// or an agent with other certificates.
    #[error("the TLS handshake with the load balancer's agent at {addr} failed: {detail}")]
    Handshake { addr: String, detail: String },
    #[error("the agent answered {status}: {message}")]
    Status {
        status: StatusCode,
        message: String,
        body: Value,
    },
}

pub struct AgentClient {
    addr: SocketAddr,
    tls: TlsConnector,
}

impl AgentClient {
    /// A client for the load balancer in `dir`, with its agent address and certificates.
    pub fn for_dir(dir: &Path) -> Result<Self, AgentError> {
        let cfg = LbConfig::load(dir)?;
        let repo = config::config_dir(dir);
        let client = tls::client_config(
            &repo.join(&cfg.agent.cert),
            &repo.join(&cfg.agent.key),
            &repo.join(&cfg.agent.ca_certs),
        )?;
        Self::new(&cfg.agent.bind, client)
    }

    pub fn new(agent_bind: &str, tls: rustls::ClientConfig) -> Result<Self, AgentError> {
        let addr = config::local_addr(agent_bind).ok_or_else(|| AgentError::Connect {
            addr: agent_bind.into(),
            detail: "not an ip:port address".into(),
        })?;
        Ok(Self {
            addr,
            tls: TlsConnector::from(Arc::new(tls)),
        })
    }

    /// One call; the JSON answer on 2xx, `AgentError::Status` otherwise.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, AgentError> {
        let conn_err = |detail: String| AgentError::Connect {
            addr: self.addr.to_string(),
            detail,
        };
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|e| conn_err(e.to_string()))?;
        // Certificates name localhost and 127.0.0.1 (see zato-ca).
        let name = ServerName::try_from("localhost").map_err(|e| conn_err(e.to_string()))?;
        let stream = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| AgentError::Handshake {
                addr: self.addr.to_string(),
                detail: e.to_string(),
            })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| conn_err(e.to_string()))?;
        tokio::spawn(conn);
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, "localhost")
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(bytes))
            .map_err(|e| conn_err(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| conn_err(e.to_string()))?;
        let status = resp.status();
        let raw = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| conn_err(e.to_string()))?
            .to_bytes();
        let value: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        if status.is_success() {
            Ok(value)
        } else {
            let mut message = value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no details")
                .to_string();
            if let Some(errors) = value.get("errors").and_then(Value::as_array) {
                let list: Vec<String> = errors
                    .iter()
                    .filter_map(|e| e.as_str().map(String::from))
                    .collect();
                message = format!("{message}: {}", list.join("; "));
            }
            Err(AgentError::Status {
                status,
                message,
                body: value,
            })
        }
    }
}
