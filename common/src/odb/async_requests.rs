//! `async_request` (ours): asynchronous invocations, stored before their caller gets the CID.
//! A request is claimed by one server process at a time, with a lease (`claimed_until`) the
//! holder renews while the request waits or runs; a holder that dies stops renewing and any
//! server claims the request again (at least once). A request that ran is deleted, so it is
//! never claimed again. Times are naive UTC ISO text with microseconds: text order is time
//! order.
use sqlx::Row;

use super::{Odb, OdbResult};
use crate::config::OdbEngine;

/// An asynchronous invocation as stored (in the ODB, or as JSON in Redis: `kvdb_queue`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AsyncRequest {
    #[serde(skip)]
    pub id: i64,
    pub cid: String,
    pub service: String,
    /// JSON text.
    pub payload: String,
    /// The channel type the service sees (`invoke-async`, `invoke-async-callback`...).
    pub channel: String,
    /// JSON list of the services that get the response, if any.
    pub callback: Option<String>,
    /// The CID of the request this one answers (a callback's).
    pub in_reply_to: Option<String>,
    /// Not run after this time.
    pub expires_at: Option<String>,
    /// Not run before this time (a scheduler's run, stored ahead of its planned time).
    pub not_before: Option<String>,
    /// Who started it, for the service to see, as JSON: `transport`, `meta` and `channel`
    /// (a scheduler's run); None for `invoke_async`.
    pub origin: Option<String>,
}

const COLUMNS: &str =
    "id, cid, service, payload, channel, callback, in_reply_to, expires_at, not_before, origin";
/// The columns a request is stored with, in [`bind_request`]'s order.
const INSERT_COLUMNS: &str = "cluster_id, cid, service, payload, channel, callback, in_reply_to, \
    expires_at, not_before, origin, created_at, claimed_by, claimed_until";
/// A request may be claimed: nobody holds it, and its time has come but not passed.
const FREE: &str = "cluster_id = ? AND (claimed_until IS NULL OR claimed_until < ?) \
    AND (expires_at IS NULL OR expires_at >= ?) AND (not_before IS NULL OR not_before <= ?)";

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds one request's [`INSERT_COLUMNS`].
fn bind_request<'q>(
    q: AnyQuery<'q>,
    cluster_id: i64,
    r: &AsyncRequest,
    claim: Option<(&str, &str)>,
) -> AnyQuery<'q> {
    q.bind(cluster_id)
        .bind(r.cid.clone())
        .bind(r.service.clone())
        .bind(r.payload.clone())
        .bind(r.channel.clone())
        .bind(r.callback.clone())
        .bind(r.in_reply_to.clone())
        .bind(r.expires_at.clone())
        .bind(r.not_before.clone())
        .bind(r.origin.clone())
        .bind(crate::time::utc_now_iso())
        .bind(claim.map(|c| c.0.to_string()))
        .bind(claim.map(|c| c.1.to_string()))
}

/// Requests stored per statement: 13 markers each stays under every backend's limit.
const PUT_CHUNK: usize = 200;

fn from_row(r: &sqlx::any::AnyRow) -> OdbResult<AsyncRequest> {
    Ok(AsyncRequest {
        id: r.try_get(0)?,
        cid: r.try_get(1)?,
        service: r.try_get(2)?,
        payload: r.try_get(3)?,
        channel: r.try_get(4)?,
        callback: r.try_get(5)?,
        in_reply_to: r.try_get(6)?,
        expires_at: r.try_get(7)?,
        not_before: r.try_get(8)?,
        origin: r.try_get(9)?,
    })
}

/// `?, ?, ...` for `n` values.
fn markers(n: usize) -> String {
    vec!["?"; n].join(", ")
}

impl Odb {
    /// The statement that stores one request ([`bind_request`]'s values), its id returned.
    fn put_statement(&self) -> String {
        let sql = format!(
            "INSERT INTO async_request ({INSERT_COLUMNS}) VALUES ({})",
            markers(13)
        );
        self.dialect(&match self.engine() {
            OdbEngine::Mysql => sql,
            _ => format!("{sql} RETURNING id"),
        })
    }

    /// Stores a request (its `id` is ignored) and returns its new id. `claim`: the holder and
    /// lease end, for a request its own server runs at once; None leaves it to any server.
    pub async fn async_put(
        &self,
        cluster_id: i64,
        r: &AsyncRequest,
        claim: Option<(&str, &str)>,
    ) -> OdbResult<i64> {
        let q = bind_request(
            sqlx::query(sqlx::AssertSqlSafe(self.put_statement())),
            cluster_id,
            r,
            claim,
        );
        self.insert_returning_id(q).await
    }

    /// [`Odb::async_put`] for several requests, all or none (one transaction); their new ids
    /// in order.
    pub async fn async_put_all(
        &self,
        cluster_id: i64,
        reqs: &[AsyncRequest],
        claim: Option<(&str, &str)>,
    ) -> OdbResult<Vec<i64>> {
        if let [one] = reqs {
            return Ok(vec![self.async_put(cluster_id, one, claim).await?]);
        }
        let sql = self.put_statement();
        let mut tx = self.begin_write().await?;
        let mut ids = Vec::with_capacity(reqs.len());
        for r in reqs {
            let q = bind_request(
                sqlx::query(sqlx::AssertSqlSafe(sql.clone())),
                cluster_id,
                r,
                claim,
            );
            ids.push(self.insert_returning_id_on(&mut tx, q).await?);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Stores requests on `conn` (a transaction's), all held by `claim` (holder, lease end),
    /// in statements of a few hundred; returns their ids in order.
    pub async fn async_put_many_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        cluster_id: i64,
        reqs: &[AsyncRequest],
        claim: (&str, &str),
    ) -> OdbResult<Vec<i64>> {
        let mut ids = std::collections::HashMap::with_capacity(reqs.len());
        for chunk in reqs.chunks(PUT_CHUNK) {
            let one = format!("({})", markers(13));
            let values = vec![one.as_str(); chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO async_request ({INSERT_COLUMNS}) VALUES {values} RETURNING id, cid"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(self.dialect(&sql)));
            for r in chunk {
                q = bind_request(q, cluster_id, r, Some(claim));
            }
            for row in q.fetch_all(&mut *conn).await? {
                ids.insert(row.try_get::<String, _>(1)?, row.try_get::<i64, _>(0)?);
            }
        }
        Ok(reqs
            .iter()
            .map(|r| ids.get(&r.cid).copied().unwrap_or(0))
            .collect())
    }

    /// Claims up to `limit` requests nobody holds (never claimed, or their holder's lease
    /// ended before `now`) and not expired, oldest first, for `holder` until `until`.
    /// Concurrent claimers never get the same request.
    pub async fn async_claim(
        &self,
        cluster_id: i64,
        holder: &str,
        until: &str,
        now: &str,
        limit: usize,
    ) -> OdbResult<Vec<AsyncRequest>> {
        let free = FREE;
        if self.engine() != OdbEngine::Mysql {
            // One statement: SQLite runs it alone, PostgreSQL skips rows others are claiming.
            let lock = match self.engine() {
                OdbEngine::Postgresql => " FOR UPDATE SKIP LOCKED",
                _ => "",
            };
            let sql = format!(
                "UPDATE async_request SET claimed_by = ?, claimed_until = ? WHERE id IN \
                 (SELECT id FROM async_request WHERE {free} ORDER BY id LIMIT {limit}{lock}) \
                 RETURNING {COLUMNS}"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(self.dialect(&sql)))
                .bind(holder.to_string())
                .bind(until.to_string())
                .bind(cluster_id)
                .bind(now.to_string())
                .bind(now.to_string())
                .bind(now.to_string())
                .fetch_all(self.pool())
                .await?;
            let mut out = rows.iter().map(from_row).collect::<OdbResult<Vec<_>>>()?;
            out.sort_by_key(|r| r.id);
            return Ok(out);
        }
        // MariaDB has no UPDATE ... RETURNING: lock, claim, read back.
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT id FROM async_request WHERE {free} ORDER BY id LIMIT {limit} FOR UPDATE SKIP LOCKED"
        );
        let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(cluster_id)
            .bind(now.to_string())
            .bind(now.to_string())
            .bind(now.to_string())
            .fetch_all(&mut *tx)
            .await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let list = markers(ids.len());
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE async_request SET claimed_by = ?, claimed_until = ? WHERE id IN ({list})"
        )))
        .bind(holder.to_string())
        .bind(until.to_string());
        for id in &ids {
            q = q.bind(*id);
        }
        q.execute(&mut *tx).await?;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM async_request WHERE id IN ({list}) ORDER BY id"
        )));
        for id in &ids {
            q = q.bind(*id);
        }
        let rows = q.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.iter().map(from_row).collect()
    }

    /// Extends the lease of every request `holder` holds (waiting or running) to `until`.
    pub async fn async_renew(&self, holder: &str, until: &str) -> OdbResult<u64> {
        let res = sqlx::query(
            self.sql("UPDATE async_request SET claimed_until = ? WHERE claimed_by = ?"),
        )
        .bind(until.to_string())
        .bind(holder.to_string())
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected())
    }

    /// Deletes requests that ran, in one statement per thousand.
    pub async fn async_done(&self, ids: &[i64]) -> OdbResult<()> {
        for chunk in ids.chunks(1000) {
            let sql = format!(
                "DELETE FROM async_request WHERE id IN ({})",
                markers(chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(self.dialect(&sql)));
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(self.pool()).await?;
        }
        Ok(())
    }

    /// How many async requests of the cluster are stored (waiting, held or not yet deleted).
    pub async fn async_count(&self, cluster_id: i64) -> OdbResult<i64> {
        Ok(
            sqlx::query_scalar(self.sql("SELECT COUNT(*) FROM async_request WHERE cluster_id = ?"))
                .bind(cluster_id)
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// Whether the cluster has requests to claim (`free`) or to drop as expired, by reads
    /// only: an idle server looks without writing.
    pub async fn async_probe(&self, cluster_id: i64, now: &str) -> OdbResult<(bool, bool)> {
        let expired =
            "cluster_id = ? AND (claimed_until IS NULL OR claimed_until < ?) AND expires_at < ?";
        let mut out = [false; 2];
        for (i, (cond, markers)) in [(FREE, 4), (expired, 3)].into_iter().enumerate() {
            let sql = format!("SELECT id FROM async_request WHERE {cond} LIMIT 1");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(self.dialect(&sql))).bind(cluster_id);
            for _ in 1..markers {
                q = q.bind(now.to_string());
            }
            out[i] = q.fetch_optional(self.pool()).await?.is_some();
        }
        Ok((out[0], out[1]))
    }

    /// Deletes the cluster's requests that expired unrun and nobody holds, returning them.
    pub async fn async_drop_expired(
        &self,
        cluster_id: i64,
        now: &str,
    ) -> OdbResult<Vec<AsyncRequest>> {
        let sql = format!(
            "DELETE FROM async_request WHERE cluster_id = ? AND expires_at < ? \
             AND (claimed_until IS NULL OR claimed_until < ?) RETURNING {COLUMNS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.dialect(&sql)))
            .bind(cluster_id)
            .bind(now.to_string())
            .bind(now.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }
}
