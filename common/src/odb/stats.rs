//! `service_stats` and `service_sample` (ours): what the servers' statistics observers
//! recorded. Each row is one service over one period — a minute, hour, day or month starting at
//! `period_start` (naive UTC `YYYY-MM-DDTHH:MM:SS`, so text order is time order) — with its
//! number of calls, failures and total, least and greatest time. Every server process adds to
//! the same rows (an upsert that sums), so a period's row is the cluster's. Older minutes are
//! rolled up into hours, hours into days and days into months; a call is counted in exactly one
//! row, so a range adds up every row that starts inside it, whatever its granularity.
//! `service_sample` keeps the latest sampled and slow request/response pairs of each service.
use std::collections::BTreeMap;

use sqlx::Row;

use super::{Odb, OdbResult};
use crate::config::OdbEngine;

/// How long a row's period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Granularity {
    Minute,
    Hour,
    Day,
    Month,
}

impl Granularity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Month => "month",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "minute" => Self::Minute,
            "hour" => Self::Hour,
            "day" => Self::Day,
            "month" => Self::Month,
            _ => return None,
        })
    }

    /// The start of the period of this granularity that `start` (a period start) falls in.
    pub fn truncate(self, start: &str) -> String {
        let keep = match self {
            Self::Minute => 16,
            Self::Hour => 13,
            Self::Day => 10,
            Self::Month => 7,
        };
        let head = start.get(..keep).unwrap_or(start);
        match self {
            Self::Minute => format!("{head}:00"),
            Self::Hour => format!("{head}:00:00"),
            Self::Day => format!("{head}T00:00:00"),
            Self::Month => format!("{head}-01T00:00:00"),
        }
    }
}

/// One service over one period.
#[derive(Debug, Clone, PartialEq)]
pub struct StatRow {
    pub service: String,
    pub granularity: Granularity,
    /// `YYYY-MM-DDTHH:MM:SS`, naive UTC.
    pub period_start: String,
    pub usage: i64,
    pub errors: i64,
    /// Microseconds.
    pub total_us: i64,
    pub min_us: i64,
    pub max_us: i64,
}

impl StatRow {
    /// Adds `other`'s calls to this row's.
    pub fn merge(&mut self, other: &StatRow) {
        self.usage += other.usage;
        self.errors += other.errors;
        self.total_us += other.total_us;
        self.min_us = self.min_us.min(other.min_us);
        self.max_us = self.max_us.max(other.max_us);
    }
}

/// A sampled or slow request/response pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub service: String,
    /// `sample` (one call in N) or `slow` (over the service's threshold).
    pub kind: String,
    pub cid: String,
    pub req_ts: String,
    pub resp_ts: String,
    /// Microseconds.
    pub proc_time_us: i64,
    pub ok: bool,
    pub request: String,
    pub response: String,
}

/// Rows per multi-row statement: 8 markers each stays far below every engine's limit.
const CHUNK: usize = 200;

fn stat_from_row(r: &sqlx::any::AnyRow) -> OdbResult<StatRow> {
    let granularity: String = r.try_get(1)?;
    Ok(StatRow {
        service: r.try_get(0)?,
        // Only this module writes the column; an unknown value would be a newer build's.
        granularity: Granularity::parse(&granularity).unwrap_or(Granularity::Month),
        period_start: r.try_get(2)?,
        usage: r.try_get(3)?,
        errors: r.try_get(4)?,
        total_us: r.try_get(5)?,
        min_us: r.try_get(6)?,
        max_us: r.try_get(7)?,
    })
}

const STAT_COLUMNS: &str =
    "service, granularity, period_start, usage_count, error_count, total_us, min_us, max_us";

impl Odb {
    /// Adds `rows` to what is stored (rows for the same service and period are summed).
    pub async fn stats_add(&self, cluster_id: i64, rows: &[StatRow]) -> OdbResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        // Every process writes in the same order, so two upserting the same rows cannot
        // deadlock each other.
        let mut sorted = rows.to_vec();
        sorted.sort_by(|a, b| {
            (&a.service, a.granularity, &a.period_start).cmp(&(
                &b.service,
                b.granularity,
                &b.period_start,
            ))
        });
        let mut tx = self.begin_write().await?;
        self.stats_add_on(&mut tx, cluster_id, &sorted).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn stats_add_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        cluster_id: i64,
        rows: &[StatRow],
    ) -> OdbResult<()> {
        let update = match self.engine() {
            OdbEngine::Mysql => {
                "ON DUPLICATE KEY UPDATE usage_count = usage_count + VALUES(usage_count), \
                 error_count = error_count + VALUES(error_count), total_us = total_us + VALUES(total_us), \
                 min_us = LEAST(min_us, VALUES(min_us)), max_us = GREATEST(max_us, VALUES(max_us))"
            }
            OdbEngine::Postgresql => {
                "ON CONFLICT (cluster_id, service, granularity, period_start) DO UPDATE SET \
                 usage_count = service_stats.usage_count + excluded.usage_count, \
                 error_count = service_stats.error_count + excluded.error_count, \
                 total_us = service_stats.total_us + excluded.total_us, \
                 min_us = LEAST(service_stats.min_us, excluded.min_us), \
                 max_us = GREATEST(service_stats.max_us, excluded.max_us)"
            }
            OdbEngine::Sqlite => {
                "ON CONFLICT (cluster_id, service, granularity, period_start) DO UPDATE SET \
                 usage_count = service_stats.usage_count + excluded.usage_count, \
                 error_count = service_stats.error_count + excluded.error_count, \
                 total_us = service_stats.total_us + excluded.total_us, \
                 min_us = min(service_stats.min_us, excluded.min_us), \
                 max_us = max(service_stats.max_us, excluded.max_us)"
            }
        };
        for chunk in rows.chunks(CHUNK) {
            let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO service_stats (cluster_id, {STAT_COLUMNS}) VALUES {values} {update}"
            );
            let sql = self.dialect(&sql);
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(cluster_id)
                    .bind(r.service.clone())
                    .bind(r.granularity.as_str())
                    .bind(r.period_start.clone())
                    .bind(r.usage)
                    .bind(r.errors)
                    .bind(r.total_us)
                    .bind(r.min_us)
                    .bind(r.max_us);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Every row starting in `[start, stop)`, of every service or of one.
    pub async fn stats_between(
        &self,
        cluster_id: i64,
        start: &str,
        stop: &str,
        service: Option<&str>,
    ) -> OdbResult<Vec<StatRow>> {
        let one = if service.is_some() {
            " AND service = ?"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {STAT_COLUMNS} FROM service_stats WHERE cluster_id = ? AND period_start >= ? \
             AND period_start < ?{one} ORDER BY period_start"
        );
        let sql = self.dialect(&sql);
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(cluster_id)
            .bind(start.to_string())
            .bind(stop.to_string());
        if let Some(s) = service {
            q = q.bind(s.to_string());
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
            .map(stat_from_row)
            .collect()
    }

    /// Folds the rows of granularity `from` starting before `before` into rows of `to`, in one
    /// transaction; returns how many rows were folded.
    pub async fn stats_roll_up(
        &self,
        cluster_id: i64,
        from: Granularity,
        to: Granularity,
        before: &str,
    ) -> OdbResult<usize> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT {STAT_COLUMNS} FROM service_stats WHERE cluster_id = ? AND granularity = ? \
             AND period_start < ?"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.dialect(&sql)))
            .bind(cluster_id)
            .bind(from.as_str())
            .bind(before.to_string())
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut folded: BTreeMap<(String, String), StatRow> = BTreeMap::new();
        for r in &rows {
            let row = stat_from_row(r)?;
            let start = to.truncate(&row.period_start);
            folded
                .entry((row.service.clone(), start.clone()))
                .and_modify(|f| f.merge(&row))
                .or_insert(StatRow {
                    granularity: to,
                    period_start: start,
                    ..row
                });
        }
        let folded: Vec<StatRow> = folded.into_values().collect();
        self.stats_add_on(&mut tx, cluster_id, &folded).await?;
        sqlx::query(self.sql(
            "DELETE FROM service_stats WHERE cluster_id = ? AND granularity = ? AND period_start < ?",
        ))
        .bind(cluster_id)
        .bind(from.as_str())
        .bind(before.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Deletes the rows starting in `[start, stop)`; returns how many.
    pub async fn stats_delete(&self, cluster_id: i64, start: &str, stop: &str) -> OdbResult<u64> {
        let res = sqlx::query(self.sql(
            "DELETE FROM service_stats WHERE cluster_id = ? AND period_start >= ? AND period_start < ?",
        ))
        .bind(cluster_id)
        .bind(start.to_string())
        .bind(stop.to_string())
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected())
    }

    /// Stores `samples`, then keeps only the latest `keep` of each service and kind written.
    pub async fn samples_add(
        &self,
        cluster_id: i64,
        samples: &[Sample],
        keep: i64,
    ) -> OdbResult<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in samples.chunks(CHUNK / 2) {
            let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO service_sample (cluster_id, service, kind, cid, req_ts, resp_ts, \
                 proc_time_us, ok, request, response) VALUES {values}"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(self.dialect(&sql)));
            for s in chunk {
                q = q
                    .bind(cluster_id)
                    .bind(s.service.clone())
                    .bind(s.kind.clone())
                    .bind(s.cid.clone())
                    .bind(s.req_ts.clone())
                    .bind(s.resp_ts.clone())
                    .bind(s.proc_time_us)
                    .bind(super::b(s.ok))
                    .bind(s.request.clone())
                    .bind(s.response.clone());
            }
            q.execute(&mut *tx).await?;
        }
        let mut written: Vec<(&str, &str)> = samples
            .iter()
            .map(|s| (s.service.as_str(), s.kind.as_str()))
            .collect();
        written.sort_unstable();
        written.dedup();
        for (service, kind) in written {
            // The id of the oldest one kept; MySQL allows no LIMIT inside IN (...).
            let oldest: Option<i64> = sqlx::query_scalar(self.sql(
                "SELECT id FROM service_sample WHERE cluster_id = ? AND service = ? AND kind = ? \
                 ORDER BY id DESC LIMIT 1 OFFSET ?",
            ))
            .bind(cluster_id)
            .bind(service.to_string())
            .bind(kind.to_string())
            .bind(keep.max(1) - 1)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(oldest) = oldest {
                sqlx::query(self.sql(
                    "DELETE FROM service_sample WHERE cluster_id = ? AND service = ? AND kind = ? AND id < ?",
                ))
                .bind(cluster_id)
                .bind(service.to_string())
                .bind(kind.to_string())
                .bind(oldest)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The kept samples of `kind` of `service`, newest first; `cid` narrows to one call.
    pub async fn samples_list(
        &self,
        cluster_id: i64,
        service: &str,
        kind: &str,
        cid: Option<&str>,
    ) -> OdbResult<Vec<Sample>> {
        let one = if cid.is_some() { " AND cid = ?" } else { "" };
        let sql = format!(
            "SELECT service, kind, cid, req_ts, resp_ts, proc_time_us, ok, request, response \
             FROM service_sample WHERE cluster_id = ? AND service = ? AND kind = ?{one} ORDER BY id DESC"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.dialect(&sql)))
            .bind(cluster_id)
            .bind(service.to_string())
            .bind(kind.to_string());
        if let Some(c) = cid {
            q = q.bind(c.to_string());
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(Sample {
                    service: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    cid: r.try_get(2)?,
                    req_ts: r.try_get(3)?,
                    resp_ts: r.try_get(4)?,
                    proc_time_us: r.try_get(5)?,
                    ok: r.try_get::<i64, _>(6)? != 0,
                    request: r.try_get(7)?,
                    response: r.try_get(8)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Granularity::*;

    #[test]
    fn periods_truncate_to_their_start() {
        let s = "2026-12-07T04:37:00";
        assert_eq!(Minute.truncate(s), "2026-12-07T04:37:00");
        assert_eq!(Hour.truncate(s), "2026-12-07T04:00:00");
        assert_eq!(Day.truncate(s), "2026-12-07T00:00:00");
        assert_eq!(Month.truncate(s), "2026-12-01T00:00:00");
    }
}
