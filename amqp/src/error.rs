//! [`AmqpError`] and its coarse [`ErrorKind`], plus the mapping from lapin's errors.
//!
//! lapin reports everything as one `lapin::Error`; callers (the server, `zato info`, the
//! web-admin's "ping") need to know *what to do*, so each lapin error is sorted here by where
//! it happened (connecting or operating) and what the broker said.

use std::{io, time::Duration};

use lapin::protocol::{AMQPError, AMQPErrorKind, AMQPHardError, AMQPSoftError};

/// What went wrong, coarsely, so callers can react without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The TCP connection was refused or the host is unreachable.
    Refused,
    /// Connecting (TCP, TLS and the AMQP handshake together) took longer than the definition's
    /// connect timeout.
    Timeout,
    /// The TLS handshake failed (amqps:// only).
    Tls,
    /// Bad credentials, an unknown vhost or no permission (AMQP `ACCESS_REFUSED` / `NOT_ALLOWED`).
    Auth,
    /// The broker refused an operation (e.g. `NOT_FOUND` for a missing exchange or queue),
    /// nacked a publish or returned an unroutable mandatory message.
    Protocol,
    /// An established connection was lost (reset, broker restart, forced close, missed
    /// heartbeats); the next call reconnects.
    Disconnected,
    /// The publisher or consumer was stopped.
    Closed,
    /// The input cannot be sent as AMQP (e.g. a name longer than 255 bytes).
    Invalid,
}

/// An error from this crate; [`AmqpError::kind`] sorts it, the message says what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AmqpError {
    /// See [`ErrorKind::Refused`].
    #[error("cannot connect to {addr}: {reason}; is RabbitMQ running at {addr}?")]
    Refused {
        /// `host:port` tried.
        addr: String,
        /// What the OS said.
        reason: String,
    },

    /// See [`ErrorKind::Timeout`].
    #[error(
        "connecting to {addr} did not finish within {after:?}; is RabbitMQ running and reachable at {addr}?"
    )]
    Timeout {
        /// `host:port` tried.
        addr: String,
        /// The connect timeout that ran out.
        after: Duration,
    },

    /// See [`ErrorKind::Tls`].
    #[error(
        "TLS handshake with {addr} failed: {reason}; check that this port speaks TLS and that its certificate is trusted"
    )]
    Tls {
        /// `host:port` tried.
        addr: String,
        /// What the TLS layer said.
        reason: String,
    },

    /// The broker refused the login, see [`ErrorKind::Auth`].
    #[error(
        "{addr} refused the login of user `{username}` ({reason}); check the definition's username and password"
    )]
    Auth {
        /// `host:port` tried.
        addr: String,
        /// The user that was refused.
        username: String,
        /// What the broker said.
        reason: String,
    },

    /// The vhost is unknown or not open to the user, see [`ErrorKind::Auth`].
    #[error("vhost `{vhost}` does not exist or user `{username}` has no access to it ({reason})")]
    Vhost {
        /// The vhost asked for.
        vhost: String,
        /// The user that asked.
        username: String,
        /// What the broker said.
        reason: String,
    },

    /// The user may not do this (AMQP `ACCESS_REFUSED` on a channel), see [`ErrorKind::Auth`].
    #[error("{what}: access refused ({reason}); check the user's permissions in this vhost")]
    Forbidden {
        /// The operation refused.
        what: String,
        /// What the broker said.
        reason: String,
    },

    /// The broker refused an operation, see [`ErrorKind::Protocol`].
    #[error("{what}: {reason}")]
    Broker {
        /// The operation refused.
        what: String,
        /// The broker's reply code and text.
        reason: String,
    },

    /// The broker nacked a published message (it could not take responsibility for it).
    #[error(
        "the broker nacked the message to exchange `{exchange}` with routing key `{routing_key}`; it was not stored"
    )]
    Nack {
        /// The exchange published to.
        exchange: String,
        /// The routing key used.
        routing_key: String,
    },

    /// A mandatory message could not be routed to any queue and came back.
    #[error(
        "the message to exchange `{exchange}` with routing key `{routing_key}` was returned unroutable ({reply_code} {reply_text}); is a queue bound to it?"
    )]
    Returned {
        /// The exchange published to.
        exchange: String,
        /// The routing key used.
        routing_key: String,
        /// The broker's reply code (312 NO_ROUTE).
        reply_code: u16,
        /// The broker's reply text.
        reply_text: String,
    },

    /// See [`ErrorKind::Disconnected`].
    #[error("{what}: the connection to the broker was lost ({reason}); the next call reconnects")]
    Disconnected {
        /// The operation that failed.
        what: String,
        /// How the connection was lost.
        reason: String,
    },

    /// See [`ErrorKind::Closed`].
    #[error("the {0} was stopped")]
    Closed(&'static str),

    /// See [`ErrorKind::Invalid`].
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The input at fault.
        what: String,
        /// Why it cannot be sent.
        reason: String,
    },
}

impl AmqpError {
    /// The coarse kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Refused { .. } => ErrorKind::Refused,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Tls { .. } => ErrorKind::Tls,
            Self::Auth { .. } | Self::Vhost { .. } | Self::Forbidden { .. } => ErrorKind::Auth,
            Self::Broker { .. } | Self::Nack { .. } | Self::Returned { .. } => ErrorKind::Protocol,
            Self::Disconnected { .. } => ErrorKind::Disconnected,
            Self::Closed(_) => ErrorKind::Closed,
            Self::Invalid { .. } => ErrorKind::Invalid,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Sorts an error from an established connection; `what` names the operation.
    pub(crate) fn op(what: impl Into<String>, err: &lapin::Error) -> Self {
        let what = what.into();
        match err.kind() {
            lapin::ErrorKind::ProtocolError(amqp) => from_broker(what, amqp),
            lapin::ErrorKind::IOError(_)
            | lapin::ErrorKind::MissingHeartbeatError
            | lapin::ErrorKind::InvalidChannelState(..)
            | lapin::ErrorKind::InvalidConnectionState(_)
            | lapin::ErrorKind::InvalidChannel(_) => Self::Disconnected {
                what,
                reason: err.to_string(),
            },
            _ => Self::Broker {
                what,
                reason: err.to_string(),
            },
        }
    }

    /// Sorts an error from opening a connection.
    pub(crate) fn connect(
        addr: &str,
        username: &str,
        vhost: &str,
        tls: bool,
        err: &lapin::Error,
    ) -> Self {
        let addr = addr.to_owned();
        match err.kind() {
            lapin::ErrorKind::IOError(io_err) => {
                if is_unreachable(io_err) || !tls {
                    Self::Refused {
                        addr,
                        reason: io_err.to_string(),
                    }
                } else {
                    // With amqps:// anything else on the socket during the handshake is TLS
                    // failing (bad certificate, plain AMQP on the other end, ...).
                    Self::Tls {
                        addr,
                        reason: io_err.to_string(),
                    }
                }
            }
            lapin::ErrorKind::ProtocolError(amqp) => match amqp.kind() {
                AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED) => Self::Auth {
                    addr,
                    username: username.to_owned(),
                    reason: amqp.get_message().to_string(),
                },
                // RabbitMQ answers an unknown or forbidden vhost with NOT_ALLOWED.
                AMQPErrorKind::Hard(AMQPHardError::NOTALLOWED) => Self::Vhost {
                    vhost: vhost.to_owned(),
                    username: username.to_owned(),
                    reason: amqp.get_message().to_string(),
                },
                _ => from_broker(format!("connecting to {addr}"), amqp),
            },
            _ => Self::Broker {
                what: format!("connecting to {addr}"),
                reason: err.to_string(),
            },
        }
    }
}

fn from_broker(what: String, amqp: &AMQPError) -> AmqpError {
    let reason = format!("{} {}", amqp.get_id(), amqp.get_message());
    match amqp.kind() {
        // `rabbitmqctl close_connection`, a broker shutting down: the link is gone, not the request.
        AMQPErrorKind::Hard(AMQPHardError::CONNECTIONFORCED) => {
            AmqpError::Disconnected { what, reason }
        }
        AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED) => AmqpError::Forbidden { what, reason },
        _ => AmqpError::Broker { what, reason },
    }
}

fn is_unreachable(err: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        err.kind(),
        K::ConnectionRefused
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::AddrNotAvailable
            | K::NotFound
            | K::TimedOut
    ) || err.to_string().contains("failed to lookup address")
}
