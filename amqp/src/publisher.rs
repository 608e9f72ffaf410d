//! [`Publisher`]: one lazily opened connection and a small pool of channels in confirm mode.
//!
//! Publishes are pipelined: a publish holds no lock while it waits for its confirm, so many
//! concurrent publishes share each channel, and the broker's confirms come back in batches.
//! The only lock held across an `.await` is the one that serialises *reconnecting*.

use std::{
    future::Future,
    pin::pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    task::Poll,
    time::Duration,
};

use lapin::{
    BasicProperties, Channel, Confirmation, Connection, PublisherConfirm,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::ShortString,
};
use tracing::{debug, warn};

use crate::{
    AmqpError, Definition, Message,
    message::{exchange_name, short},
};

/// How long [`Publisher::close`] waits for outstanding confirms and for the broker's close-ok.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// A channel in confirm mode whose publishes can be sent concurrently from many tasks.
pub(crate) struct ConfirmChannel {
    channel: Channel,
    // lapin numbers a publish for its confirm and queues its frames in two steps; two tasks
    // interleaving there would get each other's confirm (and returned message). Both steps
    // happen in the first poll of `basic_publish`, so that poll alone runs under this lock.
    send_lock: Mutex<()>,
}

impl ConfirmChannel {
    pub(crate) async fn open(conn: &Connection) -> Result<Self, AmqpError> {
        let channel = conn
            .create_channel()
            .await
            .map_err(|e| AmqpError::op("opening a channel", &e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| AmqpError::op("enabling publisher confirms", &e))?;
        Ok(Self {
            channel,
            send_lock: Mutex::new(()),
        })
    }

    pub(crate) fn is_open(&self) -> bool {
        self.channel.status().connected()
    }

    /// Sends one message; the returned future resolves with the broker's confirm.
    pub(crate) async fn send(
        &self,
        exchange: ShortString,
        routing_key: ShortString,
        mandatory: bool,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<PublisherConfirm, lapin::Error> {
        let options = BasicPublishOptions {
            mandatory,
            immediate: false,
        };
        let mut fut =
            pin!(
                self.channel
                    .basic_publish(exchange, routing_key, options, body, properties)
            );
        let first = std::future::poll_fn(|cx| {
            let _guard = self
                .send_lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Poll::Ready(fut.as_mut().poll(cx))
        })
        .await;
        match first {
            Poll::Ready(res) => res,
            Poll::Pending => fut.await,
        }
    }

    /// Sends one message and waits for its confirm.
    pub(crate) async fn publish_confirmed(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), AmqpError> {
        let confirm = self
            .send(
                short("exchange", exchange)?,
                short("routing key", routing_key)?,
                true,
                body,
                properties,
            )
            .await
            .map_err(|e| AmqpError::op(publish_what(exchange, routing_key), &e))?;
        settle(confirm, exchange, routing_key).await
    }

    async fn close(&self) {
        let grace = tokio::time::timeout(CLOSE_GRACE, self.channel.wait_for_confirms());
        if grace.await.is_err() {
            warn!("gave up waiting for publisher confirms on close");
        }
    }
}

fn publish_what(exchange: &str, routing_key: &str) -> String {
    format!("publishing to exchange `{exchange}` with routing key `{routing_key}`")
}

/// Turns a confirm into `Ok` only for an ack of a message that was not returned.
pub(crate) async fn settle(
    confirm: PublisherConfirm,
    exchange: &str,
    routing_key: &str,
) -> Result<(), AmqpError> {
    match confirm.await {
        Ok(Confirmation::Ack(None) | Confirmation::NotRequested) => Ok(()),
        Ok(Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned))) => {
            Err(AmqpError::Returned {
                exchange: exchange.to_owned(),
                routing_key: routing_key.to_owned(),
                reply_code: returned.reply_code,
                reply_text: returned.reply_text.to_string(),
            })
        }
        Ok(Confirmation::Nack(None)) => Err(AmqpError::Nack {
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
        }),
        Err(e) => Err(AmqpError::op(publish_what(exchange, routing_key), &e)),
    }
}

/// Publishes messages over one connection and up to `pool_size` confirm-mode channels.
///
/// Cheap to clone (all clones share the connection). Connects on the first publish, and again
/// on the first publish after the connection was lost; a failed connect is an error returned
/// within the definition's connect timeout, never a hang. Must be used within a tokio runtime.
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

struct Inner {
    def: Definition,
    link: Mutex<Option<Arc<Link>>>,
    // Serialises connecting. It also remembers the last failure so that publishes queued behind
    // a failed attempt share its error instead of each waiting for a full connect timeout.
    connecting: tokio::sync::Mutex<Option<AmqpError>>,
    attempts: AtomicU64,
    pool_size: usize,
    next: AtomicUsize,
    closed: AtomicBool,
}

struct Link {
    conn: Connection,
    slots: Vec<ChannelSlot>,
}

/// One confirm channel, opened on first use and again after it closed.
#[derive(Default)]
pub(crate) struct ChannelSlot {
    channel: Mutex<Option<Arc<ConfirmChannel>>>,
    opening: tokio::sync::Mutex<()>,
}

impl ChannelSlot {
    fn open_channel(&self) -> Option<Arc<ConfirmChannel>> {
        let guard = self.channel.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().filter(|c| c.is_open()).cloned()
    }

    /// The slot's channel, opening a new one on `conn` if there is none or it was closed
    /// (e.g. by the broker after a `NOT_FOUND`).
    pub(crate) async fn get(&self, conn: &Connection) -> Result<Arc<ConfirmChannel>, AmqpError> {
        if let Some(channel) = self.open_channel() {
            return Ok(channel);
        }
        let _opening = self.opening.lock().await;
        if let Some(channel) = self.open_channel() {
            return Ok(channel);
        }
        let channel = Arc::new(ConfirmChannel::open(conn).await?);
        *self.channel.lock().unwrap_or_else(PoisonError::into_inner) = Some(channel.clone());
        Ok(channel)
    }
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("def", &self.inner.def)
            .field("pool_size", &self.inner.pool_size)
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl Publisher {
    /// A publisher for `def` with up to `pool_size` channels (at least 1); connects lazily.
    pub fn new(def: Definition, pool_size: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                def,
                link: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(None),
                attempts: AtomicU64::new(0),
                pool_size: pool_size.max(1),
                next: AtomicUsize::new(0),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// The definition this publisher connects with.
    pub fn definition(&self) -> &Definition {
        &self.inner.def
    }

    /// True while the connection is open.
    pub fn is_connected(&self) -> bool {
        self.inner.current_link().is_some()
    }

    /// Connects now instead of on the first publish (e.g. to check a definition).
    pub async fn connect(&self) -> Result<(), AmqpError> {
        self.inner.link().await.map(drop)
    }

    /// Publishes `msg`. With `wait_for_confirm` this returns once the broker confirmed the
    /// message; a nack or (for a mandatory message) a return is an error. Without, it returns
    /// once the message was handed to the connection, and a later nack or return is only logged.
    pub async fn publish(&self, msg: Message, wait_for_confirm: bool) -> Result<(), AmqpError> {
        let inner = &self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(AmqpError::Closed("publisher"));
        }
        let exchange = exchange_name(&msg.exchange);
        let ex = short("exchange", exchange)?;
        let rk = short("routing key", &msg.routing_key)?;
        let props = msg.properties.to_amqp(&msg.headers)?;

        let link = inner.link().await?;
        let channel = inner.channel(&link).await.map_err(|e| inner.if_closed(e))?;
        let confirm = channel
            .send(ex, rk, msg.mandatory, &msg.body, props)
            .await
            .map_err(|e| {
                inner.if_closed(AmqpError::op(publish_what(exchange, &msg.routing_key), &e))
            })?;

        if wait_for_confirm {
            settle(confirm, exchange, &msg.routing_key)
                .await
                .map_err(|e| inner.if_closed(e))
        } else {
            // Awaited in the background: lapin keeps dropped confirms until someone waits for
            // them, which would grow without bound on a long-lived publisher.
            let (exchange, routing_key) = (exchange.to_owned(), msg.routing_key);
            tokio::spawn(async move {
                if let Err(e) = settle(confirm, &exchange, &routing_key).await {
                    warn!(error = %e, "unconfirmed AMQP publish failed");
                }
            });
            Ok(())
        }
    }

    /// Waits (a few seconds at most) for outstanding confirms, then closes the connection.
    /// Later publishes fail with [`crate::ErrorKind::Closed`].
    pub async fn close(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::Release);
        // Lets an in-flight connect finish first, so it cannot leave a connection behind.
        let _connecting = inner.connecting.lock().await;
        let link = inner
            .link
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(link) = link {
            for slot in &link.slots {
                if let Some(channel) = slot.open_channel() {
                    channel.close().await;
                }
            }
            close_connection(&link.conn).await;
        }
    }
}

pub(crate) async fn close_connection(conn: &Connection) {
    if !conn.status().connected() {
        return;
    }
    match tokio::time::timeout(CLOSE_GRACE, conn.close(200, "OK".into())).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => debug!(error = %e, "closing an AMQP connection"),
        Err(_) => warn!("the broker did not acknowledge closing the connection in time"),
    }
}

impl Inner {
    fn current_link(&self) -> Option<Arc<Link>> {
        let guard = self.link.lock().unwrap_or_else(PoisonError::into_inner);
        guard
            .as_ref()
            .filter(|l| l.conn.status().connected())
            .cloned()
    }

    fn if_closed(&self, err: AmqpError) -> AmqpError {
        if self.closed.load(Ordering::Acquire) {
            AmqpError::Closed("publisher")
        } else {
            err
        }
    }

    async fn link(&self) -> Result<Arc<Link>, AmqpError> {
        if let Some(link) = self.current_link() {
            return Ok(link);
        }
        let seen = self.attempts.load(Ordering::Acquire);
        let mut last_error = self.connecting.lock().await;
        if self.closed.load(Ordering::Acquire) {
            return Err(AmqpError::Closed("publisher"));
        }
        if let Some(link) = self.current_link() {
            return Ok(link);
        }
        if self.attempts.load(Ordering::Acquire) != seen
            && let Some(err) = last_error.as_ref()
        {
            return Err(err.clone());
        }
        self.attempts.fetch_add(1, Ordering::AcqRel);
        let conn = match self.def.connect("publisher").await {
            Ok(conn) => conn,
            Err(err) => {
                warn!(def = %self.def.name, uri = %self.def.uri_masked(), error = %err, "AMQP publisher cannot connect");
                *last_error = Some(err.clone());
                return Err(err);
            }
        };
        *last_error = None;
        debug!(def = %self.def.name, uri = %self.def.uri_masked(), "AMQP publisher connected");
        let link = Arc::new(Link {
            conn,
            slots: (0..self.pool_size)
                .map(|_| ChannelSlot::default())
                .collect(),
        });
        *self.link.lock().unwrap_or_else(PoisonError::into_inner) = Some(link.clone());
        Ok(link)
    }

    async fn channel(&self, link: &Link) -> Result<Arc<ConfirmChannel>, AmqpError> {
        let slot = &link.slots[self.next.fetch_add(1, Ordering::Relaxed) % link.slots.len()];
        slot.get(&link.conn).await
    }
}
