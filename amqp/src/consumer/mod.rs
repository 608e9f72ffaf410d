//! [`Consumer`]: consumes a queue over `pool_size` channels, calls a [`Handler`] for each
//! message and settles it according to the handler's [`Outcome`].
//!
//! # Settling
//!
//! - [`Outcome::Ack`] acks; [`Outcome::Reject`] rejects without requeueing (the queue's
//!   dead-letter exchange, if any, gets it); [`Outcome::Default`] does what
//!   [`ConsumerConfig::ack_mode`] says.
//! - [`Outcome::Failed`] must neither lose the message nor retry it forever. Classic queues
//!   do not count deliveries and a requeued message goes back to the head of the queue, so
//!   the count is carried in the message itself, in the header `x-zato-delivery-count`
//!   (1 when absent). Below [`ConsumerConfig::max_deliveries`] a copy with the count plus one
//!   is published to the same queue through the default exchange; at the limit the copy goes
//!   to the dead-letter queue (declared durable at start) with `x-zato-error` (the reason) and
//!   `x-zato-queue` (this queue). Either publish waits for the broker's confirm and only then
//!   is the original acked; if the publish fails, the original is nacked with requeue so the
//!   broker keeps it. The copy goes to the back of the queue, so other messages are not held
//!   up by a failing one.
//!
//! Delivery is at least once: a message whose ack was lost with the connection (or whose copy
//! was confirmed but whose ack was not sent) is delivered again.
//!
//! # Reconnecting
//!
//! A supervisor task owns the connection. When it drops (broker restart, `rabbitmqctl
//! close_connection`, missed heartbeats) or cannot be opened (broker down, queue missing), it
//! logs a warning, waits (100 ms doubling to 5 s, back to 100 ms after a connection that got
//! as far as consuming) and starts over. Unacked messages are redelivered by the broker, so
//! nothing is lost.

mod settle;
mod supervisor;

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use tokio::{sync::watch, task::JoinHandle};
use tracing::warn;

use crate::{Definition, Delivery};

/// What to do with a message whose handler returned [`Outcome::Default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckMode {
    /// Acknowledge it.
    #[default]
    Ack,
    /// Reject it without requeueing.
    Reject,
}

/// A handler's verdict on one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// basic.ack.
    Ack,
    /// basic.reject without requeue.
    Reject,
    /// Whatever [`ConsumerConfig::ack_mode`] says.
    Default,
    /// Processing failed: retry later, up to [`ConsumerConfig::max_deliveries`] times, then move
    /// the message to the dead-letter queue (see the module documentation).
    Failed(String),
    /// The message can never be processed (it cannot be read, say): move it to the
    /// dead-letter queue at once, with this reason.
    DeadLetter(String),
}

/// A boxed, sendable future, as returned by [`Handler::handle`].
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Processes deliveries. Calls run concurrently, up to `prefetch_count` per channel.
///
/// Any `Fn(Delivery) -> impl Future<Output = Outcome>` closure is a handler. A handler that
/// panics counts as [`Outcome::Failed`].
pub trait Handler: Send + Sync + 'static {
    /// Processes one delivery.
    fn handle(&self, delivery: Delivery) -> BoxFuture<Outcome>;
}

impl<F, Fut> Handler for F
where
    F: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    fn handle(&self, delivery: Delivery) -> BoxFuture<Outcome> {
        Box::pin(self(delivery))
    }
}

/// How a [`Consumer`] consumes its queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// The queue to consume; it must exist (a missing queue is logged and retried).
    pub queue: String,
    /// Consumer tags are `<prefix>.<channel number>`; empty means `zato`.
    pub consumer_tag_prefix: String,
    /// Number of channels, each with its own basic.consume.
    pub pool_size: usize,
    /// Unacked messages the broker sends each channel at once (0 = unlimited).
    pub prefetch_count: u16,
    /// What [`Outcome::Default`] means.
    pub ack_mode: AckMode,
    /// Handler runs per message before [`Outcome::Failed`] moves it to the dead-letter queue.
    pub max_deliveries: u32,
    /// Where failed messages go; `None` means `<queue>.dead-letter`.
    pub dead_letter_queue: Option<String>,
    /// How long stopping waits for running handlers before closing the connection anyway
    /// (their messages, not acked, are then redelivered).
    pub stop_timeout: Duration,
}

impl ConsumerConfig {
    /// Defaults for `queue`: one channel, prefetch 10, ack mode, 5 deliveries, 10 s stop timeout.
    pub fn new(queue: impl Into<String>) -> Self {
        Self {
            queue: queue.into(),
            consumer_tag_prefix: String::new(),
            pool_size: 1,
            prefetch_count: 10,
            ack_mode: AckMode::Ack,
            max_deliveries: 5,
            dead_letter_queue: None,
            stop_timeout: Duration::from_secs(10),
        }
    }

    /// The dead-letter queue's name.
    pub fn dead_letter_queue_name(&self) -> String {
        self.dead_letter_queue
            .clone()
            .unwrap_or_else(|| format!("{}.dead-letter", self.queue))
    }
}

/// Where a consumer's supervisor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerState {
    /// Opening its first connection.
    Connecting,
    /// Connected, consuming on every channel.
    Consuming,
    /// Waiting before trying again after a failure.
    Reconnecting,
    /// [`Consumer::stop`] was called; running handlers are finishing.
    Stopping,
    /// Stopped; the connection is closed.
    Stopped,
}

/// A snapshot of a consumer, for tests and `zato info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerStatus {
    /// Where the supervisor is.
    pub state: ConsumerState,
    /// The last connection or consumption error, if any.
    pub last_error: Option<String>,
    /// How many times consumption started (1 + reconnects).
    pub sessions: u64,
}

/// A running consumer; see the module documentation. Dropping it stops it in the background.
#[derive(Debug)]
pub struct Consumer {
    status: watch::Receiver<ConsumerStatus>,
    stop_tx: watch::Sender<bool>,
    supervisor: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Consumer {
    /// Spawns the supervisor and returns at once. Must be called within a tokio runtime.
    pub fn start(def: Definition, cfg: ConsumerConfig, handler: Arc<dyn Handler>) -> Self {
        let (status_tx, status) = watch::channel(ConsumerStatus {
            state: ConsumerState::Connecting,
            last_error: None,
            sessions: 0,
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let supervisor = supervisor::Supervisor {
            def,
            cfg: Arc::new(cfg),
            handler,
            status: status_tx,
            stop: stop_rx,
        };
        let handle = tokio::spawn(supervisor.run());
        Self {
            status,
            stop_tx,
            supervisor: tokio::sync::Mutex::new(Some(handle)),
        }
    }

    /// The current status.
    pub fn status(&self) -> ConsumerStatus {
        self.status.borrow().clone()
    }

    /// True while consuming on every channel.
    pub fn is_connected(&self) -> bool {
        self.status.borrow().state == ConsumerState::Consuming
    }

    /// Waits until the consumer is consuming, at most `within`; false if it is not by then.
    pub async fn wait_consuming(&self, within: Duration) -> bool {
        let mut status = self.status.clone();
        let ready = status.wait_for(|s| {
            matches!(
                s.state,
                ConsumerState::Consuming | ConsumerState::Stopping | ConsumerState::Stopped
            )
        });
        matches!(
            tokio::time::timeout(within, ready).await,
            Ok(Ok(s)) if s.state == ConsumerState::Consuming
        )
    }

    /// Tells the consumer to stop (it cancels its subscription as soon as it can) without
    /// waiting for it; [`Consumer::stop`] waits.
    pub fn begin_stop(&self) {
        self.stop_tx.send_replace(true);
    }

    /// Stops consuming: cancels the consumers, lets running handlers finish and settle (up to
    /// [`ConsumerConfig::stop_timeout`]), then closes the connection. Idempotent.
    pub async fn stop(&self) {
        self.stop_tx.send_replace(true);
        let handle = self.supervisor.lock().await.take();
        if let Some(handle) = handle
            && let Err(e) = handle.await
        {
            warn!(error = %e, "AMQP consumer supervisor ended abnormally");
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.stop_tx.send_replace(true);
    }
}
