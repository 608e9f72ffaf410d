//! Everything one server process holds: config, ODB, identity in the cluster, built-in
//! services, the Python host and the live channel table.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use zato_common::config::ServerConfig;
use zato_common::odb::Odb;

use crate::http::routing::Routes;
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
    /// Services switched off with `zato.service.edit`.
    pub inactive: ArcSwap<rustc_hash::FxHashSet<String>>,
    /// Deployment packages applied in this process, by file name.
    pub applied: Mutex<HashMap<String, Applied>>,
    pub rt: tokio::runtime::Handle,
    pub started: Instant,
}

impl ServerState {
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
        let routes = Routes::build(&rows, &secs, &self.cfg.secret_key);
        self.routes.store(Arc::new(routes));
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
