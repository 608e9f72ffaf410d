//! The scheduler's life: configuration, the lease, planning and firing.
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta, Utc};
use zato_common::config::{MissedRuns, SchedulerConfig};
use zato_common::odb::Odb;
use zato_common::schedule::format;

use crate::SchedulerError;
use crate::fire::Servers;
use crate::health::State;
use crate::table::Table;

/// The `kv_data` key of the lease the active scheduler holds.
pub const LEASE_KEY: &str = "zato.scheduler.lease";
/// How often changes to jobs are looked for.
const POLL: Duration = Duration::from_millis(200);
/// How long before their planned time runs are sent: the server records them at once and
/// starts them at their time, so recording thousands of runs does not make them late.
pub const AHEAD: Duration = Duration::from_millis(500);
/// How often the active scheduler deletes records of runs older than
/// [`zato_common::odb::jobs::FIRE_RECORD_HORIZON`].
const PRUNE_EVERY: Duration = Duration::from_secs(60);

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// Who this process is on the lease: host, pid and start time (a restarted process is another).
fn holder_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    format!(
        "{host}:{}:{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    )
}

struct Scheduler {
    cfg: SchedulerConfig,
    odb: Odb,
    cluster_id: i64,
    holder: String,
    state: Arc<State>,
    servers: Arc<Servers>,
}

pub async fn run(dir: &Path) -> Result<(), SchedulerError> {
    let cfg = SchedulerConfig::load(dir)?;
    let odb = Odb::connect(&cfg.odb).await?;
    zato_common::odb::schema::check(&odb).await?;
    let cluster = odb
        .cluster_by_name(&cfg.main.cluster_name)
        .await?
        .ok_or_else(|| SchedulerError::NoCluster(cfg.main.cluster_name.clone()))?;
    let credentials =
        zato_common::locate::admin_credentials(&odb, cluster.id, &cfg.secret_key).await?;
    let listener = tokio::net::TcpListener::bind(&cfg.main.bind)
        .await
        .map_err(|source| SchedulerError::Listen {
            bind: cfg.main.bind.clone(),
            source,
        })?;
    let state = Arc::new(State::default());
    tokio::spawn(crate::health::serve(listener, state.clone()));
    let servers = Servers::new(odb.clone(), cluster.id, credentials);
    let s = Scheduler {
        holder: holder_id(),
        cluster_id: cluster.id,
        state,
        servers,
        odb,
        cfg,
    };
    tracing::info!(
        "Scheduler for cluster `{}` started (pid {}) at {}",
        cluster.name,
        std::process::id(),
        s.cfg.main.bind
    );
    tokio::select! {
        () = s.lifetime() => {}
        () = zato_common::signals::wait_for_stop() => {}
    }
    // A clean stop hands over at once instead of after the lease's time.
    let _ = s
        .odb
        .kv_lease_release(s.cluster_id, LEASE_KEY, &s.holder)
        .await;
    tracing::info!("Scheduler stopped");
    Ok(())
}

impl Scheduler {
    async fn lease(&self) -> bool {
        let ttl = i64::try_from(self.cfg.main.lease_seconds).unwrap_or(3);
        match self
            .odb
            .kv_lease(self.cluster_id, LEASE_KEY, &self.holder, ttl)
            .await
        {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!("cannot renew the scheduler lease: {e}");
                false
            }
        }
    }

    /// Standby until the lease is free, active while it is held, for ever.
    async fn lifetime(&self) {
        let renew = Duration::from_millis(self.cfg.main.lease_seconds * 1000 / 3).max(POLL);
        let mut said_standby = false;
        loop {
            if !self.lease().await {
                if !said_standby {
                    let holder = self
                        .odb
                        .kv_lease_holder(self.cluster_id, LEASE_KEY)
                        .await
                        .ok()
                        .flatten()
                        .unwrap_or_default();
                    tracing::info!(
                        "Standing by: another scheduler ({holder}) holds the lease and fires the jobs"
                    );
                    said_standby = true;
                }
                tokio::time::sleep(renew).await;
                continue;
            }
            said_standby = false;
            self.state.active.store(true, Ordering::Relaxed);
            tracing::info!("Active: this scheduler holds the lease and fires the jobs");
            if let Err(e) = self.active(renew).await {
                tracing::error!("the scheduler stops firing until the ODB answers again: {e}");
                // Not straight back: the lease is still ours and the ODB just failed.
                tokio::time::sleep(renew).await;
            }
            self.state.active.store(false, Ordering::Relaxed);
        }
    }

    /// Fires jobs until the lease is lost (Ok) or the ODB fails (Err).
    async fn active(&self, renew: Duration) -> Result<(), SchedulerError> {
        for job in &self.cfg.startup_jobs {
            if !self.servers.create_startup_job(job).await {
                tracing::warn!(
                    "startup job `{}` not created: no server of the cluster answered; it is tried again when this scheduler next becomes active",
                    job["name"].as_str().unwrap_or_default()
                );
            }
        }
        let mut last_event = self.odb.last_event_id(self.cluster_id).await?;
        let mut table = Table::default();
        let jobs = self.odb.job_list(self.cluster_id).await?;
        let started = now();
        table.rebuild(jobs, started);
        self.missed(&table, started).await;
        let mut renewed = tokio::time::Instant::now();
        let mut pruned = tokio::time::Instant::now();
        let ahead = TimeDelta::from_std(AHEAD).unwrap_or_default();
        loop {
            let due = table.take_due(now() + ahead);
            if !due.is_empty() {
                self.spawn_fire(due);
            }
            let until_next = table
                .earliest()
                .map(|at| (at - ahead - now()).to_std().unwrap_or_default())
                .unwrap_or(POLL);
            tokio::time::sleep(until_next.min(POLL)).await;
            if renewed.elapsed() >= renew {
                if !self.lease().await {
                    tracing::warn!("Lost the scheduler lease: standing by");
                    return Ok(());
                }
                renewed = tokio::time::Instant::now();
            }
            if pruned.elapsed() >= PRUNE_EVERY {
                self.prune().await;
                pruned = tokio::time::Instant::now();
            }
            if let Some(id) = self.job_events(&mut last_event).await? {
                let jobs = self.odb.job_list(self.cluster_id).await?;
                let new = table.rebuild(jobs, now());
                for job in new {
                    tracing::info!("job `{}` (re)planned after a change (event {id})", job.name);
                }
            }
        }
    }

    /// Sends the runs due now to a server, in one call (a retry does not hold the loop up).
    fn spawn_fire(&self, due: Vec<(i64, String, NaiveDateTime)>) {
        let runs = due
            .into_iter()
            .map(|(id, name, planned)| (id, name, format(planned)))
            .collect();
        tokio::spawn(self.servers.clone().fire(runs));
    }

    /// Runs missed while no scheduler was active: the latest of each planned job, once (or
    /// none, as `missed_runs` says), sent together. A run recorded before is not run again.
    async fn missed(&self, table: &Table, now: NaiveDateTime) {
        if self.cfg.main.missed_runs == MissedRuns::Skip {
            return;
        }
        let last = match self.odb.job_last_runs(self.cluster_id).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("cannot read the jobs' last runs, none is run as missed: {e}");
                return;
            }
        };
        let mut runs = Vec::new();
        for e in &table.entries {
            let since = match last.get(&e.job.id) {
                Some(l) => zato_common::schedule::parse_start_date(l)
                    .ok()
                    .and_then(|l| l.checked_add_signed(TimeDelta::seconds(1))),
                None => Some(NaiveDateTime::MIN),
            };
            if let Some(at) = since.and_then(|s| e.plan.last_between(s, now)) {
                tracing::info!(
                    "job `{}` missed its run at {} while no scheduler was active; running it once",
                    e.job.name,
                    format(at)
                );
                runs.push((e.job.id, e.job.name.clone(), format(at)));
            }
        }
        if !runs.is_empty() {
            tokio::spawn(self.servers.clone().fire(runs));
        }
    }

    /// Deletes the records of old runs; a failure is logged and tried again next time.
    async fn prune(&self) {
        let before = now() - zato_common::odb::jobs::FIRE_RECORD_HORIZON;
        match self.odb.job_prune_fires(&format(before)).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!("deleted the records of {n} runs planned before {before}"),
            Err(e) => tracing::warn!("cannot delete the records of old runs: {e}"),
        }
    }

    /// The id of the newest job event since `last` (moved on), if any.
    async fn job_events(&self, last: &mut i64) -> Result<Option<i64>, SchedulerError> {
        let events = self.odb.events_after(self.cluster_id, *last).await?;
        let mut found = None;
        for ev in events {
            *last = (*last).max(ev.id);
            let is_job = ev.event_type == zato_common::odb::events::EVENT_CONFIG
                || (ev.event_type == "changed"
                    && serde_json::from_str::<serde_json::Value>(&ev.payload)
                        .is_ok_and(|p| p["kind"] == "job"));
            if is_job {
                found = Some(ev.id);
            }
        }
        Ok(found)
    }
}
