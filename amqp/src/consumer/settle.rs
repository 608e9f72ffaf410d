//! Per channel: taking deliveries, running the handler, settling by its outcome.

use std::{
    any::Any,
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use lapin::{
    BasicProperties,
    options::{BasicAckOptions, BasicNackOptions, BasicRejectOptions},
    types::{AMQPValue, LongString},
};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tracing::{debug, warn};

use super::{AckMode, BoxFuture, Outcome, supervisor::Ctx};
use crate::{
    AmqpError, Delivery,
    message::{
        DELIVERY_COUNT_HEADER, ERROR_HEADER, Properties, QUEUE_HEADER, delivery_count,
        headers_from_amqp,
    },
};

/// Longest `x-zato-error` kept: headers must fit in one frame.
const MAX_REASON_LEN: usize = 4096;
/// Pause before requeueing a message whose copy could not be published, so that a lasting
/// broker-side problem does not become a hot redelivery loop.
const REQUEUE_PAUSE: Duration = Duration::from_secs(1);

/// Takes deliveries from one channel until told to wind down or the channel ends; returns why
/// it ended on its own.
pub(super) async fn channel_loop(
    mut consumer: lapin::Consumer,
    tag: Arc<str>,
    ctx: Arc<Ctx>,
    mut wind_down: watch::Receiver<bool>,
) -> AmqpError {
    let permits = Arc::new(Semaphore::new(ctx.concurrency));
    let winding_down = AmqpError::Closed("consumer");
    loop {
        let permit = tokio::select! {
            _ = wind_down.wait_for(|w| *w) => return winding_down,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return winding_down,
            },
        };
        let next = tokio::select! {
            _ = wind_down.wait_for(|w| *w) => return winding_down,
            next = std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut consumer), cx)) => next,
        };
        match next {
            Some(Ok(delivery)) => {
                let guard = ctx.in_flight.enter();
                tokio::spawn(process(delivery, tag.clone(), ctx.clone(), permit, guard));
            }
            Some(Err(e)) => return AmqpError::op("consuming", &e),
            None => {
                return AmqpError::Disconnected {
                    what: format!("consuming queue `{}`", ctx.queue),
                    reason: "the broker cancelled the consumer (was the queue deleted?)".into(),
                };
            }
        }
    }
}

/// Runs the handler on one delivery and settles it.
async fn process(
    d: lapin::message::Delivery,
    tag: Arc<str>,
    ctx: Arc<Ctx>,
    _permit: OwnedSemaphorePermit,
    _guard: TrackGuard,
) {
    let headers = headers_from_amqp(&d.properties);
    let count = delivery_count(&headers);
    let body = Bytes::from(d.data);
    let delivery = Delivery {
        body: body.clone(),
        properties: Properties::from_amqp(&d.properties),
        headers,
        exchange: d.exchange.to_string(),
        routing_key: d.routing_key.to_string(),
        redelivered: d.redelivered,
        delivery_tag: d.delivery_tag,
        consumer_tag: tag.to_string(),
        delivery_count: count,
    };
    let outcome = CatchUnwind(ctx.handler.handle(delivery))
        .await
        .unwrap_or_else(|_| Outcome::Failed("the handler panicked".into()));
    let acker = &d.acker;
    let settled = match outcome {
        Outcome::Ack => acker.ack(BasicAckOptions::default()).await,
        Outcome::Reject => reject(acker).await,
        Outcome::Default => match ctx.ack_mode {
            AckMode::Ack => acker.ack(BasicAckOptions::default()).await,
            AckMode::Reject => reject(acker).await,
        },
        Outcome::Failed(reason) => failed(&ctx, acker, &body, d.properties, count, &reason).await,
        // Trying again cannot help: straight to the dead-letter queue.
        Outcome::DeadLetter(reason) => {
            let count = count.max(ctx.max_deliveries);
            failed(&ctx, acker, &body, d.properties, count, &reason).await
        }
    };
    if let Err(e) = settled {
        // The channel is gone, and with it the broker's record of this delivery: it will be
        // delivered again.
        debug!(queue = %ctx.queue, error = %e, "cannot settle an AMQP delivery; it will be redelivered");
    }
}

/// Republishes a failed message (or dead-letters it, see [`republish`]) and acks the original
/// once that is confirmed; if republishing fails, the original is requeued instead.
async fn failed(
    ctx: &Ctx,
    acker: &lapin::Acker,
    body: &[u8],
    properties: BasicProperties,
    count: u32,
    reason: &str,
) -> lapin::Result<bool> {
    match republish(ctx, body, properties, count, reason).await {
        Ok(()) => acker.ack(BasicAckOptions::default()).await,
        Err(e) => {
            warn!(queue = %ctx.queue, error = %e, "cannot republish a failed AMQP message; requeueing it");
            tokio::time::sleep(REQUEUE_PAUSE).await;
            let requeue = BasicNackOptions {
                multiple: false,
                requeue: true,
            };
            acker.nack(requeue).await
        }
    }
}

async fn reject(acker: &lapin::Acker) -> lapin::Result<bool> {
    acker.reject(BasicRejectOptions { requeue: false }).await
}

/// Publishes a failed message's copy back to its queue, or to the dead-letter queue once it
/// has had `max_deliveries` handler runs; returns once the broker confirmed it.
async fn republish(
    ctx: &Ctx,
    body: &[u8],
    properties: BasicProperties,
    count: u32,
    reason: &str,
) -> Result<(), AmqpError> {
    // Edits the original table rather than a JSON copy, so no header is altered on the way.
    let mut headers = properties.headers().clone().unwrap_or_default();
    let target = if count < ctx.max_deliveries {
        headers.insert(
            DELIVERY_COUNT_HEADER.into(),
            AMQPValue::LongLongInt(i64::from(count) + 1),
        );
        debug!(queue = %ctx.queue, count, reason, "AMQP handler failed; retrying the message");
        &ctx.queue
    } else {
        headers.insert(
            DELIVERY_COUNT_HEADER.into(),
            AMQPValue::LongLongInt(i64::from(count)),
        );
        let reason = truncate(reason, MAX_REASON_LEN);
        headers.insert(
            ERROR_HEADER.into(),
            AMQPValue::LongString(LongString::from(reason)),
        );
        headers.insert(
            QUEUE_HEADER.into(),
            AMQPValue::LongString(LongString::from(ctx.queue.as_str())),
        );
        warn!(
            queue = %ctx.queue, dead_letter_queue = %ctx.dead_letter_queue, count, reason,
            "AMQP handler failed too many times; moving the message to the dead-letter queue"
        );
        &ctx.dead_letter_queue
    };
    ctx.republisher
        .get(&ctx.conn)
        .await?
        .publish_confirmed("", target, body, properties.with_headers(headers))
        .await
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Turns a panic in a handler's future into an error instead of a message left unsettled.
struct CatchUnwind(BoxFuture<Outcome>);

impl Future for CatchUnwind {
    type Output = Result<Outcome, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(outcome)) => Poll::Ready(Ok(outcome)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Counts running handlers so that winding down can wait for them.
#[derive(Default)]
pub(super) struct Tracker(Arc<TrackerInner>);

#[derive(Default)]
struct TrackerInner {
    count: AtomicUsize,
    idle: Notify,
}

pub(super) struct TrackGuard(Arc<TrackerInner>);

impl Tracker {
    fn enter(&self) -> TrackGuard {
        self.0.count.fetch_add(1, Ordering::AcqRel);
        TrackGuard(self.0.clone())
    }

    pub(super) fn count(&self) -> usize {
        self.0.count.load(Ordering::Acquire)
    }

    pub(super) async fn idle(&self) {
        loop {
            let notified = self.0.idle.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for TrackGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}
