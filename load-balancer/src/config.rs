//! `config/repo/lb.conf` (TOML): the frontend, the backend servers with their weights, health
//! checks, timeouts and the agent's TLS material. Validated as a whole; saved atomically.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}` is not valid: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("invalid load-balancer config: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

pub const FILE: &str = "lb.conf";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Frontend {
    /// Address the proxy listens on.
    pub bind: String,
    /// Client connections served at once; more wait in the accept queue.
    #[serde(default = "d_max_connections")]
    pub max_connections: usize,
    /// Seconds a client may take to send a request's headers.
    #[serde(default = "d_client_timeout")]
    pub client_timeout: f64,
    /// Largest request body, in bytes (bodies are buffered so that requests can be retried).
    #[serde(default = "d_max_body")]
    pub max_body_size: usize,
    /// Proxy threads, each with its own listening socket on the port; 0 = one per CPU.
    #[serde(default)]
    pub threads: usize,
    /// TLS on the frontend; plain HTTP without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<FrontendTls>,
}

/// The frontend's TLS: its certificates (the one whose names match the host a client asks
/// for with SNI, else the first) and whether clients must show a certificate of their own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FrontendTls {
    pub certificates: Vec<CertFiles>,
    /// `none`, `optional` or `required`.
    #[serde(default)]
    pub client_certs: ClientCerts,
    /// CA certificates (PEM) client certificates must be issued by.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_ca: String,
}

/// A certificate chain and its private key (PEM files; relative paths are under config/repo).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CertFiles {
    pub cert: String,
    pub key: String,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientCerts {
    #[default]
    None,
    Optional,
    Required,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    /// Seconds to connect to a server.
    #[serde(default = "d_connect_timeout")]
    pub connect_timeout: f64,
    /// Seconds a server may take to answer.
    #[serde(default = "d_server_timeout")]
    pub server_timeout: f64,
    /// Other servers tried after a connect failure (any request) or a failure after sending
    /// (idempotent requests only).
    #[serde(default = "d_retries")]
    pub retries: u32,
}

impl Backend {
    /// (connect timeout, server timeout).
    pub fn timeouts(&self) -> (std::time::Duration, std::time::Duration) {
        (
            std::time::Duration::from_secs_f64(self.connect_timeout),
            std::time::Duration::from_secs_f64(self.server_timeout),
        )
    }
}

impl Default for Backend {
    fn default() -> Self {
        Self {
            connect_timeout: d_connect_timeout(),
            server_timeout: d_server_timeout(),
            retries: d_retries(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Health {
    #[serde(default = "d_health_path")]
    pub path: String,
    /// Seconds between checks of one server.
    #[serde(default = "d_interval")]
    pub interval: f64,
    #[serde(default = "d_health_timeout")]
    pub timeout: f64,
    /// Successful checks in a row that bring a DOWN server UP.
    #[serde(default = "d_rise")]
    pub rise: u32,
    /// Failed checks in a row that take an UP server DOWN.
    #[serde(default = "d_fall")]
    pub fall: u32,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            path: d_health_path(),
            interval: d_interval(),
            timeout: d_health_timeout(),
            rise: d_rise(),
            fall: d_fall(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub bind: String,
    /// PEM files, relative to the config directory.
    pub cert: String,
    pub key: String,
    /// The CA whose certificates clients must present.
    pub ca_certs: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub name: String,
    /// host:port of the server's HTTP channels.
    pub address: String,
    /// Share of new requests; 0 drains the server (in-flight requests finish).
    #[serde(default = "d_weight")]
    pub weight: u32,
    /// Administratively out of rotation (state MAINT).
    #[serde(default)]
    pub maintenance: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LbConfig {
    pub frontend: Frontend,
    #[serde(default)]
    pub backend: Backend,
    #[serde(default)]
    pub health: Health,
    pub agent: Agent,
    #[serde(default)]
    pub servers: Vec<Server>,
}

fn d_max_connections() -> usize {
    10_000
}
fn d_client_timeout() -> f64 {
    15.0
}
fn d_max_body() -> usize {
    10 * 1024 * 1024
}
fn d_connect_timeout() -> f64 {
    2.0
}
fn d_server_timeout() -> f64 {
    60.0
}
fn d_retries() -> u32 {
    1
}
fn d_health_path() -> String {
    "/zato/ping".into()
}
fn d_interval() -> f64 {
    1.0
}
fn d_health_timeout() -> f64 {
    1.0
}
fn d_rise() -> u32 {
    2
}
fn d_fall() -> u32 {
    2
}
fn d_weight() -> u32 {
    1
}

/// Where a local client reaches a socket bound to `bind`: 0.0.0.0 and :: become loopback.
pub fn local_addr(bind: &str) -> Option<SocketAddr> {
    let mut addr: SocketAddr = bind.parse().ok()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    Some(addr)
}

pub fn config_dir(component_dir: &Path) -> PathBuf {
    component_dir.join("config").join("repo")
}

pub fn config_path(component_dir: &Path) -> PathBuf {
    config_dir(component_dir).join(FILE)
}

fn positive(errors: &mut Vec<String>, what: &str, v: f64) {
    errors.extend(zato_common::config::seconds_problem(what, v));
}

impl LbConfig {
    pub fn load(component_dir: &Path) -> Result<Self, ConfigError> {
        let path = config_path(component_dir);
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let cfg: Self = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Every problem at once, each naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut errors = Vec::new();
        if self.frontend.bind.parse::<SocketAddr>().is_err() {
            errors.push(format!(
                "frontend.bind `{}` is not an ip:port address",
                self.frontend.bind
            ));
        }
        if self.agent.bind.parse::<SocketAddr>().is_err() {
            errors.push(format!(
                "agent.bind `{}` is not an ip:port address",
                self.agent.bind
            ));
        }
        if let Some(t) = &self.frontend.tls {
            if t.certificates.is_empty() {
                errors.push("frontend.tls.certificates must name at least one cert and key".into());
            }
            if t.client_certs != ClientCerts::None && t.client_ca.is_empty() {
                errors.push(
                    "frontend.tls.client_ca must name the CA of client certificates when client_certs is optional or required".into(),
                );
            }
        }
        if self.frontend.max_connections == 0 {
            errors.push("frontend.max_connections must be at least 1".into());
        }
        positive(
            &mut errors,
            "frontend.client_timeout",
            self.frontend.client_timeout,
        );
        positive(
            &mut errors,
            "backend.connect_timeout",
            self.backend.connect_timeout,
        );
        positive(
            &mut errors,
            "backend.server_timeout",
            self.backend.server_timeout,
        );
        positive(&mut errors, "health.interval", self.health.interval);
        positive(&mut errors, "health.timeout", self.health.timeout);
        if self.health.rise == 0 || self.health.fall == 0 {
            errors.push("health.rise and health.fall must be at least 1".into());
        }
        // It goes into a request line as it is: no spaces, no control characters.
        if !self.health.path.starts_with('/')
            || !self.health.path.bytes().all(|b| b.is_ascii_graphic())
        {
            errors.push(format!(
                "health.path {:?} must start with / and hold no spaces or control characters",
                self.health.path
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, s) in self.servers.iter().enumerate() {
            if s.name.is_empty() {
                errors.push(format!("servers[{i}].name must not be empty"));
            } else if !names.insert(s.name.as_str()) {
                errors.push(format!("servers[{i}].name `{}` is used twice", s.name));
            }
            if s.address.parse::<SocketAddr>().is_err() {
                errors.push(format!(
                    "servers[{i}] ({}): address `{}` is not an ip:port address",
                    s.name, s.address
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(errors))
        }
    }

    /// Writes the config next to the old one and renames it into place, so a crash never
    /// leaves half a file.
    pub fn save(&self, component_dir: &Path) -> Result<(), ConfigError> {
        self.validate()?;
        let path = config_path(component_dir);
        let text = toml::to_string_pretty(self).map_err(|e| ConfigError::Parse {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        // 0o666 as fs::write would use: the umask decides, as before.
        zato_common::files::write_atomic(&path, &format!("{HEADER}{text}"), 0o666).map_err(
            |source| ConfigError::Write {
                path: path.clone(),
                source,
            },
        )
    }

    /// A config for a new load balancer (quickstart, `zato create load-balancer`).
    pub fn new(frontend_bind: &str, agent_bind: &str, servers: Vec<Server>) -> Self {
        Self {
            frontend: Frontend {
                bind: frontend_bind.into(),
                max_connections: d_max_connections(),
                client_timeout: d_client_timeout(),
                max_body_size: d_max_body(),
                threads: 0,
                tls: None,
            },
            backend: Backend::default(),
            health: Health::default(),
            agent: Agent {
                bind: agent_bind.into(),
                cert: "zato-lba-cert.pem".into(),
                key: "zato-lba-priv-key.pem".into(),
                ca_certs: "zato-lba-ca-certs.pem".into(),
            },
            servers,
        }
    }
}

const HEADER: &str = "# Zato load balancer (TOML). Changed by the agent API (`zato lb ...`) or by hand;\n\
# a hand edit is applied on the next start.\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_and_saves_round_trip() {
        let mut cfg = LbConfig::new("0.0.0.0:11223", "127.0.0.1:20151", vec![]);
        cfg.servers = vec![
            Server {
                name: "s1".into(),
                address: "127.0.0.1:17010".into(),
                weight: 3,
                maintenance: false,
            },
            Server {
                name: "s1".into(),
                address: "nowhere".into(),
                weight: 1,
                maintenance: false,
            },
        ];
        cfg.health.rise = 0;
        let Err(ConfigError::Invalid(errors)) = cfg.validate() else {
            panic!("invalid config accepted");
        };
        assert_eq!(errors.len(), 3, "{errors:?}");
        cfg.servers.pop();
        cfg.health.rise = 2;
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(config_dir(tmp.path())).unwrap_or_else(|e| panic!("{e}"));
        cfg.save(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(LbConfig::load(tmp.path()).ok(), Some(cfg));
    }
}
