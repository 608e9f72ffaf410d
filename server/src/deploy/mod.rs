//! Hot deployment. A `.py` file dropped into the pickup dir or uploaded becomes a
//! `deployment_package` row only after it compiled and imported here; then every other server
//! process is told and deploys the same package. A broken file changes nothing anywhere.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use zato_common::odb::services::{Deployment, Package, PackageRef};

use crate::core::ServiceError;
use crate::events::ClusterEvent;
use crate::python::DeployedPy;
use crate::state::{Applied, ServerState};

const DEPLOY_TIMEOUT: Duration = Duration::from_secs(60);

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_deployable(name: &str) -> bool {
    !name.starts_with('.') && (name.ends_with(".py") || name.ends_with(".pyw"))
}

fn check_file_name(name: &str) -> Result<(), ServiceError> {
    if name.contains(['/', '\\']) || name.chars().any(char::is_control) || !is_deployable(name) {
        return Err(ServiceError::bad_request(format!(
            "`{}` cannot be deployed: give a plain file name ending in .py or .pyw",
            name.escape_debug()
        )));
    }
    Ok(())
}

fn check_size(state: &ServerState, file_name: &str, size: usize) -> Result<(), ServiceError> {
    let max = state.cfg.hot_deploy.max_package_size;
    if size > max {
        return Err(ServiceError::new(
            crate::core::ErrorKind::Other(413),
            format!(
                "`{file_name}` has {size} bytes, more than the {max} of [hot_deploy] max_package_size"
            ),
        ));
    }
    Ok(())
}

/// Where a deployment comes from.
#[derive(Clone, Copy)]
enum Origin<'a> {
    /// A new file (pickup dir or upload): stored as a package by this deployment.
    New { method: &'a str },
    /// A package already stored (by another server, or before a restart).
    Stored(i64),
}

/// Where a deployed file's copy is kept (`work/hot-deploy/current/<file>`).
fn current_path(state: &ServerState, file_name: &str) -> PathBuf {
    state
        .cfg
        .dir
        .join("work/hot-deploy/current")
        .join(file_name)
}

/// Deploys one file here, all or nothing: the file is imported and checked, the deployment
/// stored in the ODB (one transaction), and only then are its services swapped in. If the
/// store fails, nothing changed here either. Returns what was deployed and the package id.
async fn deploy_here(
    state: &Arc<ServerState>,
    origin: Origin<'_>,
    file_name: &str,
    bytes: &[u8],
    record: bool,
) -> Result<(Vec<DeployedPy>, Option<i64>), ServiceError> {
    let res = deploy_file(state, origin, file_name, bytes, record).await;
    let metrics = &state.stats.metrics;
    match &res {
        Ok(_) => metrics.deploys.inc(),
        Err(_) => metrics.deploy_failures.inc(),
    }
    res
}

/// [`deploy_here`] before it is counted in the process's metrics.
async fn deploy_file(
    state: &Arc<ServerState>,
    origin: Origin<'_>,
    file_name: &str,
    bytes: &[u8],
    record: bool,
) -> Result<(Vec<DeployedPy>, Option<i64>), ServiceError> {
    // Names of stored packages are checked too: they are joined into paths below.
    check_file_name(file_name)?;
    check_size(state, file_name, bytes.len())?;
    let source = std::str::from_utf8(bytes)
        .map_err(|_| ServiceError::bad_request(format!("`{file_name}` is not UTF-8 text")))?;
    let _one_at_a_time = state.python.deploy_lock.lock().await;
    let deployed = state
        .python
        .stage(file_name, source, DEPLOY_TIMEOUT)
        .await
        .map_err(|f| {
            tracing::error!("Could not deploy `{file_name}`: {f}");
            ServiceError::bad_request(format!("Could not deploy {f}"))
        })?;
    let current = current_path(state, file_name);
    let hash = sha256_hex(bytes);
    let path = current.to_string_lossy().into_owned();
    let items: Vec<Deployment<'_>> = deployed
        .iter()
        .map(|d| Deployment {
            name: &d.name,
            impl_name: &d.impl_name,
            is_internal: d.name.starts_with("zato"),
            source: Some(bytes),
            source_path: Some(&path),
            source_hash: Some(&hash),
        })
        .collect();
    let details = match origin {
        Origin::New { method } => json!({
            "method": method,
            "object": file_name,
            "timestamp": zato_common::time::utc_now_iso(),
            "remote_host": state.server_name,
            "should_deploy_in_place": false,
        })
        .to_string(),
        Origin::Stored(_) => String::new(),
    };
    let package = match origin {
        Origin::New { .. } => PackageRef::New {
            payload_name: file_name,
            payload: bytes,
            details: &details,
        },
        Origin::Stored(id) => PackageRef::Stored(id),
    };
    // Other worker processes of this server get the package as an event; only the first
    // records what the server runs, and a stored package needs nothing from them.
    let stored = match (state.worker_index, package) {
        // Start-up records every stored package at once, afterwards.
        (_, PackageRef::Stored(_)) if !record => Ok(None),
        (0, package) => state
            .odb
            .record_deployment(state.cluster_id, state.server_id, package, &items)
            .await
            .map(|(_, id)| id),
        (_, package @ PackageRef::New { .. }) => state
            .odb
            .record_deployment(state.cluster_id, state.server_id, package, &[])
            .await
            .map(|(_, id)| id),
        (_, _) => Ok(None),
    };
    let package_id = match stored {
        Ok(id) => id,
        Err(e) => {
            state.python.discard_staged().await;
            tracing::error!("`{file_name}` was not deployed: cannot store the deployment: {e}");
            return Err(e.into());
        }
    };
    state.python.commit_staged().await;
    if let Err(e) = std::fs::write(&current, bytes) {
        tracing::warn!(
            "cannot keep a copy of `{file_name}` in {}: {e}",
            current.display()
        );
    }
    let names: Vec<&str> = deployed.iter().map(|d| d.name.as_str()).collect();
    tracing::info!(
        "Deployed {} service{} from `{}` -> {:?}",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        current.display(),
        names
    );
    Ok((
        deployed,
        package_id.or(match origin {
            Origin::Stored(id) => Some(id),
            Origin::New { .. } => None,
        }),
    ))
}

/// A new file from the pickup dir or `zato.service.upload-package`.
pub async fn deploy_new(
    state: &Arc<ServerState>,
    file_name: &str,
    bytes: &[u8],
    method: &str,
) -> Result<Vec<String>, ServiceError> {
    let (deployed, id) = deploy_here(state, Origin::New { method }, file_name, bytes, true).await?;
    let Some(id) = id else {
        return Err(ServiceError::internal("the ODB returned no package id"));
    };
    remember(
        state,
        file_name,
        id,
        bytes,
        zato_common::time::utc_now_iso(),
    );
    state
        .events
        .publish(&ClusterEvent::Deploy { package_id: id })
        .await;
    Ok(deployed.into_iter().map(|d| d.name).collect())
}

/// Deploys a stored package here unless a newer one of the same file already is (or `force`).
pub async fn apply_package(
    state: &Arc<ServerState>,
    package_id: i64,
    force: bool,
) -> Result<Vec<String>, ServiceError> {
    let pkg = state.odb.package(package_id).await?.ok_or_else(|| {
        ServiceError::new(
            crate::core::ErrorKind::NotFound,
            format!("No deployment package with id {package_id}"),
        )
    })?;
    let newer_applied = state
        .applied
        .lock()
        .ok()
        .and_then(|a| a.get(&pkg.payload_name).map(|p| p.package_id))
        .is_some_and(|id| id >= package_id);
    if newer_applied && !force {
        return Ok(Vec::new());
    }
    let deployed = apply_stored(state, &pkg, true).await?;
    Ok(deployed.into_iter().map(|d| d.name).collect())
}

/// Deploys a stored package here; `record` false leaves the ODB record to the caller.
async fn apply_stored(
    state: &Arc<ServerState>,
    pkg: &Package,
    record: bool,
) -> Result<Vec<DeployedPy>, ServiceError> {
    let deployed = deploy_here(
        state,
        Origin::Stored(pkg.id),
        &pkg.payload_name,
        &pkg.payload,
        record,
    )
    .await;
    if deployed.is_err() && state.worker_index == 0 {
        let _ = state
            .odb
            .set_deployment_status(pkg.id, state.server_id, "failed")
            .await;
    }
    let (deployed, _) = deployed?;
    remember(
        state,
        &pkg.payload_name,
        pkg.id,
        &pkg.payload,
        pkg.deployment_time.clone(),
    );
    Ok(deployed)
}

fn remember(
    state: &ServerState,
    file_name: &str,
    package_id: i64,
    bytes: &[u8],
    deployment_time: String,
) {
    let previous = state
        .applied
        .lock()
        .ok()
        .and_then(|a| a.get(file_name).map(|p| p.sha256.clone()));
    sync_pickup(state, file_name, bytes, previous.as_deref());
    if let Ok(mut applied) = state.applied.lock() {
        applied.insert(
            file_name.to_string(),
            Applied {
                package_id,
                sha256: sha256_hex(bytes),
                deployment_time,
            },
        );
    }
}

/// A pickup-dir file of the same name as a package deployed from elsewhere (an upload, another
/// server) gets the deployed content: otherwise the old file would sit there looking current,
/// and a later touch of it would silently roll the service back. Only a known-stale copy is
/// replaced, one holding exactly the code deployed before (`previous`, its SHA-256): any other
/// content is the user's edit, which the watcher deploys and which must never be overwritten.
fn sync_pickup(state: &ServerState, file_name: &str, bytes: &[u8], previous: Option<&str>) {
    if state.worker_index != 0 {
        return;
    }
    let path = state.cfg.pickup_dir.join(file_name);
    let Ok(current) = std::fs::read(&path) else {
        return;
    };
    if current == bytes || previous != Some(sha256_hex(&current).as_str()) {
        return;
    }
    let tmp = state.cfg.pickup_dir.join(format!(".{file_name}.zato-sync"));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &path));
    match written {
        Ok(()) => tracing::info!("{} now holds the deployed `{file_name}`", path.display()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(
                "{} differs from the deployed `{file_name}` and cannot be updated: {e}",
                path.display()
            );
        }
    }
}

/// At start-up: the newest package of every file, in the order they were first deployed.
/// What they deploy is recorded in one transaction at the end, not one per package.
pub async fn load_packages(state: &Arc<ServerState>) -> usize {
    let packages = match state.odb.latest_packages(state.cluster_id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("cannot read deployment packages from the ODB: {e}");
            return 0;
        }
    };
    let mut done: Vec<(&Package, Vec<DeployedPy>, String, String)> = Vec::new();
    for pkg in &packages {
        match apply_stored(state, pkg, false).await {
            Ok(deployed) => {
                let path = current_path(state, &pkg.payload_name)
                    .to_string_lossy()
                    .into_owned();
                done.push((pkg, deployed, path, sha256_hex(&pkg.payload)));
            }
            Err(e) => tracing::error!(
                "package {} (`{}`) did not deploy: {}",
                pkg.id,
                pkg.payload_name,
                e.message
            ),
        }
    }
    let count = done.iter().map(|(_, d, _, _)| d.len()).sum();
    if state.worker_index != 0 || done.is_empty() {
        return count;
    }
    let items: Vec<Vec<Deployment<'_>>> = done
        .iter()
        .map(|(pkg, deployed, path, hash)| {
            deployed
                .iter()
                .map(|d| Deployment {
                    name: &d.name,
                    impl_name: &d.impl_name,
                    is_internal: d.name.starts_with("zato"),
                    source: Some(&pkg.payload),
                    source_path: Some(path),
                    source_hash: Some(hash),
                })
                .collect()
        })
        .collect();
    let batch = done
        .iter()
        .zip(&items)
        .map(|((pkg, ..), items)| (PackageRef::Stored(pkg.id), items.as_slice()))
        .collect();
    if let Err(e) = state
        .odb
        .record_packages(state.cluster_id, state.server_id, batch)
        .await
    {
        tracing::error!("cannot record the services deployed at start-up in the ODB: {e}");
    }
    count
}

/// Deploys a pickup-dir file if its content differs from what is deployed under its name.
/// At start-up a file older than the stored package of the same name is left alone: the
/// cluster has moved on since (another server deployed a newer version).
async fn pick_up(state: &Arc<ServerState>, path: &Path, at_startup: bool) {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    if !is_deployable(&name) {
        return;
    }
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if let Err(e) = check_size(state, &name, usize::try_from(size).unwrap_or(usize::MAX)) {
        tracing::error!("hot deployment of {:?} refused: {}", path, e.message);
        return;
    }
    let Ok(bytes) = tokio::fs::read(path).await else {
        return;
    };
    let hash = sha256_hex(&bytes);
    let known = state
        .applied
        .lock()
        .ok()
        .and_then(|a| a.get(&name).cloned());
    if let Some(known) = known {
        if known.sha256 == hash {
            return;
        }
        let modified = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map(|t| zato_common::time::to_iso(t.into()));
        if at_startup && modified.is_ok_and(|m| m <= known.deployment_time) {
            tracing::info!(
                "Not deploying `{}`: the cluster has a newer `{name}` (package {})",
                path.display(),
                known.package_id
            );
            return;
        }
    }
    if let Err(e) = deploy_new(state, &name, &bytes, "hot-deploy").await {
        tracing::error!("hot deployment of {:?} failed: {}", path, e.message);
    }
}

/// At start-up, before the server listens: deploys what the pickup dir holds, so a service
/// dropped there before a start answers as soon as the server does. A file written moments
/// ago is given the debounce time to settle first.
pub async fn initial_scan(state: &Arc<ServerState>) {
    let debounce = Duration::from_millis(state.cfg.hot_deploy.debounce_ms);
    let Ok(entries) = std::fs::read_dir(&state.cfg.pickup_dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        let age = std::fs::metadata(&p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .unwrap_or(debounce);
        if age < debounce {
            tokio::time::sleep(debounce - age).await;
        }
        pick_up(state, &p, true).await;
    }
}

/// Watches the pickup dir (one process per server runs this). A file is deployed once no
/// change to it has been seen for `debounce_ms`, so half-written files are never compiled.
pub async fn watch_pickup(state: Arc<ServerState>, mut shutdown: watch::Receiver<bool>) {
    let dir: PathBuf = state.cfg.pickup_dir.clone();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::error!("cannot create the pickup dir {}: {e}", dir.display());
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && matches!(ev.kind, EventKind::Create(_) | EventKind::Modify(_))
        {
            for p in ev.paths {
                let _ = tx.send(p);
            }
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::error!("cannot watch the pickup dir {}: {e}", dir.display());
            return;
        }
    };
    if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
        tracing::error!("cannot watch the pickup dir {}: {e}", dir.display());
        return;
    }
    tracing::info!(
        "Starting local file observer `{}` for `zato.hot-deploy.create`",
        dir.display()
    );
    let debounce = Duration::from_millis(state.cfg.hot_deploy.debounce_ms);
    let mut pending: HashMap<PathBuf, Instant> = HashMap::new();
    // Files already there at start-up; one still being written waits like any other change.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let settled = std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= debounce);
            if settled {
                pick_up(&state, &p, true).await;
            } else {
                pending.insert(p, Instant::now());
            }
        }
    }
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    loop {
        tokio::select! {
            Some(p) = rx.recv() => { pending.insert(p, Instant::now()); }
            _ = tick.tick() => {
                let ready: Vec<PathBuf> = pending
                    .iter()
                    .filter(|(_, t)| t.elapsed() >= debounce)
                    .map(|(p, _)| p.clone())
                    .collect();
                for p in ready {
                    pending.remove(&p);
                    pick_up(&state, &p, false).await;
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(watcher);
}
