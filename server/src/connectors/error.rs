//! Why a call through an outgoing connection failed, as a kind a caller can act on: a timeout
//! is not a refusal, a bad password is not a broken network.
use std::fmt::Write;

use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnErrorKind {
    /// No active connection of that name (or no `[kvdb]`).
    Missing,
    /// The call's own arguments were wrong (a `{param}` without a value, a bad parameter).
    Input,
    /// The connection's definition cannot be used (bad address, undecryptable secret).
    Config,
    /// The remote end could not be reached.
    Refused,
    Timeout,
    Tls,
    /// The remote end refused the credentials.
    Auth,
    /// The remote end answered with an error or something that could not be read.
    Protocol,
    /// A database refused a statement for its constraints (unique, foreign key, not null,
    /// check): SQLAlchemy's `IntegrityError`.
    Integrity,
    /// The connection is stopping or stopped.
    Closed,
}

impl ConnErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Input => "input",
            Self::Config => "config",
            Self::Refused => "refused",
            Self::Timeout => "timeout",
            Self::Tls => "tls",
            Self::Auth => "auth",
            Self::Protocol => "protocol",
            Self::Integrity => "integrity",
            Self::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, Error)]
#[error("{message}")]
pub struct ConnError {
    pub kind: ConnErrorKind,
    pub message: String,
}

impl ConnError {
    pub fn new(kind: ConnErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn missing(message: impl Into<String>) -> Self {
        Self::new(ConnErrorKind::Missing, message)
    }

    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ConnErrorKind::Input, message)
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ConnErrorKind::Config, message)
    }

    pub fn closed(message: impl Into<String>) -> Self {
        Self::new(ConnErrorKind::Closed, message)
    }

    /// reqwest's error with its causes, which hold the useful part ("connection refused").
    pub fn from_reqwest(e: &reqwest::Error, url: &reqwest::Url) -> Self {
        let text = with_causes(e);
        let kind = if e.is_timeout() {
            ConnErrorKind::Timeout
        } else if looks_like_tls(&text) {
            ConnErrorKind::Tls
        } else if e.is_connect() {
            ConnErrorKind::Refused
        } else {
            ConnErrorKind::Protocol
        };
        let message = if kind == ConnErrorKind::Timeout {
            format!("{url}: timed out")
        } else {
            format!("{url}: {text}")
        };
        Self::new(kind, message)
    }

    pub fn from_sqlx(e: &sqlx::Error) -> Self {
        let text = with_causes(e);
        let kind = match e {
            sqlx::Error::PoolTimedOut => ConnErrorKind::Timeout,
            sqlx::Error::Tls(_) => ConnErrorKind::Tls,
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                ConnErrorKind::Timeout
            }
            sqlx::Error::Io(_) => ConnErrorKind::Refused,
            sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => ConnErrorKind::Closed,
            sqlx::Error::Configuration(_) => ConnErrorKind::Config,
            // 28P01/28000: PostgreSQL's bad password / no such role; 1045 is MySQL's.
            sqlx::Error::Database(d)
                if matches!(d.code().as_deref(), Some("28P01" | "28000" | "1045")) =>
            {
                ConnErrorKind::Auth
            }
            sqlx::Error::Database(d) if !matches!(d.kind(), sqlx::error::ErrorKind::Other) => {
                ConnErrorKind::Integrity
            }
            _ => ConnErrorKind::Protocol,
        };
        Self::new(kind, text)
    }

    pub fn from_redis(e: &redis::RedisError) -> Self {
        let kind = if e.is_timeout() {
            ConnErrorKind::Timeout
        } else if e.kind() == redis::ErrorKind::AuthenticationFailed {
            ConnErrorKind::Auth
        } else if e.is_connection_refusal() || e.is_io_error() || e.is_connection_dropped() {
            ConnErrorKind::Refused
        } else {
            ConnErrorKind::Protocol
        };
        Self::new(kind, e.to_string())
    }
}

fn with_causes(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let s_text = s.to_string();
        // Some errors repeat their cause in their own text.
        if !msg.contains(&s_text) {
            let _ = write!(msg, ": {s_text}");
        }
        src = s.source();
    }
    msg
}

fn looks_like_tls(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["certificate", "tls", "handshake", "ssl"]
        .iter()
        .any(|w| t.contains(w))
}
