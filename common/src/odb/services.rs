//! `service`, `deployed_service`, `deployment_package` and `deployment_status` rows.
use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Odb, OdbResult, b};
use crate::time::utc_now_iso;

#[derive(Debug, Clone, Serialize)]
pub struct ServiceRow {
    pub id: i64,
    pub name: String,
    pub is_active: bool,
    pub impl_name: String,
    pub is_internal: bool,
    pub slow_threshold: i64,
}

/// The package a deployment comes from, for [`Odb::record_deployment`].
pub enum PackageRef<'a> {
    /// Built-in services: no package.
    None,
    /// Already in the ODB (deployed here after another server stored it).
    Stored(i64),
    /// Stored by this deployment.
    New {
        payload_name: &'a str,
        payload: &'a [u8],
        details: &'a str,
    },
}

#[derive(Debug, Clone)]
pub struct Package {
    pub id: i64,
    pub payload_name: String,
    pub payload: Vec<u8>,
    pub details: String,
    pub deployment_time: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeployedOn {
    pub server_id: i64,
    pub server_name: String,
    pub service_id: i64,
    pub source_path: Option<String>,
    pub source_hash: Option<String>,
    pub deployment_time: String,
    #[serde(skip)]
    pub source: Option<Vec<u8>>,
}

/// What a server reports about one service it has deployed.
pub struct Deployment<'a> {
    pub name: &'a str,
    pub impl_name: &'a str,
    pub is_internal: bool,
    pub source: Option<&'a [u8]>,
    pub source_path: Option<&'a str>,
    pub source_hash: Option<&'a str>,
}

macro_rules! service_sql {
    ($cond:literal) => {
        concat!(
            "SELECT id, name, is_active, impl_name, is_internal, slow_threshold FROM service WHERE ",
            $cond
        )
    };
}

fn service_from(row: &AnyRow) -> OdbResult<ServiceRow> {
    Ok(ServiceRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        is_active: row.try_get::<i64, _>("is_active")? != 0,
        impl_name: row.try_get("impl_name")?,
        is_internal: row.try_get::<i64, _>("is_internal")? != 0,
        slow_threshold: row
            .try_get::<Option<i64>, _>("slow_threshold")?
            .unwrap_or(99999),
    })
}

impl Odb {
    pub async fn service_list(&self, cluster_id: i64) -> OdbResult<Vec<ServiceRow>> {
        let rows = sqlx::query(self.sql(service_sql!("cluster_id = ? ORDER BY name")))
            .bind(cluster_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(service_from).collect()
    }

    pub async fn service_by_name(
        &self,
        cluster_id: i64,
        name: &str,
    ) -> OdbResult<Option<ServiceRow>> {
        let row = sqlx::query(self.sql(service_sql!("cluster_id = ? AND name = ?")))
            .bind(cluster_id)
            .bind(name.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(service_from).transpose()
    }

    pub async fn service_by_id(&self, cluster_id: i64, id: i64) -> OdbResult<Option<ServiceRow>> {
        let row = sqlx::query(self.sql(service_sql!("cluster_id = ? AND id = ?")))
            .bind(cluster_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(service_from).transpose()
    }

    /// Makes sure a `service` row exists for each deployment (a concurrent insert by another
    /// server is not an error) and returns name → service id.
    pub async fn ensure_services(
        &self,
        cluster_id: i64,
        items: &[Deployment<'_>],
    ) -> OdbResult<HashMap<String, i64>> {
        Ok(self.ensure_service_rows(cluster_id, items.iter()).await?.0)
    }

    /// [`Odb::ensure_services`], also returning the user services whose `impl_name` changed
    /// (for the caller to write in its transaction).
    async fn ensure_service_rows<'a>(
        &self,
        cluster_id: i64,
        items: impl Iterator<Item = &'a Deployment<'a>>,
    ) -> OdbResult<(HashMap<String, i64>, Vec<(&'a str, &'a str)>)> {
        let known: HashMap<String, (i64, String)> = self
            .service_list(cluster_id)
            .await?
            .into_iter()
            .map(|s| (s.name, (s.id, s.impl_name)))
            .collect();
        let mut ids: HashMap<String, i64> =
            known.iter().map(|(k, (id, _))| (k.clone(), *id)).collect();
        let mut renamed = Vec::new();
        for item in items {
            match known.get(item.name) {
                Some((_, impl_name)) => {
                    if !item.is_internal && impl_name != item.impl_name {
                        renamed.push((item.name, item.impl_name));
                    }
                }
                None if ids.contains_key(item.name) => {}
                None => {
                    let q = sqlx::query(self.sql_insert(
                        "INSERT INTO service (name, is_active, impl_name, is_internal, slow_threshold, cluster_id) VALUES (?, 1, ?, ?, 99999, ?)",
                    ))
                    .bind(item.name.to_string())
                    .bind(item.impl_name.to_string())
                    .bind(b(item.is_internal))
                    .bind(cluster_id);
                    match self.insert_returning_id(q).await {
                        Ok(id) => {
                            ids.insert(item.name.to_string(), id);
                        }
                        // Another server of the cluster inserted it first: read its id.
                        Err(_) => {
                            if let Some(row) = self.service_by_name(cluster_id, item.name).await? {
                                ids.insert(item.name.to_string(), row.id);
                            }
                        }
                    }
                }
            }
        }
        Ok((ids, renamed))
    }

    /// Records deployments without a package (the built-in services) for this server.
    /// Returns name → service id.
    pub async fn record_deployments(
        &self,
        cluster_id: i64,
        server_id: i64,
        items: &[Deployment<'_>],
    ) -> OdbResult<HashMap<String, i64>> {
        let (ids, _) = self
            .record_deployment(cluster_id, server_id, PackageRef::None, items)
            .await?;
        Ok(ids)
    }

    /// One deployment, in one transaction: a new package (or the status of a stored one) and
    /// what this server runs from it. Returns name → service id and the package's id.
    pub async fn record_deployment(
        &self,
        cluster_id: i64,
        server_id: i64,
        package: PackageRef<'_>,
        items: &[Deployment<'_>],
    ) -> OdbResult<(HashMap<String, i64>, Option<i64>)> {
        let (ids, mut package_ids) = self
            .record_packages(cluster_id, server_id, vec![(package, items)])
            .await?;
        Ok((ids, package_ids.pop().flatten()))
    }

    /// Several deployments in one transaction (a server's start-up records every stored
    /// package it deployed at once). Service rows are made first, outside it: a service row
    /// deployed nowhere is harmless, and another server may be inserting the same one; rows
    /// already recorded the same way are left alone. Returns name → service id and each
    /// package's id, in order.
    pub async fn record_packages(
        &self,
        cluster_id: i64,
        server_id: i64,
        packages: Vec<(PackageRef<'_>, &[Deployment<'_>])>,
    ) -> OdbResult<(HashMap<String, i64>, Vec<Option<i64>>)> {
        let (ids, renamed) = self
            .ensure_service_rows(
                cluster_id,
                packages.iter().flat_map(|(_, items)| items.iter()),
            )
            .await?;
        let recorded = self.recorded_sources(server_id).await?;
        let now = utc_now_iso();
        let mut tx = self.begin_write().await?;
        for (name, impl_name) in renamed {
            sqlx::query(
                self.sql("UPDATE service SET impl_name = ? WHERE cluster_id = ? AND name = ?"),
            )
            .bind(impl_name.to_string())
            .bind(cluster_id)
            .bind(name.to_string())
            .execute(&mut *tx)
            .await?;
        }
        let mut package_ids = Vec::with_capacity(packages.len());
        for (package, items) in packages {
            let package_id = match package {
                PackageRef::None => None,
                PackageRef::Stored(id) => Some(id),
                PackageRef::New {
                    payload_name,
                    payload,
                    details,
                } => {
                    let q = sqlx::query(self.sql_insert(
                        "INSERT INTO deployment_package (deployment_time, details, payload_name, payload, server_id) VALUES (?, ?, ?, ?, ?)",
                    ))
                    .bind(now.clone())
                    .bind(details.to_string())
                    .bind(payload_name.to_string())
                    .bind(payload.to_vec())
                    .bind(server_id);
                    Some(self.insert_returning_id_on(&mut tx, q).await?)
                }
            };
            if let Some(id) = package_id {
                self.set_deployment_status_on(&mut tx, id, server_id, "deployed", &now)
                    .await?;
            }
            package_ids.push(package_id);
            for item in items {
                let Some(&service_id) = ids.get(item.name) else {
                    continue;
                };
                let same = (
                    item.source_path.map(str::to_string),
                    item.source_hash.map(str::to_string),
                );
                if recorded.get(&service_id) == Some(&same) {
                    continue;
                }
                sqlx::query(
                    self.sql("DELETE FROM deployed_service WHERE server_id = ? AND service_id = ?"),
                )
                .bind(server_id)
                .bind(service_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(self.sql(
                    "INSERT INTO deployed_service (deployment_time, details, source, source_path, source_hash, source_hash_method, server_id, service_id) VALUES (?, '', ?, ?, ?, 'sha256', ?, ?)",
                ))
                .bind(now.clone())
                .bind(item.source.map(|s| s.to_vec()))
                .bind(item.source_path.map(str::to_string))
                .bind(item.source_hash.map(str::to_string))
                .bind(server_id)
                .bind(service_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok((ids, package_ids))
    }

    /// What this server has recorded as deployed: service id → (source path, source hash).
    async fn recorded_sources(
        &self,
        server_id: i64,
    ) -> OdbResult<HashMap<i64, (Option<String>, Option<String>)>> {
        let rows = sqlx::query(self.sql(
            "SELECT service_id, source_path, source_hash FROM deployed_service WHERE server_id = ?",
        ))
        .bind(server_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?))))
            .collect()
    }

    pub async fn service_edit(
        &self,
        cluster_id: i64,
        id: i64,
        is_active: Option<bool>,
        slow_threshold: Option<i64>,
    ) -> OdbResult<u64> {
        let res = sqlx::query(self.sql(
            "UPDATE service SET is_active = COALESCE(?, is_active), slow_threshold = COALESCE(?, slow_threshold) WHERE cluster_id = ? AND id = ?",
        ))
        .bind(is_active.map(b))
        .bind(slow_threshold)
        .bind(cluster_id)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected())
    }

    pub async fn service_delete(&self, cluster_id: i64, id: i64) -> OdbResult<u64> {
        let mut tx = self.begin_write().await?;
        sqlx::query(self.sql("DELETE FROM deployed_service WHERE service_id = ?"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let res = sqlx::query(self.sql("DELETE FROM service WHERE cluster_id = ? AND id = ?"))
            .bind(cluster_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(res.rows_affected())
    }

    pub async fn deployed_on(&self, service_id: i64) -> OdbResult<Vec<DeployedOn>> {
        let rows = sqlx::query(self.sql(
            "SELECT d.server_id, s.name, d.service_id, d.source_path, d.source_hash, d.deployment_time, d.source FROM deployed_service d JOIN server s ON s.id = d.server_id WHERE d.service_id = ? ORDER BY d.server_id",
        ))
        .bind(service_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeployedOn {
                    server_id: r.try_get(0)?,
                    server_name: r.try_get(1)?,
                    service_id: r.try_get(2)?,
                    source_path: r.try_get(3)?,
                    source_hash: r.try_get(4)?,
                    deployment_time: r.try_get(5)?,
                    source: r.try_get(6)?,
                })
            })
            .collect()
    }

    pub async fn package(&self, id: i64) -> OdbResult<Option<Package>> {
        let row = sqlx::query(self.sql(
            "SELECT id, payload_name, payload, details, deployment_time FROM deployment_package WHERE id = ?",
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(package_from).transpose()
    }

    /// The newest package of each file name in the cluster, oldest first: what a starting
    /// server deploys.
    pub async fn latest_packages(&self, cluster_id: i64) -> OdbResult<Vec<Package>> {
        let rows = sqlx::query(self.sql(
            "SELECT dp.id, dp.payload_name, dp.payload, dp.details, dp.deployment_time FROM deployment_package dp WHERE dp.id IN (SELECT MAX(p.id) FROM deployment_package p JOIN server s ON s.id = p.server_id WHERE s.cluster_id = ? GROUP BY p.payload_name) ORDER BY dp.id",
        ))
        .bind(cluster_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(package_from).collect()
    }

    pub async fn set_deployment_status(
        &self,
        package_id: i64,
        server_id: i64,
        status: &str,
    ) -> OdbResult<()> {
        let mut tx = self.begin_write().await?;
        self.set_deployment_status_on(&mut tx, package_id, server_id, status, &utc_now_iso())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_deployment_status_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        package_id: i64,
        server_id: i64,
        status: &str,
        now: &str,
    ) -> OdbResult<()> {
        sqlx::query(
            self.sql("DELETE FROM deployment_status WHERE package_id = ? AND server_id = ?"),
        )
        .bind(package_id)
        .bind(server_id)
        .execute(&mut *conn)
        .await?;
        sqlx::query(self.sql(
            "INSERT INTO deployment_status (package_id, server_id, status, status_change_time) VALUES (?, ?, ?, ?)",
        ))
        .bind(package_id)
        .bind(server_id)
        .bind(status.to_string())
        .bind(now.to_string())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

fn package_from(row: &AnyRow) -> OdbResult<Package> {
    Ok(Package {
        id: row.try_get(0)?,
        payload_name: row.try_get(1)?,
        payload: row.try_get(2)?,
        details: row.try_get(3)?,
        deployment_time: row.try_get(4)?,
    })
}
