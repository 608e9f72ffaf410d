//! `cluster` and `server` rows.
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Odb, OdbError, OdbResult, conflict_or};
use crate::time::utc_now_iso;

#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub odb_type: String,
    pub lb_host: String,
    pub lb_port: i64,
    pub lb_agent_port: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Server {
    pub id: i64,
    pub cluster_id: i64,
    pub name: String,
    pub host: Option<String>,
    pub bind_host: Option<String>,
    pub bind_port: Option<i64>,
    pub last_join_status: String,
    pub last_join_mod_date: Option<String>,
    pub last_join_mod_by: Option<String>,
    pub up_status: Option<String>,
    pub up_mod_date: Option<String>,
}

pub struct NewCluster<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub odb_type: &'a str,
    pub lb_host: &'a str,
    pub lb_port: u16,
    pub lb_agent_port: u16,
}

fn cluster_from(row: &AnyRow) -> OdbResult<Cluster> {
    Ok(Cluster {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        odb_type: row.try_get("odb_type")?,
        lb_host: row.try_get("lb_host")?,
        lb_port: row.try_get("lb_port")?,
        lb_agent_port: row.try_get("lb_agent_port")?,
    })
}

macro_rules! server_sql {
    ($cond:literal) => {
        concat!(
            "SELECT id, cluster_id, name, host, bind_host, bind_port, last_join_status, ",
            "last_join_mod_date, last_join_mod_by, up_status, up_mod_date FROM server WHERE ",
            $cond
        )
    };
}

fn server_from(row: &AnyRow) -> OdbResult<Server> {
    Ok(Server {
        id: row.try_get("id")?,
        cluster_id: row.try_get("cluster_id")?,
        name: row.try_get("name")?,
        host: row.try_get("host")?,
        bind_host: row.try_get("bind_host")?,
        bind_port: row.try_get("bind_port")?,
        last_join_status: row.try_get("last_join_status")?,
        last_join_mod_date: row.try_get("last_join_mod_date")?,
        last_join_mod_by: row.try_get("last_join_mod_by")?,
        up_status: row.try_get("up_status")?,
        up_mod_date: row.try_get("up_mod_date")?,
    })
}

impl Odb {
    pub async fn create_cluster(&self, c: &NewCluster<'_>) -> OdbResult<i64> {
        let q = sqlx::query(self.sql_insert(
            "INSERT INTO cluster (name, description, odb_type, lb_host, lb_port, lb_agent_port) VALUES (?, ?, ?, ?, ?, ?)",
        ))
            .bind(c.name.to_string())
            .bind(c.description.to_string())
            .bind(c.odb_type.to_string())
            .bind(c.lb_host.to_string())
            .bind(i64::from(c.lb_port))
            .bind(i64::from(c.lb_agent_port));
        self.insert_returning_id(q).await.map_err(|e| match e {
            OdbError::Query(err) => conflict_or(err, || {
                format!("a cluster named `{}` already exists in the ODB", c.name)
            }),
            other => other,
        })
    }

    pub async fn cluster_by_name(&self, name: &str) -> OdbResult<Option<Cluster>> {
        let row = sqlx::query(self.sql(
            "SELECT id, name, description, odb_type, lb_host, lb_port, lb_agent_port FROM cluster WHERE name = ?",
        ))
        .bind(name.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(cluster_from).transpose()
    }

    /// Names of every cluster in the ODB.
    pub async fn cluster_names(&self) -> OdbResult<Vec<String>> {
        let rows = sqlx::query("SELECT name FROM cluster ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(Into::into))
            .collect()
    }

    pub async fn cluster_by_id(&self, id: i64) -> OdbResult<Option<Cluster>> {
        let row = sqlx::query(self.sql(
            "SELECT id, name, description, odb_type, lb_host, lb_port, lb_agent_port FROM cluster WHERE id = ?",
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(cluster_from).transpose()
    }

    pub async fn create_server_row(
        &self,
        cluster_id: i64,
        name: &str,
        token: &str,
    ) -> OdbResult<i64> {
        let q = sqlx::query(self.sql_insert(
            "INSERT INTO server (name, last_join_status, last_join_mod_date, last_join_mod_by, token, cluster_id) VALUES (?, 'accepted', ?, ?, ?, ?)",
        ))
            .bind(name.to_string())
            .bind(utc_now_iso())
            .bind("zato-create".to_string())
            .bind(token.to_string())
            .bind(cluster_id);
        self.insert_returning_id(q).await.map_err(|e| match e {
            OdbError::Query(err) => conflict_or(err, || {
                format!("a server named `{name}` already exists in this cluster")
            }),
            other => other,
        })
    }

    pub async fn server_by_token(&self, token: &str) -> OdbResult<Option<Server>> {
        let row = sqlx::query(self.sql(server_sql!("token = ?")))
            .bind(token.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(server_from).transpose()
    }

    pub async fn server_list(&self, cluster_id: i64) -> OdbResult<Vec<Server>> {
        let rows = sqlx::query(self.sql(server_sql!("cluster_id = ? ORDER BY id")))
            .bind(cluster_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(server_from).collect()
    }

    pub async fn set_server_up(
        &self,
        server_id: i64,
        host: &str,
        bind_host: &str,
        bind_port: u16,
        up_status: &str,
    ) -> OdbResult<()> {
        sqlx::query(self.sql(
            "UPDATE server SET host = ?, bind_host = ?, bind_port = ?, up_status = ?, up_mod_date = ? WHERE id = ?",
        ))
        .bind(host.to_string())
        .bind(bind_host.to_string())
        .bind(i64::from(bind_port))
        .bind(up_status.to_string())
        .bind(utc_now_iso())
        .bind(server_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
