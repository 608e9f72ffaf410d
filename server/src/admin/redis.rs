//! `zato.outgoing.redis.*`: the cluster's Redis connection (`[kvdb]` in each server.conf).
//! A change is stored in the ODB and announced to every server, which swaps its connection
//! at once and rewrites its server.conf and secrets.conf; a server started later takes the
//! stored settings at start-up.
use std::sync::Arc;

use serde_json::{Value, json};
use zato_common::config::KvdbConfig;

use super::{Builtin, Ctx, Input, ServiceError, ServiceResult, check_cluster, new_password};
use crate::connectors::Kvdb;
use crate::events::ClusterEvent;
use crate::state::ServerState;
use crate::{builtin, io};

/// The `kv_data` key of the cluster-wide settings.
pub const KVDB_KEY: &str = "zato.kvdb.config";
/// Stored settings do not expire (a century, in seconds).
const FOREVER: i64 = 100 * 365 * 24 * 3600;

/// Settings as stored and announced: the password encrypted with the cluster's key.
fn to_wire(state: &ServerState, cfg: &KvdbConfig) -> Value {
    json!({"host": cfg.host, "port": cfg.port, "db": cfg.db,
        "password": state.cfg.secret_key.encrypt(&cfg.password)})
}

pub fn from_wire(state: &ServerState, v: &Value) -> Option<KvdbConfig> {
    let password = match v["password"].as_str() {
        Some(p) if !p.is_empty() => state.cfg.secret_key.decrypt(p).ok()?,
        _ => String::new(),
    };
    Some(KvdbConfig {
        host: v["host"].as_str()?.to_string(),
        port: u16::try_from(v["port"].as_u64()?).ok()?,
        db: u32::try_from(v["db"].as_u64()?).ok()?,
        password,
    })
}

/// The settings this process uses now.
fn current(state: &ServerState) -> KvdbConfig {
    state
        .kvdb
        .load()
        .as_ref()
        .map(|k| k.cfg.clone())
        .unwrap_or_else(|| state.cfg.kvdb.clone())
}

/// Switches this process to `cfg`; the first worker of a server also rewrites its config files.
pub fn use_settings(state: &ServerState, cfg: &KvdbConfig) {
    match Kvdb::new(cfg) {
        Ok(k) => state.kvdb.store(k.map(Arc::new)),
        Err(e) => {
            tracing::error!("the new Redis settings cannot be used: {e}");
            return;
        }
    }
    if state.worker_index == 0
        && let Err(e) = zato_common::kvdb::save(&state.cfg.dir, cfg, &state.cfg.secret_key)
    {
        tracing::error!("Redis settings are live but not saved: {e}");
    }
    tracing::info!(
        "Redis settings changed: {}:{} db {}",
        cfg.host,
        cfg.port,
        cfg.db
    );
}

/// At start-up: settings changed while this server was down win over its server.conf.
pub async fn take_stored(state: &ServerState) {
    let stored = match state.odb.kv_get(state.cluster_id, KVDB_KEY).await {
        Ok(Some(text)) => serde_json::from_str::<Value>(&text).ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("cannot read the cluster's Redis settings: {e}");
            None
        }
    };
    if let Some(cfg) = stored.as_ref().and_then(|v| from_wire(state, v)) {
        let now = current(state);
        if (&cfg.host, cfg.port, cfg.db, &cfg.password)
            != (&now.host, now.port, now.db, &now.password)
        {
            use_settings(state, &cfg);
        }
    }
}

async fn change(ctx: &Ctx, cfg: KvdbConfig) -> Result<(), ServiceError> {
    let wire = to_wire(&ctx.state, &cfg);
    ctx.state
        .odb
        .kv_put(ctx.state.cluster_id, KVDB_KEY, &wire.to_string(), FOREVER)
        .await?;
    use_settings(&ctx.state, &cfg);
    ctx.state.events.publish(&ClusterEvent::Kvdb(wire)).await;
    Ok(())
}

const DESCRIBED: &[&str] = &["id", "name", "is_active", "host", "port", "db"];

fn describe(cfg: &KvdbConfig) -> Value {
    json!({"id": 1, "name": "default", "is_active": cfg.is_configured(),
        "host": cfg.host, "port": cfg.port, "db": cfg.db})
}

async fn get_list(ctx: &Ctx, input: Value) -> ServiceResult {
    check_cluster(ctx, &Input::new(&input))?;
    Ok(json!([describe(&current(&ctx.state))]))
}

async fn edit(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let mut cfg = current(&ctx.state);
    cfg.host = i.str("host");
    if i.opt_bool("use_redis_sentinels")? == Some(true) {
        return Err(ServiceError::bad_request(
            "Redis Sentinel is not supported; give the master's host and port",
        ));
    }
    let port = i.opt_int("port")?.unwrap_or(i64::from(cfg.port));
    let db = i.opt_int("db")?.unwrap_or(i64::from(cfg.db));
    i.done()?;
    cfg.port = u16::try_from(port).ok().filter(|p| *p > 0).ok_or_else(|| {
        ServiceError::bad_request(format!("`port` must be 1 to 65535, got {port}"))
    })?;
    cfg.db = u32::try_from(db)
        .map_err(|_| ServiceError::bad_request(format!("`db` must be 0 or more, got {db}")))?;
    change(ctx, cfg.clone()).await?;
    Ok(describe(&cfg))
}

async fn change_password(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let p1 = new_password(&mut i, true)?;
    let mut cfg = current(&ctx.state);
    if !cfg.is_configured() {
        return Err(ServiceError::bad_request(
            "no Redis is configured; set it with zato.outgoing.redis.edit first",
        ));
    }
    cfg.password = p1;
    change(ctx, cfg).await?;
    Ok(json!({"id": 1}))
}

async fn ping(ctx: &Ctx, input: Value) -> ServiceResult {
    check_cluster(ctx, &Input::new(&input))?;
    let kvdb = ctx
        .state
        .kvdb
        .load_full()
        .ok_or_else(|| ServiceError::bad_request("no Redis is configured"))?;
    let start = std::time::Instant::now();
    kvdb.command(vec![b"PING".to_vec()])
        .await
        .map_err(|e| ServiceError::new(crate::core::ErrorKind::Upstream, e.message))?;
    Ok(json!({"id": 1, "response_time": format!("{:.3}", start.elapsed().as_secs_f64())}))
}

pub fn services() -> Vec<Builtin> {
    vec![
        builtin!(
            "zato.outgoing.redis.get-list",
            get_list,
            &io! {
                doc: "The cluster's Redis connection (one, named `default`).",
                ignored: &["id", "name"],
                output: DESCRIBED,
            }
        ),
        builtin!(
            "zato.outgoing.redis.edit",
            edit,
            &io! {
                doc: "Sets the cluster's Redis address; every server reconnects.",
                required: &["host"],
                optional: &["port", "db", "use_redis_sentinels"],
                ignored: &["id", "name", "redis_sentinels", "redis_sentinels_master"],
                output: DESCRIBED,
            }
        ),
        builtin!(
            "zato.outgoing.redis.change-password",
            change_password,
            &io! {
                doc: "Sets the Redis password (empty: none).",
                optional: &["password1", "password2"],
                ignored: &["id", "name"],
                output: &["id"],
            }
        ),
        builtin!(
            "zato.outgoing.redis.ping",
            ping,
            &io! {
                doc: "Sends PING to Redis; fails when it does not answer.",
                ignored: &["id"],
                output: &["id", "response_time"],
            }
        ),
    ]
}
