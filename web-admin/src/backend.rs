//! What the web admin talks to: the cluster's admin API through the load balancer (the one
//! admin client in `zato_common::admin`) and, for the load balancer's own page, its agent.
use hyper::Method;
use serde_json::{Value, json};
use thiserror::Error;
use zato_common::admin::{AdminClient, AdminError};
use zato_common::config::WebAdminConfig;
use zato_lb::client::{AgentClient, AgentError};

#[derive(Debug, Error)]
pub enum BackendError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// The service ran and refused: its own words.
    #[error("{details}")]
    Refused { details: String, cid: String },
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error(
        "this web admin has no [lb_agent] in web-admin.conf, so it cannot reach the load balancer's agent"
    )]
    NoAgent,
}

impl BackendError {
    /// What a person reads: the service's message, or why it could not be asked.
    pub fn message(&self) -> String {
        match self {
            Self::Admin(AdminError::Status { details, cid, .. }) if !details.is_empty() => {
                if cid.is_empty() {
                    details.clone()
                } else {
                    format!("{details} (CID {cid})")
                }
            }
            Self::Refused { details, cid } => format!("{details} (CID {cid})"),
            other => other.to_string(),
        }
    }
}

/// A reply's data, or the service's refusal as an error.
fn refused_or_data(r: zato_common::admin::AdminResponse) -> Result<Value, BackendError> {
    if r.ok {
        Ok(r.data)
    } else {
        Err(BackendError::Refused {
            details: r.details,
            cid: r.cid,
        })
    }
}

pub struct Backend {
    admin: AdminClient,
    agent: Option<AgentClient>,
}

impl Backend {
    pub fn new(cfg: &WebAdminConfig) -> Result<Self, AgentError> {
        let admin = AdminClient::new(
            &cfg.main.lb_address,
            &cfg.main.admin_invoke_username,
            &cfg.main.admin_invoke_password,
        );
        let agent = match &cfg.lb_agent {
            Some(a) => {
                let tls = zato_lb::tls::client_config(&a.cert, &a.key, &a.ca_certs)?;
                Some(AgentClient::new(&a.bind, tls)?)
            }
            None => None,
        };
        Ok(Self { admin, agent })
    }

    pub fn has_agent(&self) -> bool {
        self.agent.is_some()
    }

    /// Invokes an admin service through the load balancer; its response, Null for none.
    pub async fn call(&self, service: &str, input: Value) -> Result<Value, BackendError> {
        refused_or_data(self.admin.invoke(service, &input).await?)
    }

    /// As [`Backend::call`] for a list service: its rows (none when it answered nothing).
    pub async fn list(&self, service: &str, input: Value) -> Result<Vec<Value>, BackendError> {
        Ok(match self.call(service, input).await? {
            Value::Array(rows) => rows,
            Value::Null => vec![],
            other => vec![other],
        })
    }

    /// The same admin call to one server directly, at `address` (`http://host:port`): what
    /// each server says of itself (deployment, uptime).
    pub async fn call_server(
        &self,
        address: &str,
        service: &str,
        input: Value,
    ) -> Result<Value, BackendError> {
        refused_or_data(self.admin.at(address).invoke(service, &input).await?)
    }

    pub async fn agent(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, BackendError> {
        let agent = self.agent.as_ref().ok_or(BackendError::NoAgent)?;
        Ok(agent.call(method, path, body).await?)
    }

    /// Invokes `service` with `payload` as text in `data_format` (json, xml...), as the
    /// service invoker page does; the response as text.
    pub async fn invoke_text(
        &self,
        service: &str,
        payload: &str,
        data_format: &str,
    ) -> Result<String, BackendError> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let data = self
            .call(
                "zato.service.invoke",
                json!({"name": service, "payload": b64.encode(payload), "data_format": data_format,
                       "channel": "invoke"}),
            )
            .await?;
        let response = data.get("response").and_then(Value::as_str).unwrap_or("");
        let raw = b64
            .decode(response)
            .unwrap_or_else(|_| response.as_bytes().to_vec());
        Ok(String::from_utf8_lossy(&raw).into_owned())
    }
}
