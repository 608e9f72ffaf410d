//! Security definitions: `sec_base` plus the subtype tables (`sec_basic_auth`, `sec_apikey`,
//! `sec_wss_def`, `sec_jwt`). Technical accounts keep everything in `sec_base`.
use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Odb, OdbError, OdbResult, b, conflict_or};

pub const BASIC_AUTH: &str = "basic_auth";
pub const APIKEY: &str = "apikey";
pub const WSS: &str = "wss";
pub const JWT: &str = "jwt";
/// Upstream 2.x's technical accounts: HTTP Basic Auth whose user name is the definition's name.
pub const TECH_ACCOUNT: &str = "tech_acc";
/// Every type this build stores and enforces.
pub const SEC_TYPES: &[&str] = &[BASIC_AUTH, APIKEY, WSS, JWT, TECH_ACCOUNT];

/// WS-Security `password_type`s: `PasswordText` and `PasswordDigest`.
pub const WSS_CLEAR_TEXT: &str = "clear_text";
pub const WSS_DIGEST: &str = "digest";

#[derive(Debug, Clone, Serialize)]
pub struct SecDef {
    pub id: i64,
    pub name: String,
    pub username: String,
    /// As stored: `zato.secf.<fernet>` or plain text. Never serialised.
    #[serde(skip)]
    pub password: Option<String>,
    pub password_type: Option<String>,
    pub is_active: bool,
    pub sec_type: String,
    pub realm: Option<String>,
    pub header: Option<String>,
    pub wss: Option<WssOpts>,
    pub ttl: Option<i64>,
}

/// The WS-Security checks of a definition (`sec_wss_def`).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct WssOpts {
    pub reject_empty_nonce_creat: bool,
    pub reject_stale_tokens: bool,
    /// Seconds a token's `Created` may lie in the past.
    pub reject_expiry_limit: i64,
    /// Seconds a nonce is remembered (a replay within it is refused).
    pub nonce_freshness_time: i64,
}

impl Default for WssOpts {
    fn default() -> Self {
        Self {
            reject_empty_nonce_creat: true,
            reject_stale_tokens: true,
            reject_expiry_limit: 3600,
            nonce_freshness_time: 3600,
        }
    }
}

/// Input of create and edit. Subtype fields matter only for their type: `realm` (Basic Auth),
/// `header` (API keys), `password_type` and `wss` (WS-Security), `ttl` (JWT, seconds).
#[derive(Debug, Clone, Default)]
pub struct SecInput {
    pub name: String,
    pub username: String,
    pub is_active: bool,
    pub realm: String,
    pub header: String,
    pub password_type: String,
    pub wss: WssOpts,
    pub ttl: i64,
}

macro_rules! sec_sql {
    ($cond:literal) => {
        concat!(
            "SELECT s.id, s.name, s.username, s.password, s.is_active, s.sec_type, ",
            "ba.realm, ak.header, s.password_type, w.reject_empty_nonce_creat, ",
            "w.reject_stale_tokens, w.reject_expiry_limit, w.nonce_freshness_time, j.ttl ",
            "FROM sec_base s ",
            "LEFT JOIN sec_basic_auth ba ON ba.id = s.id LEFT JOIN sec_apikey ak ON ak.id = s.id ",
            "LEFT JOIN sec_wss_def w ON w.id = s.id LEFT JOIN sec_jwt j ON j.id = s.id WHERE ",
            $cond
        )
    };
}

fn sec_from(row: &AnyRow) -> OdbResult<SecDef> {
    let sec_type: String = row.try_get(5)?;
    let wss = if sec_type == WSS {
        Some(WssOpts {
            reject_empty_nonce_creat: row.try_get::<Option<i64>, _>(9)?.unwrap_or(1) != 0,
            reject_stale_tokens: row.try_get::<Option<i64>, _>(10)?.unwrap_or(1) != 0,
            reject_expiry_limit: row.try_get::<Option<i64>, _>(11)?.unwrap_or(3600),
            nonce_freshness_time: row.try_get::<Option<i64>, _>(12)?.unwrap_or(3600),
        })
    } else {
        None
    };
    Ok(SecDef {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        username: row.try_get(2)?,
        password: row.try_get(3)?,
        is_active: row.try_get::<i64, _>(4)? != 0,
        sec_type,
        realm: row.try_get(6)?,
        header: row.try_get(7)?,
        password_type: row.try_get(8)?,
        wss,
        ttl: row.try_get(13)?,
    })
}

impl Odb {
    /// Every definition of the cluster, optionally of one type.
    pub async fn security_list(
        &self,
        cluster_id: i64,
        sec_type: Option<&str>,
    ) -> OdbResult<Vec<SecDef>> {
        let rows = match sec_type {
            Some(t) => {
                sqlx::query(self.sql(sec_sql!(
                    "s.cluster_id = ? AND s.sec_type = ? ORDER BY s.name"
                )))
                .bind(cluster_id)
                .bind(t.to_string())
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(self.sql(sec_sql!("s.cluster_id = ? ORDER BY s.name")))
                    .bind(cluster_id)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.iter().map(sec_from).collect()
    }

    pub async fn security_by_id(&self, cluster_id: i64, id: i64) -> OdbResult<Option<SecDef>> {
        let row = sqlx::query(self.sql(sec_sql!("s.cluster_id = ? AND s.id = ?")))
            .bind(cluster_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(sec_from).transpose()
    }

    pub async fn security_by_name(&self, cluster_id: i64, name: &str) -> OdbResult<Option<SecDef>> {
        let row = sqlx::query(self.sql(sec_sql!("s.cluster_id = ? AND s.name = ?")))
            .bind(cluster_id)
            .bind(name.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(sec_from).transpose()
    }

    /// Creates a definition; `password` is stored as given (callers encrypt it first).
    pub async fn security_create(
        &self,
        cluster_id: i64,
        sec_type: &str,
        input: &SecInput,
        password: &str,
    ) -> OdbResult<i64> {
        let mut conn = self.pool().acquire().await?;
        self.security_create_on(&mut conn, cluster_id, sec_type, input, password)
            .await
    }

    /// [`Odb::security_create`] on a given connection (a transaction's, for enmasse).
    pub async fn security_create_on(
        &self,
        conn: &mut AnyConnection,
        cluster_id: i64,
        sec_type: &str,
        input: &SecInput,
        password: &str,
    ) -> OdbResult<i64> {
        let q = sqlx::query(self.sql_insert(
            "INSERT INTO sec_base (name, username, password, password_type, is_active, sec_type, cluster_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(input.name.clone())
        .bind(input.username.clone())
        .bind(password.to_string())
        .bind(password_type(sec_type, input))
        .bind(b(input.is_active))
        .bind(sec_type.to_string())
        .bind(cluster_id);
        let id = self.insert_returning_id_on(conn, q).await.map_err(|e| match e {
            OdbError::Query(err) => conflict_or(err, || {
                format!(
                    "a security definition named `{}` (or a {sec_type} definition for user `{}`) already exists",
                    input.name, input.username
                )
            }),
            other => other,
        })?;
        self.write_subtype(conn, id, sec_type, input).await?;
        Ok(id)
    }

    async fn write_subtype(
        &self,
        conn: &mut AnyConnection,
        id: i64,
        sec_type: &str,
        input: &SecInput,
    ) -> OdbResult<()> {
        let table = match sec_type {
            BASIC_AUTH => "sec_basic_auth",
            APIKEY => "sec_apikey",
            WSS => "sec_wss_def",
            JWT => "sec_jwt",
            _ => return Ok(()),
        };
        sqlx::query(sqlx::AssertSqlSafe(
            self.dialect(&format!("DELETE FROM {table} WHERE id = ?")),
        ))
        .bind(id)
        .execute(&mut *conn)
        .await?;
        let q = match sec_type {
            BASIC_AUTH => sqlx::query(self.sql("INSERT INTO sec_basic_auth (id, realm) VALUES (?, ?)"))
                .bind(id)
                .bind(input.realm.clone()),
            APIKEY => sqlx::query(self.sql("INSERT INTO sec_apikey (id, header) VALUES (?, ?)"))
                .bind(id)
                .bind(input.header.clone()),
            WSS => sqlx::query(self.sql(
                "INSERT INTO sec_wss_def (id, reject_empty_nonce_creat, reject_stale_tokens, reject_expiry_limit, nonce_freshness_time) VALUES (?, ?, ?, ?, ?)",
            ))
            .bind(id)
            .bind(b(input.wss.reject_empty_nonce_creat))
            .bind(b(input.wss.reject_stale_tokens))
            .bind(input.wss.reject_expiry_limit)
            .bind(input.wss.nonce_freshness_time),
            _ => sqlx::query(self.sql("INSERT INTO sec_jwt (id, ttl) VALUES (?, ?)"))
                .bind(id)
                .bind(input.ttl),
        };
        q.execute(&mut *conn).await?;
        Ok(())
    }

    pub async fn security_edit(
        &self,
        cluster_id: i64,
        id: i64,
        sec_type: &str,
        input: &SecInput,
    ) -> OdbResult<()> {
        let mut conn = self.pool().acquire().await?;
        self.security_edit_on(&mut conn, cluster_id, id, sec_type, input)
            .await
    }

    /// [`Odb::security_edit`] on a given connection (a transaction's, for enmasse).
    pub async fn security_edit_on(
        &self,
        conn: &mut AnyConnection,
        cluster_id: i64,
        id: i64,
        sec_type: &str,
        input: &SecInput,
    ) -> OdbResult<()> {
        let res = sqlx::query(self.sql(
            "UPDATE sec_base SET name = ?, username = ?, is_active = ?, password_type = ? WHERE cluster_id = ? AND id = ? AND sec_type = ?",
        ))
        .bind(input.name.clone())
        .bind(input.username.clone())
        .bind(b(input.is_active))
        .bind(password_type(sec_type, input))
        .bind(cluster_id)
        .bind(id)
        .bind(sec_type.to_string())
        .execute(&mut *conn)
        .await
        .map_err(|e| conflict_or(e, || format!("a security definition named `{}` already exists", input.name)))?;
        if res.rows_affected() == 0 {
            return Err(OdbError::NotFound(format!(
                "no {sec_type} definition with id {id}"
            )));
        }
        self.write_subtype(conn, id, sec_type, input).await
    }

    pub async fn security_set_password(
        &self,
        cluster_id: i64,
        id: i64,
        stored: &str,
    ) -> OdbResult<u64> {
        let mut conn = self.pool().acquire().await?;
        self.security_set_password_on(&mut conn, cluster_id, id, stored)
            .await
    }

    pub async fn security_set_password_on(
        &self,
        conn: &mut AnyConnection,
        cluster_id: i64,
        id: i64,
        stored: &str,
    ) -> OdbResult<u64> {
        self.set_secret_on(conn, "sec_base", cluster_id, id, stored)
            .await
    }

    /// Deletes a definition; one still used by a channel is refused.
    pub async fn security_delete(&self, cluster_id: i64, id: i64) -> OdbResult<u64> {
        let in_use = sqlx::query(
            self.sql("SELECT name FROM http_soap WHERE cluster_id = ? AND security_id = ?"),
        )
        .bind(cluster_id)
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        if !in_use.is_empty() {
            let names: Vec<String> = in_use
                .iter()
                .filter_map(|r| r.try_get::<String, _>(0).ok())
                .collect();
            return Err(OdbError::Conflict(format!(
                "the security definition is used by channels {names:?}; change or delete them first"
            )));
        }
        let mut tx = self.begin_write().await?;
        for sql in [
            "DELETE FROM sec_basic_auth WHERE id = ?",
            "DELETE FROM sec_apikey WHERE id = ?",
            "DELETE FROM sec_wss_def WHERE id = ?",
            "DELETE FROM sec_jwt WHERE id = ?",
        ] {
            sqlx::query(self.sql(sql))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let res = sqlx::query(self.sql("DELETE FROM sec_base WHERE cluster_id = ? AND id = ?"))
            .bind(cluster_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(res.rows_affected())
    }
}

/// What `sec_base.password_type` holds: the WS-Security password type, else upstream's default.
fn password_type(sec_type: &str, input: &SecInput) -> String {
    if sec_type == WSS && input.password_type == WSS_DIGEST {
        WSS_DIGEST.to_string()
    } else {
        WSS_CLEAR_TEXT.to_string()
    }
}
