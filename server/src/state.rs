//! Everything one server process holds: config, ODB, identity in the cluster, built-in
//! services, the Python host and the live channel table.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use zato_common::config::ServerConfig;
use zato_common::odb::Odb;

use crate::http::routing::Routes;
use crate::outgoing::{Kvdb, Outgoing, SqlSessions};
use crate::python::PyHost;
use crate::services::Registry;

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
    /// Identifies this process on the broker (`server1:4242`).
    pub origin: String,
    pub worker_index: u32,
    pub builtins: Registry,
    pub python: Arc<PyHost>,
    pub routes: ArcSwap<Routes>,
    /// Outgoing REST/SOAP and SQL connections, rebuilt with the channels.
    pub outgoing: ArcSwap<Outgoing>,
    /// Transactions of SQL sessions Python services hold open.
    pub sql_sessions: SqlSessions,
    /// The `[kvdb]` Redis connection, when one is configured; replaced by
    /// `zato.outgoing.redis.edit` on every server.
    pub kvdb: arc_swap::ArcSwapOption<Kvdb>,
    /// IDs (`jti`) of JWTs logged out, cluster-wide, with when each expires (from `kv_data`
    /// on a config reload, and from `jwt_revoked` events in between).
    pub revoked_jwts: ArcSwap<rustc_hash::FxHashMap<String, i64>>,
    /// JWT definitions as log-in needs them (reloaded with the channels).
    pub jwt_logins: ArcSwap<Vec<crate::http::jwt::JwtLogin>>,
    /// Failed JWT log-ins per client and per user.
    pub login_throttle: crate::http::throttle::Throttle,
    /// Signs and checks JWTs (derived from the cluster's secret key).
    pub jwt_keys: crate::http::jwt::JwtKeys,
    /// Services switched off with `zato.service.edit`.
    pub inactive: ArcSwap<rustc_hash::FxHashSet<String>>,
    /// Deployment packages applied in this process, by file name.
    pub applied: Mutex<HashMap<String, Applied>>,
    pub rt: tokio::runtime::Handle,
    pub started: Instant,
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

    /// Re-reads channels, security definitions and service states from the ODB.
    pub async fn reload_config(&self) -> Result<(), zato_common::odb::OdbError> {
        let rows = self.odb.http_soap_list(self.cluster_id).await?;
        let secs = self.odb.security_list(self.cluster_id, None).await?;
        let pools = self.odb.sql_pool_list(self.cluster_id).await?;
        let routes = Routes::build(&rows, &secs, &self.cfg.secret_key);
        self.routes.store(Arc::new(routes));
        let outgoing = Outgoing::build(
            &self.outgoing.load(),
            &rows,
            &secs,
            &pools,
            &self.cfg.secret_key,
        );
        self.outgoing.store(Arc::new(outgoing));
        self.jwt_logins.store(Arc::new(crate::http::jwt::logins(
            &secs,
            &self.cfg.secret_key,
        )));
        // kv_data drops a revocation once its token expired; until then it counts here.
        let revoked = self
            .odb
            .kv_keys(self.cluster_id, crate::http::jwt::REVOKED_PREFIX)
            .await?
            .into_iter()
            .filter_map(|k| {
                k.strip_prefix(crate::http::jwt::REVOKED_PREFIX)
                    .map(|jti| (jti.to_string(), i64::MAX))
            })
            .collect();
        self.revoked_jwts.store(Arc::new(revoked));
        let inactive = self
            .odb
            .service_list(self.cluster_id)
            .await?
            .into_iter()
            .filter(|s| !s.is_active)
            .map(|s| s.name)
            .collect();
        self.inactive.store(Arc::new(inactive));
        Ok(())
    }
}
