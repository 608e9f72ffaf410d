//! `zato-scheduler`: fires the cluster's jobs. Several schedulers may run for a cluster; the one
//! holding the lease in the ODB (`kv_data`) fires, the others stand by and take over when its
//! lease expires. A run is fired by asking a server for `zato.scheduler.job.fire` with the run's
//! planned time: the server records it before it runs the service, so a run asked for twice
//! (a retry, a takeover, a restart) runs once.
pub mod fire;
pub mod health;
pub mod run;
pub mod table;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Config(#[from] zato_common::config::ConfigError),
    #[error(transparent)]
    Odb(#[from] zato_common::odb::OdbError),
    #[error("the ODB has no cluster named `{0}`; check [main] cluster_name in scheduler.conf")]
    NoCluster(String),
    #[error("cannot read the admin API's credentials: {0}")]
    Credentials(#[from] zato_common::locate::LocateError),
    #[error("cannot listen on {bind}: {source}")]
    Listen {
        bind: String,
        source: std::io::Error,
    },
}
