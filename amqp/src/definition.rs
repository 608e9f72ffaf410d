//! [`Definition`]: where the broker is and how to log in, and the one place that connects.

use std::{fmt, time::Duration};

use lapin::{
    Connection, ConnectionProperties,
    uri::{AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo},
};

use crate::AmqpError;

/// An AMQP connection definition, as Zato stores it.
///
/// `host` may start with `amqps://` to ask for TLS (as upstream Zato does); `amqp://` is
/// accepted and ignored.
#[derive(Clone, PartialEq, Eq)]
pub struct Definition {
    /// The definition's name; shown as the connection name in RabbitMQ and in logs.
    pub name: String,
    /// Host name or address, optionally prefixed with `amqps://` for TLS.
    pub host: String,
    /// TCP port, 5672 for plain AMQP and usually 5671 for TLS.
    pub port: u16,
    /// Virtual host, `/` by default.
    pub vhost: String,
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Largest frame the client proposes; 0 lets the broker choose.
    pub frame_max: u32,
    /// Heartbeat interval in seconds proposed to the broker; 0 disables heartbeats.
    pub heartbeat: u16,
    /// Upper bound on TCP connect, TLS and the AMQP handshake together.
    pub connect_timeout: Duration,
}

impl Default for Definition {
    /// A local RabbitMQ with its stock guest account and Zato's default frame size and heartbeat.
    fn default() -> Self {
        Self {
            name: String::new(),
            host: "127.0.0.1".into(),
            port: 5672,
            vhost: "/".into(),
            username: "guest".into(),
            password: "guest".into(),
            frame_max: 131_072,
            heartbeat: 30,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

// Hand-written so that the password never reaches a log line.
impl fmt::Debug for Definition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Definition")
            .field("name", &self.name)
            .field("uri", &self.uri_masked())
            .field("frame_max", &self.frame_max)
            .field("heartbeat", &self.heartbeat)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl Definition {
    /// True when `host` asks for TLS (`amqps://...`).
    pub fn is_tls(&self) -> bool {
        self.host.starts_with("amqps://")
    }

    /// The host without any `amqp://` or `amqps://` prefix.
    pub fn bare_host(&self) -> &str {
        let host = self.host.as_str();
        host.strip_prefix("amqps://")
            .or_else(|| host.strip_prefix("amqp://"))
            .unwrap_or(host)
            .trim_end_matches('/')
    }

    /// `host:port`, for messages.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.bare_host(), self.port)
    }

    /// The AMQP URI, `amqp[s]://user:pass@host:port/vhost`, with the user, password and vhost
    /// percent-encoded (vhost `/` is `%2f`).
    pub fn uri(&self) -> String {
        self.uri_with_password(&encode(&self.password))
    }

    /// [`Definition::uri`] with the password replaced by `******`, for logs.
    pub fn uri_masked(&self) -> String {
        self.uri_with_password("******")
    }

    fn uri_with_password(&self, password: &str) -> String {
        format!(
            "{}://{}:{}@{}:{}/{}",
            if self.is_tls() { "amqps" } else { "amqp" },
            encode(&self.username),
            password,
            self.bare_host(),
            self.port,
            encode(&self.vhost)
        )
    }

    // Built field by field rather than parsed from `uri()`, so nothing is lost to escaping.
    fn amqp_uri(&self) -> AMQPUri {
        AMQPUri {
            scheme: if self.is_tls() {
                AMQPScheme::AMQPS
            } else {
                AMQPScheme::AMQP
            },
            authority: AMQPAuthority {
                userinfo: AMQPUserInfo {
                    username: self.username.clone(),
                    password: self.password.clone(),
                },
                host: self.bare_host().to_owned(),
                port: self.port,
            },
            vhost: self.vhost.clone(),
            query: AMQPQueryString {
                frame_max: (self.frame_max > 0).then_some(self.frame_max),
                heartbeat: Some(self.heartbeat),
                connection_timeout: u64::try_from(self.connect_timeout.as_millis()).ok(),
                ..AMQPQueryString::default()
            },
        }
    }

    /// Opens a connection, bounded by `connect_timeout`; `role` ends up in the connection name
    /// that RabbitMQ shows (e.g. "zato publisher my-def").
    pub(crate) async fn connect(&self, role: &str) -> Result<Connection, AmqpError> {
        let name = if self.name.is_empty() {
            format!("zato {role}")
        } else {
            format!("zato {role} {}", self.name)
        };
        let props = ConnectionProperties::default().with_connection_name(name.into());
        let fut = Connection::connect_uri(self.amqp_uri(), props);
        match tokio::time::timeout(self.connect_timeout, fut).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(err)) => Err(AmqpError::connect(
                &self.addr(),
                &self.username,
                &self.vhost,
                self.is_tls(),
                &err,
            )),
            Err(_) => Err(AmqpError::Timeout {
                addr: self.addr(),
                after: self.connect_timeout,
            }),
        }
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, in lowercase hex as
/// RabbitMQ's documentation writes `%2f`.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encodes_user_password_and_vhost() {
        let def = Definition {
            username: "us er".into(),
            password: "p@ss/:".into(),
            ..Definition::default()
        };
        assert_eq!(def.uri(), "amqp://us%20er:p%40ss%2f%3a@127.0.0.1:5672/%2f");
        assert_eq!(def.uri_masked(), "amqp://us%20er:******@127.0.0.1:5672/%2f");
        assert!(!format!("{def:?}").contains("p@ss"));
    }

    #[test]
    fn amqps_prefix_selects_tls() {
        let def = Definition {
            host: "amqps://broker.example.com".into(),
            port: 5671,
            vhost: "prod".into(),
            ..Definition::default()
        };
        assert!(def.is_tls());
        assert_eq!(def.bare_host(), "broker.example.com");
        assert_eq!(
            def.uri(),
            "amqps://guest:guest@broker.example.com:5671/prod"
        );
        assert_eq!(def.amqp_uri().scheme, AMQPScheme::AMQPS);
        assert_eq!(def.amqp_uri().authority.host, "broker.example.com");
    }
}
