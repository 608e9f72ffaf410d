//! Cluster events as data, and the bus that carries them. The ODB is the transport: events are
//! rows in `cluster_event`, which every server process polls, so a change made on one server
//! is live on all of them within one poll. The bus does not know who reacts: the app
//! subscribes handlers per topic at start-up.
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustc_hash::FxHashMap;
use serde_json::{Value, json};
use tokio::sync::watch;
use zato_common::odb::Odb;
use zato_common::odb::notify::Topic;

pub use wake::{Notifier, Wake};

mod wake;

/// What happened in the cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterEvent {
    /// Any config may have changed (the CLI, enmasse): every live table reloads.
    Config,
    /// Objects of one kind were created, edited or deleted; `id` names the one object when
    /// there was one, so a table can fetch just that row.
    Changed { kind: String, id: Option<i64> },
    /// A deployment package was stored; each process applies it.
    Deploy { package_id: i64 },
    /// A Python service was deleted.
    ServiceDelete { name: String },
    /// A logged-out JWT: added to every process's revoked set, nothing reloaded.
    JwtRevoked { jti: String, exp: i64 },
    /// New Redis settings (`zato.outgoing.redis.*`), the password encrypted with the cluster key.
    Kvdb(Value),
}

/// The topic handlers subscribe to: one per variant, and one per object kind for `Changed`.
pub fn changed_topic(kind: &str) -> String {
    format!("changed:{kind}")
}

impl ClusterEvent {
    pub fn changed(kind: &str, id: Option<i64>) -> Self {
        Self::Changed {
            kind: kind.to_string(),
            id,
        }
    }

    pub fn topic(&self) -> String {
        match self {
            Self::Changed { kind, .. } => changed_topic(kind),
            other => other.wire_type().to_string(),
        }
    }

    fn wire_type(&self) -> &'static str {
        match self {
            Self::Config => zato_common::odb::events::EVENT_CONFIG,
            Self::Changed { .. } => "changed",
            Self::Deploy { .. } => "deploy",
            Self::ServiceDelete { .. } => "service_delete",
            Self::JwtRevoked { .. } => "jwt_revoked",
            Self::Kvdb(_) => "kvdb",
        }
    }

    fn wire_payload(&self) -> Value {
        match self {
            Self::Config => Value::Null,
            Self::Changed { kind, id } => json!({"kind": kind, "id": id}),
            Self::Deploy { package_id } => json!({"package_id": package_id}),
            Self::ServiceDelete { name } => json!({"name": name}),
            Self::JwtRevoked { jti, exp } => json!({"jti": jti, "exp": exp}),
            Self::Kvdb(v) => v.clone(),
        }
    }

    /// Reads an event row; None (logged by the caller) when it cannot be understood.
    pub fn from_wire(event_type: &str, payload: &str) -> Option<Self> {
        let p: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
        Some(match event_type {
            zato_common::odb::events::EVENT_CONFIG => Self::Config,
            "changed" => Self::Changed {
                kind: p.get("kind")?.as_str()?.to_string(),
                id: p.get("id").and_then(Value::as_i64),
            },
            "deploy" => Self::Deploy {
                package_id: p.get("package_id")?.as_i64()?,
            },
            "service_delete" => Self::ServiceDelete {
                name: p.get("name")?.as_str()?.to_string(),
            },
            "jwt_revoked" => Self::JwtRevoked {
                jti: p.get("jti")?.as_str()?.to_string(),
                exp: p.get("exp")?.as_i64()?,
            },
            "kvdb" => Self::Kvdb(p),
            _ => return None,
        })
    }
}

pub type HandlerFut = Pin<Box<dyn Future<Output = ()> + Send>>;
pub type Handler = Arc<dyn Fn(ClusterEvent) -> HandlerFut + Send + Sync>;

const POLL: Duration = Duration::from_millis(200);
/// How often one process per server trims old events.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Ids may commit out of order on PostgreSQL/MySQL; re-reading a window below the highest id
/// seen (and remembering what was handled) means none is skipped.
const WINDOW: i64 = 100;

/// Publishes events to the cluster and delivers the ones other processes published.
pub struct Bus {
    odb: Odb,
    cluster_id: i64,
    notifier: Notifier,
    /// Identifies this process on the bus (`server1:4242`): its own events are not redelivered.
    origin: String,
    handlers: RwLock<FxHashMap<String, Vec<Handler>>>,
    /// The highest event id this process has read and handled (its own included).
    applied: AtomicI64,
    /// Whether other processes' events wake this one (PostgreSQL's LISTEN/NOTIFY).
    listening: std::sync::atomic::AtomicBool,
}

impl Bus {
    /// `redis`: wake-ups through Redis where the ODB has none (`events::wake`).
    pub fn new(
        odb: Odb,
        cluster_id: i64,
        origin: String,
        redis: Option<zato_common::kvdb_wake::RedisWake>,
    ) -> Self {
        Self {
            notifier: Notifier::new(odb.clone(), cluster_id, redis),
            odb,
            cluster_id,
            origin,
            handlers: RwLock::default(),
            applied: AtomicI64::new(0),
            listening: Default::default(),
        }
    }

    /// How far this process has followed the cluster: the highest event id it has read and
    /// handled. Ids may commit out of order on PostgreSQL/MySQL, so a lower one can still come
    /// (within the re-read window); commands that change the cluster wait until each process
    /// reaches the id of their own, already committed, event.
    pub fn applied(&self) -> i64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Whether other processes' events wake this one at once (else it polls).
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }

    /// Calls `handler` for every event of `topic` (see [`ClusterEvent::topic`]).
    pub fn subscribe(&self, topic: impl Into<String>, handler: Handler) {
        // A poisoned lock only means a subscriber panicked while adding; the map is whole.
        let mut h = self.handlers.write().unwrap_or_else(|p| p.into_inner());
        h.entry(topic.into()).or_default().push(handler);
    }

    /// Runs this process's handlers for `event`.
    pub async fn deliver(&self, event: ClusterEvent) {
        let handlers: Vec<Handler> = {
            let h = self.handlers.read().unwrap_or_else(|p| p.into_inner());
            h.get(&event.topic()).cloned().unwrap_or_default()
        };
        if handlers.is_empty() {
            tracing::warn!("no handler for the cluster event `{}`", event.topic());
        }
        for handler in handlers {
            handler(event.clone()).await;
        }
    }

    /// How this process wakes the others, and is woken.
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Tells every other server process; this one is not told.
    pub async fn publish(&self, event: &ClusterEvent) {
        let kind = event.wire_type();
        if let Err(e) = self
            .odb
            .publish_event(
                self.cluster_id,
                kind,
                &event.wire_payload().to_string(),
                &self.origin,
            )
            .await
        {
            tracing::error!("cannot publish a `{kind}` cluster event: {e}");
            return;
        }
        if let Err(e) = self.notifier.notify(Topic::Events).await {
            tracing::warn!(
                "cannot wake the other servers for a `{kind}` cluster event (they will poll): {e}"
            );
        }
    }

    /// Handles `event` here, then tells every other server process.
    pub async fn emit(&self, event: ClusterEvent) {
        self.deliver(event.clone()).await;
        self.publish(&event).await;
    }

    /// Polls for events until shutdown. `start_after` is the last event id at start-up;
    /// `prunes` makes this process trim old events now and then (one per server does).
    pub async fn run(
        self: Arc<Self>,
        start_after: i64,
        prunes: bool,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut high = start_after;
        self.applied.store(high, Ordering::Release);
        let mut handled: BTreeSet<i64> = BTreeSet::new();
        let mut pruned = std::time::Instant::now();
        let mut wake = self.notifier.wake(Topic::Events).await;
        self.listening.store(wake.listening(), Ordering::Relaxed);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wake.poll(POLL)) => {}
                () = wake.next() => {}
                _ = shutdown.changed() => return,
            }
            let events = match self
                .odb
                .events_after(self.cluster_id, (high - WINDOW).max(start_after))
                .await
            {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!("cannot read cluster events: {e}");
                    continue;
                }
            };
            for ev in events {
                if !handled.insert(ev.id) {
                    continue;
                }
                high = high.max(ev.id);
                if ev.origin == self.origin {
                    continue;
                }
                match ClusterEvent::from_wire(&ev.event_type, &ev.payload) {
                    Some(event) => self.deliver(event).await,
                    None => tracing::warn!(
                        "ignoring a cluster event that cannot be read: `{}` {}",
                        ev.event_type,
                        ev.payload
                    ),
                }
            }
            self.applied.store(high, Ordering::Release);
            let floor = high - WINDOW;
            handled = handled.split_off(&floor);
            if prunes && pruned.elapsed() >= PRUNE_EVERY {
                pruned = std::time::Instant::now();
                if let Err(e) = self.odb.prune_events(self.cluster_id, high - 10_000).await {
                    tracing::warn!("cannot prune old cluster events: {e}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_the_wire_form() {
        for ev in [
            ClusterEvent::Config,
            ClusterEvent::changed("http_soap", Some(7)),
            ClusterEvent::changed("sql", None),
            ClusterEvent::Deploy { package_id: 3 },
            ClusterEvent::ServiceDelete { name: "a.b".into() },
            ClusterEvent::JwtRevoked {
                jti: "x".into(),
                exp: 9,
            },
            ClusterEvent::Kvdb(json!({"host": "h"})),
        ] {
            let back = ClusterEvent::from_wire(ev.wire_type(), &ev.wire_payload().to_string());
            assert_eq!(back.as_ref(), Some(&ev));
        }
        assert_eq!(ClusterEvent::from_wire("nope", "null"), None);
        assert_eq!(ClusterEvent::from_wire("deploy", "{}"), None);
        assert_eq!(
            ClusterEvent::changed("http_soap", None).topic(),
            "changed:http_soap"
        );
    }
}
