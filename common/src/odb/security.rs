//! Security definitions: `sec_base` plus the `sec_basic_auth` and `sec_apikey` subtype tables.
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Odb, OdbError, OdbResult, b, conflict_or};

pub const BASIC_AUTH: &str = "basic_auth";
pub const APIKEY: &str = "apikey";

#[derive(Debug, Clone, Serialize)]
pub struct SecDef {
    pub id: i64,
    pub name: String,
    pub username: String,
    /// As stored: `zato.secf.<fernet>` or plain text. Never serialised.
    #[serde(skip)]
    pub password: Option<String>,
    pub is_active: bool,
    pub sec_type: String,
    pub realm: Option<String>,
    pub header: Option<String>,
}

/// Input of create and edit; `header` is for API keys, `realm` for Basic Auth.
pub struct SecInput<'a> {
    pub name: &'a str,
    pub username: &'a str,
    pub is_active: bool,
    pub realm: &'a str,
    pub header: &'a str,
}

macro_rules! sec_sql {
    ($cond:literal) => {
        concat!(
            "SELECT s.id, s.name, s.username, s.password, s.is_active, s.sec_type, ",
            "ba.realm, ak.header FROM sec_base s ",
            "LEFT JOIN sec_basic_auth ba ON ba.id = s.id LEFT JOIN sec_apikey ak ON ak.id = s.id WHERE ",
            $cond
        )
    };
}

fn sec_from(row: &AnyRow) -> OdbResult<SecDef> {
    Ok(SecDef {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        username: row.try_get(2)?,
        password: row.try_get(3)?,
        is_active: row.try_get::<i64, _>(4)? != 0,
        sec_type: row.try_get(5)?,
        realm: row.try_get(6)?,
        header: row.try_get(7)?,
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
        input: &SecInput<'_>,
        password: &str,
    ) -> OdbResult<i64> {
        let q = sqlx::query(self.sql_insert(
            "INSERT INTO sec_base (name, username, password, password_type, is_active, sec_type, cluster_id) VALUES (?, ?, ?, 'clear_text', ?, ?, ?)",
        ))
        .bind(input.name.to_string())
        .bind(input.username.to_string())
        .bind(password.to_string())
        .bind(b(input.is_active))
        .bind(sec_type.to_string())
        .bind(cluster_id);
        let id = self.insert_returning_id(q).await.map_err(|e| match e {
            OdbError::Query(err) => conflict_or(err, || {
                format!(
                    "a security definition named `{}` (or a {sec_type} definition for user `{}`) already exists",
                    input.name, input.username
                )
            }),
            other => other,
        })?;
        self.write_subtype(id, sec_type, input).await?;
        Ok(id)
    }

    async fn write_subtype(&self, id: i64, sec_type: &str, input: &SecInput<'_>) -> OdbResult<()> {
        let (del, ins, value) = match sec_type {
            BASIC_AUTH => (
                "DELETE FROM sec_basic_auth WHERE id = ?",
                "INSERT INTO sec_basic_auth (id, realm) VALUES (?, ?)",
                input.realm,
            ),
            APIKEY => (
                "DELETE FROM sec_apikey WHERE id = ?",
                "INSERT INTO sec_apikey (id, header) VALUES (?, ?)",
                input.header,
            ),
            _ => return Ok(()),
        };
        sqlx::query(self.sql(del))
            .bind(id)
            .execute(self.pool())
            .await?;
        sqlx::query(self.sql(ins))
            .bind(id)
            .bind(value.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn security_edit(
        &self,
        cluster_id: i64,
        id: i64,
        sec_type: &str,
        input: &SecInput<'_>,
    ) -> OdbResult<()> {
        let res = sqlx::query(self.sql(
            "UPDATE sec_base SET name = ?, username = ?, is_active = ? WHERE cluster_id = ? AND id = ? AND sec_type = ?",
        ))
        .bind(input.name.to_string())
        .bind(input.username.to_string())
        .bind(b(input.is_active))
        .bind(cluster_id)
        .bind(id)
        .bind(sec_type.to_string())
        .execute(self.pool())
        .await
        .map_err(|e| conflict_or(e, || format!("a security definition named `{}` already exists", input.name)))?;
        if res.rows_affected() == 0 {
            return Err(OdbError::NotFound(format!(
                "no {sec_type} definition with id {id}"
            )));
        }
        self.write_subtype(id, sec_type, input).await
    }

    pub async fn security_set_password(
        &self,
        cluster_id: i64,
        id: i64,
        stored: &str,
    ) -> OdbResult<u64> {
        let res = sqlx::query(
            self.sql("UPDATE sec_base SET password = ? WHERE cluster_id = ? AND id = ?"),
        )
        .bind(stored.to_string())
        .bind(cluster_id)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected())
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
        let mut tx = self.pool().begin().await?;
        for sql in [
            "DELETE FROM sec_basic_auth WHERE id = ?",
            "DELETE FROM sec_apikey WHERE id = ?",
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
