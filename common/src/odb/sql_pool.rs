//! `sql_pool` rows: outgoing SQL connections (`zato.outgoing.sql.*`, `outconn_sql` in enmasse).
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Odb, OdbError, OdbResult, b, conflict_or};

/// The engines an outgoing SQL connection may use, with upstream's names first.
pub const SQL_ENGINES: &[(&str, &str)] = &[
    ("postgresql", "PostgreSQL"),
    ("postgresql+pg8000", "PostgreSQL"),
    ("mysql", "MySQL / MariaDB"),
    ("mysql+pymysql", "MySQL / MariaDB"),
    ("sqlite", "SQLite"),
];

#[derive(Debug, Clone, Serialize)]
pub struct SqlPool {
    pub id: i64,
    pub name: String,
    pub is_active: bool,
    pub engine: String,
    pub host: String,
    pub port: i64,
    pub db_name: String,
    pub username: String,
    /// As stored (`zato.secf.<fernet>`). Never serialised.
    #[serde(skip)]
    pub password: Option<String>,
    pub pool_size: i64,
    pub extra: Option<String>,
}

/// Create/edit input; the password is set apart (change-password).
#[derive(Debug, Clone)]
pub struct SqlPoolInput {
    pub name: String,
    pub is_active: bool,
    pub engine: String,
    pub host: String,
    pub port: i64,
    pub db_name: String,
    pub username: String,
    pub pool_size: i64,
    pub extra: Option<String>,
}

const SELECT: &str = "SELECT id, name, is_active, engine, host, port, db_name, username, password, pool_size, extra FROM sql_pool WHERE cluster_id = ?";

fn from_row(r: &AnyRow) -> OdbResult<SqlPool> {
    Ok(SqlPool {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        is_active: r.try_get::<i64, _>(2)? != 0,
        engine: r.try_get(3)?,
        host: r.try_get(4)?,
        port: r.try_get(5)?,
        db_name: r.try_get(6)?,
        username: r.try_get(7)?,
        password: r.try_get(8)?,
        pool_size: r.try_get(9)?,
        extra: r.try_get(10)?,
    })
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds the columns create and edit share, in their order in both statements.
fn bind_fields<'q>(q: AnyQuery<'q>, i: &SqlPoolInput) -> AnyQuery<'q> {
    q.bind(i.name.clone())
        .bind(b(i.is_active))
        .bind(i.engine.clone())
        .bind(i.host.clone())
        .bind(i.port)
        .bind(i.db_name.clone())
        .bind(i.username.clone())
        .bind(i.pool_size)
        .bind(i.extra.clone())
}

impl Odb {
    pub async fn sql_pool_list(&self, cluster_id: i64) -> OdbResult<Vec<SqlPool>> {
        let sql = self.dialect(&format!("{SELECT} ORDER BY name"));
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(cluster_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// One connection by `id` or by `name`.
    pub async fn sql_pool_get(
        &self,
        cluster_id: i64,
        id: Option<i64>,
        name: Option<&str>,
    ) -> OdbResult<Option<SqlPool>> {
        let row = if let Some(id) = id {
            let sql = self.dialect(&format!("{SELECT} AND id = ?"));
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(cluster_id)
                .bind(id)
                .fetch_optional(self.pool())
                .await?
        } else {
            let sql = self.dialect(&format!("{SELECT} AND name = ?"));
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(cluster_id)
                .bind(name.unwrap_or_default().to_string())
                .fetch_optional(self.pool())
                .await?
        };
        row.as_ref().map(from_row).transpose()
    }

    pub async fn sql_pool_create(
        &self,
        cluster_id: i64,
        i: &SqlPoolInput,
        password: &str,
    ) -> OdbResult<i64> {
        let mut conn = self.pool().acquire().await?;
        self.sql_pool_create_on(&mut conn, cluster_id, i, password)
            .await
    }

    /// [`Odb::sql_pool_create`] on a given connection (a transaction's, for enmasse).
    pub async fn sql_pool_create_on(
        &self,
        conn: &mut AnyConnection,
        cluster_id: i64,
        i: &SqlPoolInput,
        password: &str,
    ) -> OdbResult<i64> {
        let q = sqlx::query(self.sql_insert(
            "INSERT INTO sql_pool (name, is_active, engine, host, port, db_name, username, pool_size, extra, password, cluster_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ));
        let q = bind_fields(q, i)
            .bind(password.to_string())
            .bind(cluster_id);
        self.insert_returning_id_on(conn, q)
            .await
            .map_err(|e| match e {
                OdbError::Query(err) => conflict_or(err, || {
                    format!("an SQL connection named `{}` already exists", i.name)
                }),
                other => other,
            })
    }

    pub async fn sql_pool_edit(&self, cluster_id: i64, id: i64, i: &SqlPoolInput) -> OdbResult<()> {
        let mut conn = self.pool().acquire().await?;
        self.sql_pool_edit_on(&mut conn, cluster_id, id, i).await
    }

    /// [`Odb::sql_pool_edit`] on a given connection (a transaction's, for enmasse).
    pub async fn sql_pool_edit_on(
        &self,
        conn: &mut AnyConnection,
        cluster_id: i64,
        id: i64,
        i: &SqlPoolInput,
    ) -> OdbResult<()> {
        let q = sqlx::query(self.sql(
            "UPDATE sql_pool SET name = ?, is_active = ?, engine = ?, host = ?, port = ?, db_name = ?, username = ?, pool_size = ?, extra = ? WHERE cluster_id = ? AND id = ?",
        ));
        let res = bind_fields(q, i)
            .bind(cluster_id)
            .bind(id)
            .execute(conn)
            .await
            .map_err(|e| {
                conflict_or(e, || {
                    format!("an SQL connection named `{}` already exists", i.name)
                })
            })?;
        if res.rows_affected() == 0 {
            return Err(OdbError::NotFound(format!(
                "no SQL connection with id {id}"
            )));
        }
        Ok(())
    }

    pub async fn sql_pool_set_password_on(
        &self,
        conn: &mut AnyConnection,
        cluster_id: i64,
        id: i64,
        stored: &str,
    ) -> OdbResult<u64> {
        self.set_secret_on(conn, "sql_pool", cluster_id, id, stored)
            .await
    }

    pub async fn sql_pool_set_password(
        &self,
        cluster_id: i64,
        id: i64,
        stored: &str,
    ) -> OdbResult<u64> {
        let mut conn = self.pool().acquire().await?;
        self.sql_pool_set_password_on(&mut conn, cluster_id, id, stored)
            .await
    }

    pub async fn sql_pool_delete(&self, cluster_id: i64, id: i64) -> OdbResult<u64> {
        let res = sqlx::query(self.sql("DELETE FROM sql_pool WHERE cluster_id = ? AND id = ?"))
            .bind(cluster_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(res.rows_affected())
    }
}
