//! `zato.outgoing.sql.*`: outgoing SQL connections (`sql_pool`). The password is stored
//! encrypted, set by create (optional) or change-password, and never returned.
use std::time::Instant;

use serde_json::{Value, json};
use zato_common::odb::sql_pool::{SQL_ENGINES, SqlPool, SqlPoolInput};

use super::{Builtin, Ctx, Input, ServiceError, ServiceResult, check_cluster, new_password};
use crate::connectors::sql::engine_of;
use crate::{builtin, io, objects};

fn engine_name(engine: &str) -> &'static str {
    SQL_ENGINES
        .iter()
        .find(|(e, _)| *e == engine)
        .map_or("", |(_, n)| n)
}

fn describe(p: &SqlPool) -> Value {
    json!({
        "id": p.id, "name": p.name, "is_active": p.is_active, "engine": p.engine,
        "engine_display_name": engine_name(&p.engine), "host": p.host, "port": p.port,
        "db_name": p.db_name, "username": p.username, "pool_size": p.pool_size, "extra": p.extra,
    })
}

pub fn read(i: &mut Input<'_>, old: Option<&SqlPool>) -> Result<SqlPoolInput, ServiceError> {
    let text = |i: &mut Input<'_>, k: &'static str, old: Option<String>| match old {
        Some(o) => i.opt_str(k).unwrap_or(o),
        None => i.str(k),
    };
    let name = text(i, "name", old.map(|o| o.name.clone()));
    let engine = text(i, "engine", old.map(|o| o.engine.clone()));
    let db_name = text(i, "db_name", old.map(|o| o.db_name.clone()));
    let sqlite = engine == "sqlite";
    // SQLite has no server: host, port and user mean nothing there.
    let host = match (sqlite, old) {
        (true, _) => i.opt_str("host").unwrap_or_default(),
        (false, o) => text(i, "host", o.map(|o| o.host.clone())),
    };
    let username = match (sqlite, old) {
        (true, _) => i.opt_str("username").unwrap_or_default(),
        (false, o) => text(i, "username", o.map(|o| o.username.clone())),
    };
    let port = i.opt_int("port")?.or(old.map(|o| o.port));
    let port = match (port, engine_of(&engine)) {
        (Some(p), _) => p,
        (None, Some(zato_common::config::OdbEngine::Postgresql)) => 5432,
        (None, Some(zato_common::config::OdbEngine::Mysql)) => 3306,
        (None, _) => 0,
    };
    let pool_size = i
        .opt_int("pool_size")?
        .or(old.map(|o| o.pool_size))
        .unwrap_or(10);
    let is_active = i
        .opt_bool("is_active")?
        .or(old.map(|o| o.is_active))
        .unwrap_or(true);
    let extra = i.opt_str("extra").or(old.and_then(|o| o.extra.clone()));
    if !engine.is_empty() && engine_of(&engine).is_none() {
        let known: Vec<&str> = SQL_ENGINES.iter().map(|(e, _)| *e).collect();
        return Err(ServiceError::bad_request(format!(
            "unsupported `engine` `{engine}`; use one of {known:?}"
        )));
    }
    if !(1..=1000).contains(&pool_size) || !(0..=65535).contains(&port) {
        return Err(ServiceError::bad_request(
            "`pool_size` must be 1 to 1000 and `port` 0 to 65535",
        ));
    }
    Ok(SqlPoolInput {
        name,
        is_active,
        engine,
        host,
        port,
        db_name,
        username,
        pool_size,
        extra,
    })
}

async fn find(ctx: &Ctx, i: &Input<'_>) -> Result<SqlPool, ServiceError> {
    let id = i.opt_int("id")?;
    let name = i.opt_str("name");
    if id.is_none() && name.is_none() {
        return Err(ServiceError::bad_request("Missing input: id or name"));
    }
    ctx.state
        .odb
        .sql_pool_get(ctx.state.cluster_id, id, name.as_deref())
        .await?
        .ok_or_else(|| {
            ServiceError::new(
                crate::core::ErrorKind::NotFound,
                "No such outgoing SQL connection",
            )
        })
}

async fn get_list(ctx: &Ctx, input: Value) -> ServiceResult {
    check_cluster(ctx, &Input::new(&input))?;
    let pools = ctx.state.odb.sql_pool_list(ctx.state.cluster_id).await?;
    Ok(Value::Array(pools.iter().map(describe).collect()))
}

async fn get(ctx: &Ctx, input: Value) -> ServiceResult {
    let i = Input::new(&input);
    check_cluster(ctx, &i)?;
    Ok(describe(&find(ctx, &i).await?))
}

async fn create(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let data = read(&mut i, None)?;
    let password = i.opt_str("password").unwrap_or_default();
    i.done()?;
    let stored = if password.is_empty() {
        String::new()
    } else {
        ctx.state.cfg.secret_key.encrypt_for_odb(&password)
    };
    let id = ctx
        .state
        .odb
        .sql_pool_create(ctx.state.cluster_id, &data, &stored)
        .await?;
    ctx.state.changed(objects::SQL, None).await;
    Ok(json!({"id": id, "name": data.name, "display_name": engine_name(&data.engine)}))
}

async fn edit(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let id = i.int("id")?;
    i.done()?;
    let old = find(ctx, &Input::new(&json!({"id": id}))).await?;
    let data = read(&mut i, Some(&old))?;
    ctx.state
        .odb
        .sql_pool_edit(ctx.state.cluster_id, id, &data)
        .await?;
    ctx.state.changed(objects::SQL, None).await;
    Ok(json!({"id": id, "name": data.name, "display_name": engine_name(&data.engine)}))
}

async fn delete(ctx: &Ctx, input: Value) -> ServiceResult {
    let i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let p = find(ctx, &i).await?;
    ctx.state
        .odb
        .sql_pool_delete(ctx.state.cluster_id, p.id)
        .await?;
    ctx.state.changed(objects::SQL, None).await;
    Ok(json!({"details": format!("Deleted `{}`", p.name)}))
}

async fn change_password(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let p1 = new_password(&mut i, false)?;
    let p = find(ctx, &i).await?;
    let stored = ctx.state.cfg.secret_key.encrypt_for_odb(&p1);
    ctx.state
        .odb
        .sql_pool_set_password(ctx.state.cluster_id, p.id, &stored)
        .await?;
    ctx.state.changed(objects::SQL, None).await;
    Ok(json!({"id": p.id}))
}

/// Runs `SELECT 1` through the connection as this server holds it.
async fn ping(ctx: &Ctx, input: Value) -> ServiceResult {
    let i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let p = find(ctx, &i).await?;
    let conn = ctx
        .state
        .tables
        .sql
        .load()
        .get(&p.name)
        .cloned()
        .ok_or_else(|| ServiceError::bad_request(format!("`{}` is not active", p.name)))?;
    let start = Instant::now();
    conn.execute("SELECT 1", &Value::Null).await.map_err(|e| {
        ServiceError::new(
            crate::core::ErrorKind::Upstream,
            format!("`{}`: {e}", p.name),
        )
    })?;
    Ok(json!({"id": p.id, "response_time": format!("{:.3}", start.elapsed().as_secs_f64())}))
}

async fn get_engine_list(_ctx: &Ctx, _input: Value) -> ServiceResult {
    Ok(Value::Array(
        SQL_ENGINES
            .iter()
            .map(|(id, name)| json!({"id": id, "name": name}))
            .collect(),
    ))
}

/// What a pool's create and edit take (edit: `id` too; what it leaves out stays).
pub const FIELDS: &[&str] = &[
    "name",
    "is_active",
    "engine",
    "host",
    "port",
    "db_name",
    "username",
    "pool_size",
    "extra",
];

const DESCRIBED: &[&str] = &[
    "id",
    "name",
    "is_active",
    "engine",
    "engine_display_name",
    "host",
    "port",
    "db_name",
    "username",
    "pool_size",
    "extra",
];

pub fn services() -> Vec<Builtin> {
    vec![
        builtin!(
            "zato.outgoing.sql.get-list",
            get_list,
            &io! {
                doc: "The cluster's outgoing SQL connections (passwords are never returned).",
                ignored: &["cur_page", "paginate", "query"],
                output: DESCRIBED,
            }
        ),
        builtin!(
            "zato.outgoing.sql.get",
            get,
            &io! {
                doc: "One outgoing SQL connection, by id or name.",
                optional: &["id", "name"],
                output: DESCRIBED,
            }
        ),
        builtin!(
            "zato.outgoing.sql.get-by-name",
            get,
            &io! {
                doc: "One outgoing SQL connection, by name or id.",
                optional: &["name", "id"],
                output: DESCRIBED,
            }
        ),
        builtin!(
            "zato.outgoing.sql.create",
            create,
            &io! {
                doc: "Creates an outgoing SQL connection (engine `postgresql`, `mysql` or `sqlite`); the password is optional.",
                required: &["name", "engine", "db_name"],
                optional: &["is_active", "host", "port", "username", "pool_size", "extra", "password"],
                output: &["id", "name", "display_name"],
            }
        ),
        builtin!(
            "zato.outgoing.sql.edit",
            edit,
            &io! {
                doc: "Changes an outgoing SQL connection; fields left out keep their values.",
                required: &["id"],
                optional: FIELDS,
                output: &["id", "name", "display_name"],
            }
        ),
        builtin!(
            "zato.outgoing.sql.delete",
            delete,
            &io! {
                doc: "Deletes an outgoing SQL connection, by id or name.",
                optional: &["id", "name"],
                output: &["details"],
            }
        ),
        builtin!(
            "zato.outgoing.sql.change-password",
            change_password,
            &io! {
                doc: "Sets the password of an outgoing SQL connection, by id or name.",
                required: &["password1"],
                optional: &["id", "name", "password2"],
                output: &["id"],
            }
        ),
        builtin!(
            "zato.outgoing.sql.ping",
            ping,
            &io! {
                doc: "Runs `SELECT 1` through the connection and says how long it took (seconds).",
                optional: &["id", "name"],
                ignored: &["should_raise_on_error"],
                output: &["id", "response_time"],
            }
        ),
        builtin!(
            "zato.outgoing.sql.get-engine-list",
            get_engine_list,
            &io! {
                doc: "The SQL engines outgoing connections may use.",
                output: &["id", "name"],
            }
        ),
    ]
}
