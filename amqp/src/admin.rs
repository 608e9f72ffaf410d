//! [`Admin`]: a few queue operations over one connection, for set-up, checks and tests.

use lapin::{
    Channel, Connection,
    options::{BasicGetOptions, QueueDeclareOptions, QueueDeleteOptions, QueuePurgeOptions},
    types::FieldTable,
};

use crate::{
    AmqpError, Definition, Delivery, Headers,
    message::{Properties, delivery_count, headers_from_amqp, headers_to_table, short},
    publisher::close_connection,
};

/// A queue's counters, from a passive declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    /// Messages ready for delivery (not counting unacked ones).
    pub messages: u32,
    /// Consumers subscribed.
    pub consumers: u32,
}

/// Declares, inspects, drains and deletes queues.
///
/// A broker error (e.g. `NOT_FOUND`) closes the channel it happened on; the next call opens a
/// new one, so one failed call does not spoil the others.
pub struct Admin {
    conn: Connection,
    channel: tokio::sync::Mutex<Option<Channel>>,
    addr: String,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Admin {
    /// Connects (bounded by the definition's connect timeout).
    pub async fn connect(def: &Definition) -> Result<Self, AmqpError> {
        Ok(Self {
            conn: def.connect("admin").await?,
            channel: tokio::sync::Mutex::new(None),
            addr: def.addr(),
        })
    }

    async fn channel(&self) -> Result<Channel, AmqpError> {
        let mut slot = self.channel.lock().await;
        if let Some(channel) = slot.as_ref().filter(|c| c.status().connected()) {
            return Ok(channel.clone());
        }
        let channel = self
            .conn
            .create_channel()
            .await
            .map_err(|e| AmqpError::op("opening a channel", &e))?;
        *slot = Some(channel.clone());
        Ok(channel)
    }

    /// Declares a queue (idempotent when it exists with the same settings); `arguments` are
    /// the queue's x-arguments, e.g. `{"x-expires": 60000}`.
    pub async fn declare_queue(
        &self,
        name: &str,
        durable: bool,
        arguments: &Headers,
    ) -> Result<(), AmqpError> {
        let options = QueueDeclareOptions {
            durable,
            ..QueueDeclareOptions::default()
        };
        self.channel()
            .await?
            .queue_declare(
                short("queue name", name)?,
                options,
                headers_to_table(arguments)?,
            )
            .await
            .map(drop)
            .map_err(|e| AmqpError::op(format!("declaring queue `{name}`"), &e))
    }

    /// Ready messages (unacked ones are not counted) and consumers of a queue; an error if it
    /// does not exist.
    pub async fn queue_stats(&self, name: &str) -> Result<QueueStats, AmqpError> {
        let options = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        self.channel()
            .await?
            .queue_declare(short("queue name", name)?, options, FieldTable::default())
            .await
            .map(|q| QueueStats {
                messages: q.message_count(),
                consumers: q.consumer_count(),
            })
            .map_err(|e| AmqpError::op(format!("checking queue `{name}`"), &e))
    }

    /// Ready messages in a queue, see [`Admin::queue_stats`].
    pub async fn message_count(&self, name: &str) -> Result<u32, AmqpError> {
        Ok(self.queue_stats(name).await?.messages)
    }

    /// Takes one message off a queue (acknowledged at once), or `None` when it is empty.
    pub async fn get(&self, name: &str) -> Result<Option<Delivery>, AmqpError> {
        let got = self
            .channel()
            .await?
            .basic_get(short("queue name", name)?, BasicGetOptions { no_ack: true })
            .await
            .map_err(|e| AmqpError::op(format!("getting from queue `{name}`"), &e))?;
        Ok(got.map(|m| {
            let d = m.delivery;
            let headers = headers_from_amqp(&d.properties);
            Delivery {
                delivery_count: delivery_count(&headers),
                body: d.data.into(),
                properties: Properties::from_amqp(&d.properties),
                headers,
                exchange: d.exchange.to_string(),
                routing_key: d.routing_key.to_string(),
                redelivered: d.redelivered,
                delivery_tag: d.delivery_tag,
                consumer_tag: String::new(),
            }
        }))
    }

    /// Removes every ready message from a queue; returns how many.
    pub async fn purge_queue(&self, name: &str) -> Result<u32, AmqpError> {
        self.channel()
            .await?
            .queue_purge(short("queue name", name)?, QueuePurgeOptions::default())
            .await
            .map_err(|e| AmqpError::op(format!("purging queue `{name}`"), &e))
    }

    /// Deletes a queue (a missing queue is not an error); returns how many messages it held.
    pub async fn delete_queue(&self, name: &str) -> Result<u32, AmqpError> {
        self.channel()
            .await?
            .queue_delete(short("queue name", name)?, QueueDeleteOptions::default())
            .await
            .map_err(|e| AmqpError::op(format!("deleting queue `{name}`"), &e))
    }

    /// `host:port` of the broker.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Closes the connection.
    pub async fn close(&self) {
        close_connection(&self.conn).await;
    }
}
