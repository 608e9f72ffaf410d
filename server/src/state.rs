//! What one server process holds: config, ODB, identity in the cluster, the event bus, the
//! built-in services, the Python host and the live tables of config objects. Handles only:
//! the logic lives in the modules these types come from.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use zato_common::config::ServerConfig;
use zato_common::odb::{Odb, OdbError};

use crate::connectors::{Connectors, Kvdb, SqlSessions};
use crate::core::{Observer, Registry};
use crate::events::{Bus, ClusterEvent};
use crate::objects::{Source, Tables};
use crate::python::PyHost;
use crate::security::jwt::{JwtKeys, REVOKED_PREFIX};
use crate::security::throttle::Throttle;

/// A deployment package this process runs.
#[derive(Debug, Clone)]
pub struct Applied {
    pub package_id: i64,
    pub sha256: String,
    /// When the package was stored (ISO-8601 UTC).
    pub deployment_time: String,
}

pub struct ServerState {
    pub cfg: ServerConfig,
    pub odb: Odb,
    pub cluster_id: i64,
    pub cluster_name: String,
    pub server_id: i64,
    pub server_name: String,
    pub worker_index: u32,
    pub events: Arc<Bus>,
    pub builtins: Registry<ServerState>,
    /// See every call the invoker runs.
    pub observers: Vec<Arc<dyn Observer>>,
    /// Statistics and metrics (one of the observers when `[stats] enabled`).
    pub stats: Arc<crate::stats::Stats>,
    pub python: Arc<PyHost>,
    /// Channels, outgoing connections, security and service states.
    pub tables: Tables,
    /// Outgoing connections of the kinds Python reaches generically (AMQP...).
    pub connectors: Connectors,
    /// Transactions of SQL sessions Python services hold open.
    pub sql_sessions: SqlSessions,
    /// The `[kvdb]` Redis connection, when one is configured; replaced by
    /// `zato.outgoing.redis.edit` on every server.
    pub kvdb: arc_swap::ArcSwapOption<Kvdb>,
    /// IDs (`jti`) of JWTs logged out, cluster-wide, with when each expires (from `kv_data`
    /// at start-up and on `config` events, and from `jwt_revoked` events in between).
    pub revoked_jwts: ArcSwap<rustc_hash::FxHashMap<String, i64>>,
    /// Failed JWT log-ins per client and per user.
    pub login_throttle: Throttle,
    /// Signs and checks JWTs (derived from the cluster's secret key).
    pub jwt_keys: JwtKeys,
    /// Deployment packages applied in this process, by file name.
    pub applied: Mutex<HashMap<String, Applied>>,
    /// Background invocations (scheduler runs, `invoke_async`) under way at once: the others
    /// wait their turn in order instead of meeting a full interpreter queue, which would
    /// drop work already taken on (a recorded scheduler run). Half the queue stays free for
    /// requests whose clients are waiting.
    pub background: tokio::sync::Semaphore,
    /// Asynchronous invocations this process holds (`invoke::deferred`).
    pub deferred: crate::core::deferred::Deferred,
    /// Async requests on Redis when `[kvdb]` is configured (else they are in the ODB).
    pub async_redis: Option<crate::core::deferred::RedisDeferred>,
    pub rt: tokio::runtime::Handle,
    pub started: Instant,
    /// The wall clock at `started`.
    pub started_wall: std::time::SystemTime,
}

impl ServerState {
    /// Refuses the token `jti` (valid until `exp`) from now on; tokens already expired are
    /// dropped from the set on the way, so it holds only what can still be presented.
    pub fn revoke_jwt(&self, jti: &str, exp: i64) {
        let now = chrono::Utc::now().timestamp();
        self.revoked_jwts.rcu(|old| {
            let mut set: rustc_hash::FxHashMap<String, i64> = old
                .iter()
                .filter(|(_, e)| **e > now)
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            set.insert(jti.to_string(), exp);
            set
        });
    }

    pub fn service_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.cfg.main.service_timeout)
    }

    pub fn service_exists(&self, name: &str) -> bool {
        self.builtins.contains_key(name) || self.python.has(name)
    }

    pub fn source(&self) -> Source<'_> {
        Source {
            odb: &self.odb,
            cluster_id: self.cluster_id,
            key: &self.cfg.secret_key,
        }
    }

    /// Objects of `kind` changed (`id` when one object did): this process's table is rebuilt
    /// before the call returns, every other process's within one poll.
    /// The wall-clock time of `at`, without another clock reading (from when the process
    /// started; good to the second, which is what statistics need).
    pub fn wall_clock(&self, at: Instant) -> std::time::SystemTime {
        self.started_wall + at.saturating_duration_since(self.started)
    }

    /// Where this process writes its statistics.
    pub fn stats_sink(&self) -> crate::stats::flush::Sink {
        crate::stats::flush::Sink {
            odb: self.odb.clone(),
            cluster_id: self.cluster_id,
            keep: i64::from(self.cfg.stats.keep_samples),
            holder: self.deferred.holder().to_string(),
        }
    }

    pub async fn changed(&self, kind: &str, id: Option<i64>) {
        self.events.emit(ClusterEvent::changed(kind, id)).await;
    }

    /// Every table and the revoked JWTs, from the ODB.
    pub async fn reload_all(&self) -> Result<(), OdbError> {
        self.tables.reload_all(&self.source()).await?;
        // kv_data drops a revocation once its token expired; until then it counts here.
        let revoked = self
            .odb
            .kv_keys(self.cluster_id, REVOKED_PREFIX)
            .await?
            .into_iter()
            .filter_map(|k| {
                k.strip_prefix(REVOKED_PREFIX)
                    .map(|jti| (jti.to_string(), i64::MAX))
            })
            .collect();
        self.revoked_jwts.store(Arc::new(revoked));
        Ok(())
    }
}
