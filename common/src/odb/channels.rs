//! `http_soap` rows: REST/SOAP channels (`connection = channel`) and outgoing connections.
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Odb, OdbError, OdbResult, b, conflict_or};

#[derive(Debug, Clone, Serialize)]
pub struct HttpSoap {
    pub id: i64,
    pub name: String,
    pub is_active: bool,
    pub is_internal: bool,
    pub connection: String,
    pub transport: String,
    pub host: Option<String>,
    pub url_path: String,
    pub method: Option<String>,
    pub soap_action: Option<String>,
    pub soap_version: Option<String>,
    pub data_format: Option<String>,
    pub content_type: Option<String>,
    pub timeout: Option<i64>,
    pub pool_size: Option<i64>,
    /// Outgoing connections: whether the server's TLS certificate is verified (kept in
    /// `opaque1`, as upstream keeps attributes that have no column).
    pub validate_tls: bool,
    pub merge_url_params_req: bool,
    pub url_params_pri: Option<String>,
    pub params_pri: Option<String>,
    pub security_id: Option<i64>,
    pub security_name: Option<String>,
    pub sec_type: Option<String>,
    pub service_id: Option<i64>,
    pub service_name: Option<String>,
    pub cluster_id: i64,
}

/// The writable attributes of a channel or outgoing connection.
#[derive(Debug, Clone)]
pub struct HttpSoapInput {
    pub name: String,
    pub is_active: bool,
    pub is_internal: bool,
    pub connection: String,
    pub transport: String,
    pub host: Option<String>,
    pub url_path: String,
    pub method: Option<String>,
    pub soap_action: Option<String>,
    pub soap_version: Option<String>,
    pub data_format: Option<String>,
    pub content_type: Option<String>,
    pub timeout: Option<i64>,
    pub pool_size: Option<i64>,
    pub validate_tls: bool,
    pub merge_url_params_req: bool,
    pub url_params_pri: Option<String>,
    pub params_pri: Option<String>,
    pub security_id: Option<i64>,
    pub service_id: Option<i64>,
}

fn opaque(i: &HttpSoapInput) -> String {
    serde_json::json!({"validate_tls": i.validate_tls}).to_string()
}

fn validate_tls(opaque1: Option<String>) -> bool {
    opaque1
        .and_then(|o| serde_json::from_str::<serde_json::Value>(&o).ok())
        .and_then(|v| v.get("validate_tls").and_then(|t| t.as_bool()))
        .unwrap_or(true)
}

macro_rules! hs_sql {
    ($cond:literal) => {
        concat!(
            "SELECT h.id, h.name, h.is_active, h.is_internal, h.connection, h.transport, h.host, ",
            "h.url_path, h.method, h.soap_action, h.soap_version, h.data_format, h.content_type, ",
            "h.timeout, h.merge_url_params_req, h.url_params_pri, h.params_pri, h.security_id, ",
            "sb.name, sb.sec_type, h.service_id, sv.name, h.cluster_id, h.pool_size, h.opaque1 ",
            "FROM http_soap h ",
            "LEFT JOIN sec_base sb ON sb.id = h.security_id LEFT JOIN service sv ON sv.id = h.service_id WHERE ",
            $cond
        )
    };
}

fn hs_from(r: &AnyRow) -> OdbResult<HttpSoap> {
    Ok(HttpSoap {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        is_active: r.try_get::<i64, _>(2)? != 0,
        is_internal: r.try_get::<i64, _>(3)? != 0,
        connection: r.try_get(4)?,
        transport: r.try_get(5)?,
        host: r.try_get(6)?,
        url_path: r.try_get(7)?,
        method: r.try_get(8)?,
        soap_action: r.try_get(9)?,
        soap_version: r.try_get(10)?,
        data_format: r.try_get(11)?,
        content_type: r.try_get(12)?,
        timeout: r.try_get(13)?,
        merge_url_params_req: r.try_get::<Option<i64>, _>(14)?.unwrap_or(0) != 0,
        url_params_pri: r.try_get(15)?,
        params_pri: r.try_get(16)?,
        security_id: r.try_get(17)?,
        security_name: r.try_get(18)?,
        sec_type: r.try_get(19)?,
        service_id: r.try_get(20)?,
        service_name: r.try_get(21)?,
        cluster_id: r.try_get(22)?,
        pool_size: r.try_get(23)?,
        validate_tls: validate_tls(r.try_get(24)?),
    })
}

impl Odb {
    pub async fn http_soap_list(&self, cluster_id: i64) -> OdbResult<Vec<HttpSoap>> {
        let rows = sqlx::query(self.sql(hs_sql!("h.cluster_id = ? ORDER BY h.id")))
            .bind(cluster_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(hs_from).collect()
    }

    pub async fn http_soap_by_id(&self, cluster_id: i64, id: i64) -> OdbResult<Option<HttpSoap>> {
        let row = sqlx::query(self.sql(hs_sql!("h.cluster_id = ? AND h.id = ?")))
            .bind(cluster_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(hs_from).transpose()
    }

    pub async fn http_soap_by_name(
        &self,
        cluster_id: i64,
        name: &str,
        connection: &str,
    ) -> OdbResult<Option<HttpSoap>> {
        let row = sqlx::query(self.sql(hs_sql!(
            "h.cluster_id = ? AND h.name = ? AND h.connection = ? ORDER BY h.id"
        )))
        .bind(cluster_id)
        .bind(name.to_string())
        .bind(connection.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(hs_from).transpose()
    }

    pub async fn http_soap_create(&self, cluster_id: i64, i: &HttpSoapInput) -> OdbResult<i64> {
        let mut conn = self.pool().acquire().await?;
        self.http_soap_create_on(&mut conn, cluster_id, i).await
    }

    /// [`Odb::http_soap_create`] on a given connection (a transaction's, for enmasse).
    pub async fn http_soap_create_on(
        &self,
        conn: &mut AnyConnection,
        cluster_id: i64,
        i: &HttpSoapInput,
    ) -> OdbResult<i64> {
        let q = sqlx::query(self.sql_insert(
            "INSERT INTO http_soap (name, is_active, is_internal, connection, transport, host, url_path, method, soap_action, soap_version, data_format, content_type, timeout, merge_url_params_req, url_params_pri, params_pri, security_id, service_id, pool_size, opaque1, cluster_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(i.name.clone())
        .bind(b(i.is_active))
        .bind(b(i.is_internal))
        .bind(i.connection.clone())
        .bind(i.transport.clone())
        .bind(i.host.clone())
        .bind(i.url_path.clone())
        .bind(i.method.clone())
        .bind(i.soap_action.clone())
        .bind(i.soap_version.clone())
        .bind(i.data_format.clone())
        .bind(i.content_type.clone())
        .bind(i.timeout)
        .bind(b(i.merge_url_params_req))
        .bind(i.url_params_pri.clone())
        .bind(i.params_pri.clone())
        .bind(i.security_id)
        .bind(i.service_id)
        .bind(i.pool_size)
        .bind(opaque(i))
        .bind(cluster_id);
        self.insert_returning_id_on(conn, q)
            .await
            .map_err(|e| match e {
                OdbError::Query(err) => conflict_or(err, || {
                    format!(
                        "a {} {} named `{}` already exists",
                        i.transport, i.connection, i.name
                    )
                }),
                other => other,
            })
    }

    pub async fn http_soap_edit(
        &self,
        cluster_id: i64,
        id: i64,
        i: &HttpSoapInput,
    ) -> OdbResult<()> {
        let mut conn = self.pool().acquire().await?;
        self.http_soap_edit_on(&mut conn, cluster_id, id, i).await
    }

    /// [`Odb::http_soap_edit`] on a given connection (a transaction's, for enmasse).
    pub async fn http_soap_edit_on(
        &self,
        conn: &mut AnyConnection,
        cluster_id: i64,
        id: i64,
        i: &HttpSoapInput,
    ) -> OdbResult<()> {
        let res = sqlx::query(self.sql(
            "UPDATE http_soap SET name = ?, is_active = ?, is_internal = ?, connection = ?, transport = ?, host = ?, url_path = ?, method = ?, soap_action = ?, soap_version = ?, data_format = ?, content_type = ?, timeout = ?, merge_url_params_req = ?, url_params_pri = ?, params_pri = ?, security_id = ?, service_id = ?, pool_size = ?, opaque1 = ? WHERE cluster_id = ? AND id = ?",
        ))
        .bind(i.name.clone())
        .bind(b(i.is_active))
        .bind(b(i.is_internal))
        .bind(i.connection.clone())
        .bind(i.transport.clone())
        .bind(i.host.clone())
        .bind(i.url_path.clone())
        .bind(i.method.clone())
        .bind(i.soap_action.clone())
        .bind(i.soap_version.clone())
        .bind(i.data_format.clone())
        .bind(i.content_type.clone())
        .bind(i.timeout)
        .bind(b(i.merge_url_params_req))
        .bind(i.url_params_pri.clone())
        .bind(i.params_pri.clone())
        .bind(i.security_id)
        .bind(i.service_id)
        .bind(i.pool_size)
        .bind(opaque(i))
        .bind(cluster_id)
        .bind(id)
        .execute(conn)
        .await
        .map_err(|e| conflict_or(e, || format!("a {} named `{}` already exists", i.connection, i.name)))?;
        if res.rows_affected() == 0 {
            return Err(OdbError::NotFound(format!(
                "no http_soap object with id {id}"
            )));
        }
        Ok(())
    }

    pub async fn http_soap_delete(&self, cluster_id: i64, id: i64) -> OdbResult<u64> {
        let res = sqlx::query(self.sql("DELETE FROM http_soap WHERE cluster_id = ? AND id = ?"))
            .bind(cluster_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(res.rows_affected())
    }
}
