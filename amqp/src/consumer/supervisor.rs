//! The supervisor: owns the connection, sets up the consumers, winds down and reconnects.

use std::{sync::Arc, time::Duration};

use lapin::{
    Connection,
    options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions},
    types::FieldTable,
};
use tokio::{sync::watch, task::JoinSet};
use tracing::{debug, info, warn};

use super::{
    ConsumerConfig, ConsumerState, ConsumerStatus, Handler,
    settle::{Tracker, channel_loop},
};
use crate::{
    AckMode, AmqpError, Definition,
    message::short,
    publisher::{ChannelSlot, close_connection},
};

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Handlers running at once per channel when `prefetch_count` is 0 (unlimited).
const UNLIMITED_PREFETCH_CONCURRENCY: usize = 256;
/// Bound on each broker round trip made while winding down (basic.cancel).
const CANCEL_TIMEOUT: Duration = Duration::from_secs(2);

/// Owns one consumer's connections, one after the other, until told to stop.
pub(super) struct Supervisor {
    pub(super) def: Definition,
    pub(super) cfg: Arc<ConsumerConfig>,
    pub(super) handler: Arc<dyn Handler>,
    pub(super) status: watch::Sender<ConsumerStatus>,
    pub(super) stop: watch::Receiver<bool>,
}

/// Why a connection's session ended.
enum Ended {
    Stopped,
    Failed {
        error: AmqpError,
        /// It had got as far as consuming, so the backoff starts again from the bottom.
        consumed: bool,
    },
}

impl Supervisor {
    pub(super) async fn run(mut self) {
        let mut backoff = MIN_BACKOFF;
        loop {
            match self.session().await {
                Ended::Stopped => break,
                Ended::Failed { error, consumed } => {
                    if consumed {
                        backoff = MIN_BACKOFF;
                    }
                    warn!(
                        queue = %self.cfg.queue, def = %self.def.name, uri = %self.def.uri_masked(),
                        error = %error, retry_in = ?backoff, "AMQP consumer interrupted"
                    );
                    self.status.send_modify(|s| {
                        s.state = ConsumerState::Reconnecting;
                        s.last_error = Some(error.to_string());
                    });
                }
            }
            if *self.stop.borrow() {
                break;
            }
            tokio::select! {
                _ = self.stop.wait_for(|stop| *stop) => break,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        self.status
            .send_modify(|s| s.state = ConsumerState::Stopped);
        info!(queue = %self.cfg.queue, def = %self.def.name, "AMQP consumer stopped");
    }

    /// One connection, from connecting to closing it.
    async fn session(&mut self) -> Ended {
        // Connecting and setting up are bounded by the broker, but a stop must not wait on
        // them; dropping a half-set-up connection closes it.
        let mut stop = self.stop.clone();
        let setup = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return Ended::Stopped,
            setup = self.setup() => setup,
        };
        let (ctx, consumers) = match setup {
            Ok(setup) => setup,
            Err(error) => {
                return Ended::Failed {
                    error,
                    consumed: false,
                };
            }
        };
        let ended = self.consume(&ctx, consumers).await;
        close_connection(&ctx.conn).await;
        ended
    }

    /// Connects, checks the queue, declares the dead-letter queue and starts the consumers.
    async fn setup(&self) -> Result<(Arc<Ctx>, Vec<ChannelConsumer>), AmqpError> {
        let conn = Arc::new(
            self.def
                .connect(&format!("consumer {}", self.cfg.queue))
                .await?,
        );
        let ctx = Arc::new(self.prepare(conn).await?);
        let mut consumers = Vec::with_capacity(self.cfg.pool_size.max(1));
        for i in 0..self.cfg.pool_size.max(1) {
            consumers.push(self.start_channel(&ctx.conn, i).await?);
        }
        Ok((ctx, consumers))
    }

    /// Consumes until stopped or the connection fails, then lets running handlers finish.
    async fn consume(&mut self, ctx: &Arc<Ctx>, consumers: Vec<ChannelConsumer>) -> Ended {
        self.status.send_modify(|s| {
            s.state = ConsumerState::Consuming;
            s.last_error = None;
            s.sessions += 1;
        });
        info!(
            queue = %self.cfg.queue, def = %self.def.name, channels = consumers.len(),
            prefetch = self.cfg.prefetch_count, "AMQP consumer consuming"
        );

        let (wind_down, wound_down) = watch::channel(false);
        let mut loops = JoinSet::new();
        let mut tags = Vec::with_capacity(consumers.len());
        for (channel, consumer, tag) in consumers {
            tags.push((channel, tag.clone()));
            loops.spawn(channel_loop(consumer, tag, ctx.clone(), wound_down.clone()));
        }

        let ended = tokio::select! {
            _ = self.stop.wait_for(|stop| *stop) => Ended::Stopped,
            end = loops.join_next() => Ended::Failed {
                error: match end {
                    Some(Ok(error)) => error,
                    // A channel loop panicked (or there was none): start over all the same.
                    other => AmqpError::Disconnected {
                        what: format!("consuming queue `{}`", self.cfg.queue),
                        reason: format!("{other:?}"),
                    },
                },
                consumed: true,
            },
        };
        wind_down.send_replace(true);
        if matches!(ended, Ended::Stopped) {
            self.status
                .send_modify(|s| s.state = ConsumerState::Stopping);
            // So that the broker sends nothing more; what it already sent and we did not take
            // is unacked and goes back to the queue when the connection closes.
            for (channel, tag) in &tags {
                let Ok(tag) = short("consumer tag", tag) else {
                    continue;
                };
                let cancel = channel.basic_cancel(tag.clone(), BasicCancelOptions::default());
                if let Ok(Err(e)) = tokio::time::timeout(CANCEL_TIMEOUT, cancel).await {
                    debug!(error = %e, tag = %tag, "cancelling an AMQP consumer");
                }
            }
        }
        while loops.join_next().await.is_some() {}
        // Running handlers settle before the connection closes (or are given up on, in which
        // case the broker redelivers their messages).
        if tokio::time::timeout(self.cfg.stop_timeout, ctx.in_flight.idle())
            .await
            .is_err()
        {
            warn!(
                queue = %self.cfg.queue, running = ctx.in_flight.count(),
                "AMQP handlers still running after the stop timeout; their messages will be redelivered"
            );
        }
        ended
    }

    /// Checks the queue, declares the dead-letter queue and opens the republishing channel.
    async fn prepare(&self, conn: Arc<Connection>) -> Result<Ctx, AmqpError> {
        let cfg = &self.cfg;
        let queue = short("queue name", &cfg.queue)?;
        let dlq_name = cfg.dead_letter_queue_name();
        let dlq = short("dead-letter queue name", &dlq_name)?;
        let channel = conn
            .create_channel()
            .await
            .map_err(|e| AmqpError::op("opening a channel", &e))?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        if let Err(e) = channel
            .queue_declare(queue, passive, FieldTable::default())
            .await
        {
            let not_found =
                matches!(e.kind(), lapin::ErrorKind::ProtocolError(amqp) if amqp.get_id() == 404);
            return Err(if not_found {
                AmqpError::Broker {
                    what: format!(
                        "queue `{}` does not exist in vhost `{}`; declare it in RabbitMQ or fix the queue name",
                        cfg.queue, self.def.vhost
                    ),
                    reason: e.to_string(),
                }
            } else {
                AmqpError::op(format!("checking queue `{}`", cfg.queue), &e)
            });
        }
        channel
            .queue_declare(dlq, QueueDeclareOptions::durable(), FieldTable::default())
            .await
            .map_err(|e| AmqpError::op(format!("declaring dead-letter queue `{dlq_name}`"), &e))?;
        if let Err(e) = channel.close(200, "OK".into()).await {
            debug!(error = %e, "closing the setup channel");
        }
        let concurrency = match cfg.prefetch_count {
            0 => UNLIMITED_PREFETCH_CONCURRENCY,
            n => usize::from(n),
        };
        // Opened now so that a broken connection shows at start rather than on a failure.
        let republisher = ChannelSlot::default();
        republisher.get(&conn).await?;
        Ok(Ctx {
            conn,
            republisher,
            handler: self.handler.clone(),
            queue: cfg.queue.clone(),
            dead_letter_queue: dlq_name,
            ack_mode: cfg.ack_mode,
            max_deliveries: cfg.max_deliveries.max(1),
            in_flight: Tracker::default(),
            concurrency,
        })
    }

    async fn start_channel(
        &self,
        conn: &Connection,
        i: usize,
    ) -> Result<ChannelConsumer, AmqpError> {
        let cfg = &self.cfg;
        let prefix = match cfg.consumer_tag_prefix.as_str() {
            "" => "zato",
            p => p,
        };
        let tag = format!("{prefix}.{i}");
        let channel = conn
            .create_channel()
            .await
            .map_err(|e| AmqpError::op("opening a channel", &e))?;
        channel
            .basic_qos(cfg.prefetch_count, BasicQosOptions::default())
            .await
            .map_err(|e| AmqpError::op("setting the prefetch count", &e))?;
        let consumer = channel
            .basic_consume(
                short("queue name", &cfg.queue)?,
                short("consumer tag", &tag)?,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| AmqpError::op(format!("consuming queue `{}`", cfg.queue), &e))?;
        Ok((channel, consumer, tag.into()))
    }
}

/// A consumer channel, its consumer and its tag.
type ChannelConsumer = (lapin::Channel, lapin::Consumer, Arc<str>);

/// What every message of one connection needs.
pub(super) struct Ctx {
    pub(super) conn: Arc<Connection>,
    pub(super) republisher: ChannelSlot,
    pub(super) handler: Arc<dyn Handler>,
    pub(super) queue: String,
    pub(super) dead_letter_queue: String,
    pub(super) ack_mode: AckMode,
    pub(super) max_deliveries: u32,
    pub(super) in_flight: Tracker,
    pub(super) concurrency: usize,
}
