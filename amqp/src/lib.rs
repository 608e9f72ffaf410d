//! AMQP 0-9-1 (RabbitMQ) for Zato's AMQP channels (consumers) and outgoing connections
//! (publishers).
//!
//! - [`Definition`]: where the broker is; [`Definition::uri`] gives upstream Zato's URI.
//! - [`Publisher`]: confirmed, pipelined publishing over a pool of channels, reconnecting on
//!   the next publish after a failure.
//! - [`Consumer`]: a supervised consumer that calls a [`Handler`] per message, settles it by
//!   its [`Outcome`] (retries and dead-letters failures, see [`consumer`]) and reconnects with
//!   backoff.
//! - [`Admin`]: declare, inspect, drain and delete queues.
//! - [`AmqpError`] with [`ErrorKind`], whose messages say what to check.
//!
//! # Client and runtime
//!
//! Built on [lapin](https://docs.rs/lapin) 4 with its `tokio` feature. lapin picks up the
//! *current* tokio runtime (`Runtime::tokio_current`, through `Handle::current`), so no second
//! runtime is started: lapin spawns its internal tasks on ours, and reads and writes each
//! connection's socket from one dedicated OS thread per connection (lapin's design) that
//! drives tokio's reactor through the same handle. `async-global-executor` was not chosen: it
//! would bring its own executor threads next to tokio's. Consequently every entry point must be
//! called within a tokio runtime.
//!
//! # TLS
//!
//! `amqps://` (a `host` starting with `amqps://`) uses rustls with the ring provider and the
//! platform's trust store (rustls-platform-verifier); OpenSSL and aws-lc are not linked.
//! Client certificates are not supported yet.
//!
//! # Connection timeouts
//!
//! TCP connect, TLS and the AMQP handshake are bounded together by
//! [`Definition::connect_timeout`], so no call waits for a dead broker longer than that.
//! (lapin's own thread for an attempt that timed out may linger until the OS gives up on its
//! socket; it holds no lock of ours.)

#![warn(missing_docs)]

pub mod admin;
pub mod consumer;
pub mod definition;
pub mod error;
pub mod message;
pub mod publisher;

pub use admin::{Admin, QueueStats};
pub use consumer::{
    AckMode, BoxFuture, Consumer, ConsumerConfig, ConsumerState, ConsumerStatus, Handler, Outcome,
};
pub use definition::Definition;
pub use error::{AmqpError, ErrorKind};
pub use message::{
    DELIVERY_COUNT_HEADER, Delivery, ERROR_HEADER, Headers, Message, Properties, QUEUE_HEADER,
};
pub use publisher::Publisher;
