//! Asking the cluster's servers to fire runs. Any running server will do; a run is retried on
//! the next one until a server took it, since `zato.scheduler.job.fire` runs a run only once.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::RwLock;
use zato_common::admin::{AdminClient, AdminError};
use zato_common::locate::bind_address;
use zato_common::odb::Odb;

/// How long a run is retried before it is given up (and logged).
const GIVE_UP: Duration = Duration::from_secs(60);

/// The running servers' admin clients, refreshed from the ODB when none answers.
pub struct Servers {
    odb: Odb,
    cluster_id: i64,
    /// The admin API's user and password.
    credentials: (String, String),
    clients: RwLock<Vec<AdminClient>>,
    next: AtomicUsize,
}

impl Servers {
    /// `credentials`: the admin API's user and password.
    pub fn new(odb: Odb, cluster_id: i64, credentials: (String, String)) -> Arc<Self> {
        Arc::new(Self {
            odb,
            cluster_id,
            credentials,
            clients: RwLock::default(),
            next: AtomicUsize::new(0),
        })
    }

    async fn refresh(&self) {
        match self.odb.server_list(self.cluster_id).await {
            Ok(list) => {
                let clients = list
                    .iter()
                    .filter(|s| s.up_status.as_deref() == Some("running"))
                    .filter_map(|s| {
                        let port = s.bind_port?;
                        let address = bind_address(s.bind_host.as_deref()?, &port.to_string());
                        let (user, password) = &self.credentials;
                        Some(AdminClient::new(&address, user, password))
                    })
                    .collect();
                *self.clients.write().await = clients;
            }
            Err(e) => tracing::warn!("cannot read the cluster's servers: {e}"),
        }
    }

    /// One server, round-robin.
    async fn pick(&self) -> Option<AdminClient> {
        if self.clients.read().await.is_empty() {
            self.refresh().await;
        }
        let clients = self.clients.read().await;
        if clients.is_empty() {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed) % clients.len();
        clients.get(n).cloned()
    }

    /// Creates a startup job unless one of its name exists; false when no server took it.
    pub async fn create_startup_job(&self, job: &serde_json::Value) -> bool {
        let mut payload = job.clone();
        payload["should_ignore_existing"] = json!(true);
        if payload.get("start_date").is_none() {
            let now = zato_common::schedule::format(chrono::Utc::now().naive_utc());
            payload["start_date"] = json!(now);
        }
        let name = payload["name"].as_str().unwrap_or_default().to_string();
        for _ in 0..3 {
            let Some(client) = self.pick().await else {
                break;
            };
            match client.invoke("zato.scheduler.job.create", &payload).await {
                Ok(r) if r.ok => return true,
                Err(
                    e @ AdminError::Status {
                        status: 400..=499, ..
                    },
                ) => {
                    tracing::error!("startup job `{name}` cannot be created: {e}");
                    return true;
                }
                Ok(r) => tracing::warn!("startup job `{name}`: {}", r.details),
                Err(e) => {
                    tracing::warn!("startup job `{name}`: {e}; trying another server");
                    self.clients.write().await.clear();
                }
            }
        }
        false
    }

    /// Fires runs (job id, job name, planned `YYYY-MM-DDTHH:MM:SS`) in one call, retried on
    /// another server until one took them: runs recorded before are not run again.
    pub async fn fire(self: Arc<Self>, runs: Vec<(i64, String, String)>) {
        let started = Instant::now();
        let list: Vec<Run<'_>> = runs
            .iter()
            .map(|(id, _, planned)| Run { id: *id, planned })
            .collect();
        // Thousands of runs at once: written from these types, read back into them.
        let payload = match serde_json::to_vec(&Runs { runs: list }) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("{} runs did not fire: {e}", runs.len());
                return;
            }
        };
        let what = match runs.as_slice() {
            [(_, name, planned)] => format!("job `{name}` for {planned}"),
            more => format!("{} runs", more.len()),
        };
        let mut pause = Duration::from_millis(100);
        loop {
            match self.pick().await {
                Some(client) => match client
                    .invoke_as::<Option<Answer>>("zato.scheduler.job.fire", &payload)
                    .await
                {
                    Ok(r) if r.ok => {
                        report(&runs, &r.data.unwrap_or_default().runs);
                        return;
                    }
                    Ok(r) => {
                        tracing::error!("{what} did not fire: {}", r.details);
                        return;
                    }
                    Err(
                        e @ AdminError::Status {
                            status: 400..=499, ..
                        },
                    ) => {
                        tracing::error!("{what} did not fire: {e}");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!("{what}: {e}; trying another server");
                        self.clients.write().await.clear();
                    }
                },
                None => tracing::warn!("{what}: no server of the cluster is running; retrying"),
            }
            if started.elapsed() > GIVE_UP {
                tracing::error!(
                    "{what} did not fire: no server took them within {} s",
                    GIVE_UP.as_secs()
                );
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}

/// `zato.scheduler.job.fire`'s input.
#[derive(Serialize)]
struct Runs<'a> {
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
struct Run<'a> {
    id: i64,
    planned: &'a str,
}

/// `zato.scheduler.job.fire`'s answer: what became of each run, in the order sent.
#[derive(Deserialize, Default)]
struct Answer {
    runs: Vec<Outcome>,
}

#[derive(Deserialize)]
struct Outcome {
    fired: bool,
    #[serde(default)]
    missing: bool,
    cid: Option<String>,
}

/// Logs what the server did with each run: one line per run when few, a summary when many.
fn report(runs: &[(i64, String, String)], results: &[Outcome]) {
    let fired = results.iter().filter(|r| r.fired).count();
    if runs.len() > 10 {
        tracing::info!(
            "{fired} of {} runs fired ({} had fired already or their jobs are gone)",
            runs.len(),
            runs.len() - fired
        );
        return;
    }
    for ((_, name, planned), r) in runs.iter().zip(results) {
        if r.fired {
            tracing::info!(
                "job `{name}` fired for {planned} (cid {})",
                r.cid.as_deref().unwrap_or("")
            );
        } else if r.missing {
            tracing::info!("job `{name}` was deleted before its run at {planned}");
        } else {
            tracing::info!("job `{name}` had already fired for {planned}");
        }
    }
}
