//! Scheduler jobs: upstream's `job` rows with their `job_interval_based` or `job_cron_style`
//! details (`zato.scheduler.job.*`, `scheduler` in enmasse), and `job_fire` (ours), where each
//! fire of a job is recorded once, by its planned time, before its service runs.
use std::collections::{HashMap, HashSet};

use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::async_requests::AsyncRequest;
use super::{Odb, OdbError, OdbResult, b, conflict_or};

pub const ONE_TIME: &str = "one_time";
pub const INTERVAL_BASED: &str = "interval_based";
pub const CRON_STYLE: &str = "cron_style";
pub const JOB_TYPES: &[&str] = &[ONE_TIME, INTERVAL_BASED, CRON_STYLE];

/// The interval of an `interval_based` job, as upstream stores it (0 or NULL: not set).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Interval {
    pub weeks: Option<i64>,
    pub days: Option<i64>,
    pub hours: Option<i64>,
    pub minutes: Option<i64>,
    pub seconds: Option<i64>,
    /// How many times the job runs in all; None runs it forever.
    pub repeats: Option<i64>,
}

impl Interval {
    /// The interval's parts and `repeats`, by their upstream names.
    pub fn parts(&self) -> [(&'static str, Option<i64>); 6] {
        [
            ("weeks", self.weeks),
            ("days", self.days),
            ("hours", self.hours),
            ("minutes", self.minutes),
            ("seconds", self.seconds),
            ("repeats", self.repeats),
        ]
    }

    /// The interval in seconds (0 when none of its parts is set).
    pub fn total_seconds(&self) -> i64 {
        let part = |v: Option<i64>, unit: i64| v.unwrap_or(0).saturating_mul(unit);
        part(self.weeks, 7 * 86_400)
            .saturating_add(part(self.days, 86_400))
            .saturating_add(part(self.hours, 3_600))
            .saturating_add(part(self.minutes, 60))
            .saturating_add(part(self.seconds, 1))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    pub id: i64,
    pub name: String,
    pub is_active: bool,
    pub job_type: String,
    /// Naive UTC, `YYYY-MM-DDTHH:MM:SS` (as upstream).
    pub start_date: String,
    pub extra: Option<String>,
    pub service_id: i64,
    pub service_name: String,
    #[serde(flatten)]
    pub interval: Interval,
    pub cron_definition: Option<String>,
}

/// How long the record of a run is kept (each job's latest is kept for ever): longer than a
/// scheduler tries to send a run. An older run is new only if it is later than its job's
/// latest recorded run (a run missed while no scheduler ran), see [`Odb::job_record_fires`].
pub const FIRE_RECORD_HORIZON: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Runs recorded per statement: 3 markers each stays under every backend's limit.
const FIRE_CHUNK: usize = 500;

/// A job as a server runs it: see [`Odb::job_fire_targets`].
#[derive(Debug, Clone)]
pub struct FireTarget {
    pub id: i64,
    pub name: String,
    pub job_type: String,
    pub extra: Option<String>,
    pub service_name: String,
}

impl From<Job> for FireTarget {
    fn from(j: Job) -> Self {
        Self {
            id: j.id,
            name: j.name,
            job_type: j.job_type,
            extra: j.extra,
            service_name: j.service_name,
        }
    }
}

/// Create/edit input; the service is given by id (the admin service resolves names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInput {
    pub name: String,
    pub is_active: bool,
    pub job_type: String,
    pub start_date: String,
    pub extra: Option<String>,
    pub service_id: i64,
    pub interval: Interval,
    pub cron_definition: Option<String>,
}

const SELECT: &str = "SELECT j.id, j.name, j.is_active, j.job_type, j.start_date, j.extra, j.service_id, s.name, \
    i.weeks, i.days, i.hours, i.minutes, i.seconds, i.repeats, c.cron_definition \
    FROM job j JOIN service s ON s.id = j.service_id \
    LEFT JOIN job_interval_based i ON i.job_id = j.id \
    LEFT JOIN job_cron_style c ON c.job_id = j.id \
    WHERE j.cluster_id = ?";

fn from_row(r: &AnyRow) -> OdbResult<Job> {
    let extra: Option<Vec<u8>> = r.try_get(5)?;
    Ok(Job {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        is_active: r.try_get::<i64, _>(2)? != 0,
        job_type: r.try_get(3)?,
        start_date: r.try_get(4)?,
        extra: extra.map(|e| String::from_utf8_lossy(&e).into_owned()),
        service_id: r.try_get(6)?,
        service_name: r.try_get(7)?,
        interval: Interval {
            weeks: r.try_get(8)?,
            days: r.try_get(9)?,
            hours: r.try_get(10)?,
            minutes: r.try_get(11)?,
            seconds: r.try_get(12)?,
            repeats: r.try_get(13)?,
        },
        cron_definition: r.try_get(14)?,
    })
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds the columns create and edit share, in their order in both statements.
fn bind_fields<'q>(q: AnyQuery<'q>, i: &JobInput) -> AnyQuery<'q> {
    q.bind(i.name.clone())
        .bind(b(i.is_active))
        .bind(i.job_type.clone())
        .bind(i.start_date.clone())
        .bind(i.extra.clone().map(String::into_bytes))
        .bind(i.service_id)
}

fn taken(name: &str) -> impl FnOnce() -> String + '_ {
    move || format!("a job named `{name}` already exists")
}

impl Odb {
    pub async fn job_list(&self, cluster_id: i64) -> OdbResult<Vec<Job>> {
        let sql = self.dialect(&format!("{SELECT} ORDER BY j.name"));
        // Row by row: a cluster's thousands of jobs never sit in memory twice, as rows and jobs.
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(cluster_id)
            .fetch(self.pool());
        let mut jobs = Vec::new();
        while let Some(row) = rows.try_next().await? {
            jobs.push(from_row(&row)?);
        }
        Ok(jobs)
    }

    /// One job by `id` or, when there is no id, by `name`.
    pub async fn job_get(
        &self,
        cluster_id: i64,
        id: Option<i64>,
        name: Option<&str>,
    ) -> OdbResult<Option<Job>> {
        let by = if id.is_some() { "j.id" } else { "j.name" };
        let sql = self.dialect(&format!("{SELECT} AND {by} = ?"));
        let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(cluster_id);
        let query = match id {
            Some(id) => query.bind(id),
            None => query.bind(name.unwrap_or_default().to_string()),
        };
        let row = query.fetch_optional(self.pool()).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn job_create(&self, cluster_id: i64, i: &JobInput) -> OdbResult<i64> {
        let mut tx = self.begin_write().await?;
        let id = self.job_create_on(&mut tx, cluster_id, i).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// [`Odb::job_create`] on a given connection (a transaction's, for enmasse).
    pub async fn job_create_on(
        &self,
        conn: &mut AnyConnection,
        cluster_id: i64,
        i: &JobInput,
    ) -> OdbResult<i64> {
        let q = sqlx::query(self.sql_insert(
            "INSERT INTO job (name, is_active, job_type, start_date, extra, service_id, cluster_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ));
        let q = bind_fields(q, i).bind(cluster_id);
        let id = self
            .insert_returning_id_on(conn, q)
            .await
            .map_err(|e| match e {
                OdbError::Query(err) => conflict_or(err, taken(&i.name)),
                other => other,
            })?;
        self.job_details_on(conn, id, i).await?;
        Ok(id)
    }

    /// Writes the job's interval or cron row (after removing any it had).
    async fn job_details_on(
        &self,
        conn: &mut AnyConnection,
        id: i64,
        i: &JobInput,
    ) -> OdbResult<()> {
        for table in ["job_interval_based", "job_cron_style"] {
            let sql = self.dialect(&format!("DELETE FROM {table} WHERE job_id = ?"));
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        match i.job_type.as_str() {
            INTERVAL_BASED => {
                let v = &i.interval;
                sqlx::query(self.sql(
                    "INSERT INTO job_interval_based (job_id, weeks, days, hours, minutes, seconds, repeats) VALUES (?, ?, ?, ?, ?, ?, ?)",
                ))
                .bind(id)
                .bind(v.weeks)
                .bind(v.days)
                .bind(v.hours)
                .bind(v.minutes)
                .bind(v.seconds)
                .bind(v.repeats)
                .execute(&mut *conn)
                .await?;
            }
            CRON_STYLE => {
                sqlx::query(
                    self.sql("INSERT INTO job_cron_style (job_id, cron_definition) VALUES (?, ?)"),
                )
                .bind(id)
                .bind(i.cron_definition.clone().unwrap_or_default())
                .execute(&mut *conn)
                .await?;
            }
            _ => {}
        }
        Ok(())
    }

    pub async fn job_edit(&self, cluster_id: i64, id: i64, i: &JobInput) -> OdbResult<()> {
        let mut tx = self.begin_write().await?;
        self.job_edit_on(&mut tx, cluster_id, id, i).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Odb::job_edit`] on a given connection (a transaction's, for enmasse).
    pub async fn job_edit_on(
        &self,
        conn: &mut AnyConnection,
        cluster_id: i64,
        id: i64,
        i: &JobInput,
    ) -> OdbResult<()> {
        let q = sqlx::query(self.sql(
            "UPDATE job SET name = ?, is_active = ?, job_type = ?, start_date = ?, extra = ?, service_id = ? WHERE cluster_id = ? AND id = ?",
        ));
        let res = bind_fields(q, i)
            .bind(cluster_id)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(|e| conflict_or(e, taken(&i.name)))?;
        if res.rows_affected() == 0 {
            return Err(OdbError::NotFound(format!("no job with id {id}")));
        }
        self.job_details_on(conn, id, i).await
    }

    pub async fn job_set_active(&self, cluster_id: i64, id: i64, is_active: bool) -> OdbResult<()> {
        let res =
            sqlx::query(self.sql("UPDATE job SET is_active = ? WHERE cluster_id = ? AND id = ?"))
                .bind(b(is_active))
                .bind(cluster_id)
                .bind(id)
                .execute(self.pool())
                .await?;
        if res.rows_affected() == 0 {
            return Err(OdbError::NotFound(format!("no job with id {id}")));
        }
        Ok(())
    }

    /// Deletes the job with its details and its record of fires; the number of jobs deleted.
    pub async fn job_delete(&self, cluster_id: i64, id: i64) -> OdbResult<u64> {
        let mut tx = self.begin_write().await?;
        let owned =
            sqlx::query(self.sql("SELECT COUNT(*) FROM job WHERE cluster_id = ? AND id = ?"))
                .bind(cluster_id)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
                .try_get::<i64, _>(0)?;
        if owned == 0 {
            return Ok(0);
        }
        for table in ["job_interval_based", "job_cron_style", "job_fire"] {
            let sql = self.dialect(&format!("DELETE FROM {table} WHERE job_id = ?"));
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let res = sqlx::query(self.sql("DELETE FROM job WHERE cluster_id = ? AND id = ?"))
            .bind(cluster_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(res.rows_affected())
    }

    /// Records runs (job id, planned time) and, in the same transaction, stores the
    /// asynchronous request of each new one (`requests`, one per run, held by `claim`), so a
    /// run recorded is a run that will start even if this server dies. For each run: the new
    /// request's id, or None for a run recorded before (by this or another scheduler, or
    /// earlier in `runs`), which must not run again. `fired_at` is when the server took the
    /// runs. Rows go in multi-row statements that return what they inserted, so thousands of
    /// runs cost a few statements rather than one round trip each.
    pub async fn job_record_fires(
        &self,
        cluster_id: i64,
        runs: &[(i64, String)],
        fired_at: &str,
        requests: &[AsyncRequest],
        claim: (&str, &str),
    ) -> OdbResult<Vec<Option<i64>>> {
        let mut tx = self.begin_write().await?;
        let mut inserted = HashSet::with_capacity(runs.len());
        let mut unique = HashSet::with_capacity(runs.len());
        // A run older than the records kept may have been pruned: it is new only if later
        // than its job's latest run (rare: runs missed while no scheduler ran).
        let horizon = crate::time::to_iso(chrono::Utc::now() - FIRE_RECORD_HORIZON);
        let mut batch = Vec::with_capacity(runs.len());
        for run in runs.iter().filter(|r| unique.insert(*r)) {
            if run.1 < horizon {
                let latest: Option<String> = sqlx::query_scalar(
                    self.sql("SELECT MAX(planned) FROM job_fire WHERE job_id = ?"),
                )
                .bind(run.0)
                .fetch_one(&mut *tx)
                .await?;
                if latest.is_some_and(|l| l >= run.1) {
                    continue;
                }
            }
            batch.push(run);
        }
        for chunk in batch.chunks(FIRE_CHUNK) {
            let values = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let sql = match self.engine() {
                crate::config::OdbEngine::Mysql => format!(
                    "INSERT IGNORE INTO job_fire (job_id, planned, fired_at) VALUES {values} RETURNING job_id, planned"
                ),
                _ => format!(
                    "INSERT INTO job_fire (job_id, planned, fired_at) VALUES {values} ON CONFLICT (job_id, planned) DO NOTHING RETURNING job_id, planned"
                ),
            };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(self.dialect(&sql)));
            for (job_id, planned) in chunk {
                q = q
                    .bind(*job_id)
                    .bind(planned.clone())
                    .bind(fired_at.to_string());
            }
            for row in q.fetch_all(&mut *tx).await? {
                inserted.insert((row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?));
            }
        }
        // `remove`: a run given twice is new only the first time.
        let fresh: Vec<bool> = runs
            .iter()
            .map(|(id, planned)| inserted.remove(&(*id, planned.clone())))
            .collect();
        let to_store: Vec<AsyncRequest> = requests
            .iter()
            .zip(&fresh)
            .filter(|(_, new)| **new)
            .map(|(r, _)| r.clone())
            .collect();
        let mut ids = self
            .async_put_many_on(&mut tx, cluster_id, &to_store, claim)
            .await?
            .into_iter();
        tx.commit().await?;
        Ok(fresh
            .into_iter()
            .map(|new| if new { ids.next() } else { None })
            .collect())
    }

    /// Deletes the records of runs planned before `before` (now less
    /// [`FIRE_RECORD_HORIZON`]), except each job's latest, which [`Odb::job_last_runs`] needs
    /// to find runs missed while no scheduler ran: the table holds minutes of runs however
    /// long the cluster runs.
    pub async fn job_prune_fires(&self, before: &str) -> OdbResult<u64> {
        let sql = match self.engine() {
            crate::config::OdbEngine::Mysql => {
                "DELETE f FROM job_fire f JOIN (SELECT job_id, MAX(planned) AS latest FROM job_fire GROUP BY job_id) l \
                 ON l.job_id = f.job_id WHERE f.planned < ? AND f.planned < l.latest"
            }
            _ => {
                "DELETE FROM job_fire WHERE planned < ? AND planned < \
                 (SELECT MAX(l.planned) FROM job_fire l WHERE l.job_id = job_fire.job_id)"
            }
        };
        let res = sqlx::query(self.sql(sql))
            .bind(before.to_string())
            .execute(self.pool())
            .await?;
        Ok(res.rows_affected())
    }

    /// What a server needs to run its jobs' runs, by job id: lighter than [`Odb::job_list`],
    /// as it is read for every batch of runs.
    pub async fn job_fire_targets(&self, cluster_id: i64) -> OdbResult<HashMap<i64, FireTarget>> {
        let mut rows = sqlx::query(self.sql(
            "SELECT j.id, j.name, j.job_type, j.extra, s.name FROM job j \
             JOIN service s ON s.id = j.service_id WHERE j.cluster_id = ?",
        ))
        .bind(cluster_id)
        .fetch(self.pool());
        let mut out = HashMap::new();
        while let Some(r) = rows.try_next().await? {
            let extra: Option<Vec<u8>> = r.try_get(3)?;
            let t = FireTarget {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                job_type: r.try_get(2)?,
                extra: extra.map(|e| String::from_utf8_lossy(&e).into_owned()),
                service_name: r.try_get(4)?,
            };
            out.insert(t.id, t);
        }
        Ok(out)
    }

    /// The latest recorded run of each job of the cluster that has run (job id → planned).
    pub async fn job_last_runs(&self, cluster_id: i64) -> OdbResult<HashMap<i64, String>> {
        let rows = sqlx::query(self.sql(
            "SELECT f.job_id, MAX(f.planned) FROM job_fire f JOIN job j ON j.id = f.job_id WHERE j.cluster_id = ? GROUP BY f.job_id",
        ))
        .bind(cluster_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }
}
