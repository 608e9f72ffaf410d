//! The ODB schema: upstream's table and column names, declared once and rendered per backend.
//! Integers and booleans are 64-bit on every backend so one decoder reads them all.
use sqlx::Row;

use super::kinds::{self, Kind, Ty as KindTy};
use super::{Odb, OdbError, OdbResult};
use crate::config::OdbEngine;

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i64 = 2;

#[derive(Clone, Copy)]
enum Ty {
    /// Auto-incremented primary key.
    Id,
    /// 64-bit integer (also booleans as 0/1 and foreign keys).
    Int,
    /// Short text that may be indexed.
    Str(u16),
    /// As `Str`, compared byte for byte on MySQL too (whose default collation ignores case),
    /// for keys that differ only in case (cache keys).
    Key(u16),
    /// Long text.
    Text,
    /// Binary data (deployment packages, job extras).
    Blob,
}

struct Col {
    name: &'static str,
    ty: Ty,
    not_null: bool,
}

const fn c(name: &'static str, ty: Ty) -> Col {
    Col {
        name,
        ty,
        not_null: false,
    }
}

const fn nn(name: &'static str, ty: Ty) -> Col {
    Col {
        name,
        ty,
        not_null: true,
    }
}

struct Table {
    name: &'static str,
    cols: &'static [Col],
    /// Extra table constraints (UNIQUE, PRIMARY KEY over several columns).
    constraints: &'static [&'static str],
}

use Ty::*;

const TABLES: &[Table] = &[
    Table {
        name: "install_state",
        cols: &[
            nn("id", Id),
            nn("version", Int),
            nn("install_time", Str(40)),
            nn("source_host", Str(200)),
            nn("source_user", Str(200)),
        ],
        constraints: &[],
    },
    Table {
        name: "cluster",
        cols: &[
            nn("id", Id),
            nn("name", Str(200)),
            c("description", Str(1000)),
            nn("odb_type", Str(30)),
            c("odb_host", Str(200)),
            c("odb_port", Int),
            c("odb_user", Str(200)),
            c("odb_db_name", Str(200)),
            c("odb_schema", Str(200)),
            c("broker_host", Str(200)),
            c("broker_port", Int),
            nn("lb_host", Str(200)),
            nn("lb_port", Int),
            nn("lb_agent_port", Int),
            c("cw_srv_id", Int),
            c("cw_srv_keep_alive_dt", Str(40)),
        ],
        constraints: &["UNIQUE (name)"],
    },
    Table {
        name: "server",
        cols: &[
            nn("id", Id),
            nn("name", Str(200)),
            c("host", Str(400)),
            c("bind_host", Str(400)),
            c("bind_port", Int),
            c("preferred_address", Str(400)),
            c("crypto_use_tls", Int),
            nn("last_join_status", Str(40)),
            c("last_join_mod_date", Str(40)),
            c("last_join_mod_by", Str(200)),
            c("up_status", Str(40)),
            c("up_mod_date", Str(40)),
            nn("token", Str(32)),
            nn("cluster_id", Int),
        ],
        constraints: &["UNIQUE (cluster_id, name)"],
    },
    Table {
        name: "service",
        cols: &[
            nn("id", Id),
            nn("name", Str(200)),
            nn("is_active", Int),
            nn("impl_name", Str(1000)),
            nn("is_internal", Int),
            c("wsdl", Blob),
            c("wsdl_name", Str(200)),
            c("slow_threshold", Int),
            c("opaque1", Text),
            nn("cluster_id", Int),
        ],
        constraints: &["UNIQUE (name, cluster_id)"],
    },
    Table {
        name: "deployed_service",
        cols: &[
            nn("deployment_time", Str(40)),
            c("details", Text),
            c("source", Blob),
            c("source_path", Str(2000)),
            c("source_hash", Str(512)),
            c("source_hash_method", Str(20)),
            nn("server_id", Int),
            nn("service_id", Int),
        ],
        constraints: &["PRIMARY KEY (server_id, service_id)"],
    },
    Table {
        name: "deployment_package",
        cols: &[
            nn("id", Id),
            nn("deployment_time", Str(40)),
            nn("details", Text),
            nn("payload_name", Str(200)),
            nn("payload", Blob),
            nn("server_id", Int),
        ],
        constraints: &[],
    },
    Table {
        name: "deployment_status",
        cols: &[
            nn("id", Id),
            nn("package_id", Int),
            nn("server_id", Int),
            nn("status", Str(20)),
            nn("status_change_time", Str(40)),
        ],
        constraints: &["UNIQUE (package_id, server_id)"],
    },
    Table {
        name: "sec_base",
        cols: &[
            nn("id", Id),
            nn("name", Str(200)),
            nn("username", Str(200)),
            c("password", Str(1000)),
            c("password_type", Str(45)),
            nn("is_active", Int),
            nn("sec_type", Str(45)),
            c("opaque1", Text),
            nn("cluster_id", Int),
        ],
        constraints: &[
            "UNIQUE (cluster_id, name)",
            "UNIQUE (cluster_id, username, sec_type)",
        ],
    },
    Table {
        name: "sec_basic_auth",
        cols: &[nn("id", Int), nn("realm", Str(200))],
        constraints: &["PRIMARY KEY (id)"],
    },
    Table {
        name: "sec_apikey",
        cols: &[nn("id", Int), nn("header", Str(200))],
        constraints: &["PRIMARY KEY (id)"],
    },
    Table {
        name: "http_soap",
        cols: &[
            nn("id", Id),
            nn("name", Str(200)),
            nn("is_active", Int),
            nn("is_internal", Int),
            nn("connection", Str(20)),
            nn("transport", Str(200)),
            c("host", Str(200)),
            nn("url_path", Str(200)),
            c("method", Str(200)),
            c("soap_action", Str(200)),
            c("soap_version", Str(20)),
            c("data_format", Str(20)),
            c("content_type", Str(200)),
            c("ping_method", Str(60)),
            c("pool_size", Int),
            c("serialization_type", Str(200)),
            c("timeout", Int),
            c("merge_url_params_req", Int),
            c("url_params_pri", Str(200)),
            c("params_pri", Str(200)),
            c("has_rbac", Int),
            c("sec_use_rbac", Int),
            c("cache_expiry", Int),
            c("opaque1", Text),
            c("security_id", Int),
            c("sec_tls_ca_cert_id", Int),
            c("cache_id", Int),
            c("service_id", Int),
            nn("cluster_id", Int),
        ],
        constraints: &["UNIQUE (name, connection, transport, cluster_id)"],
    },
    Table {
        name: "job",
        cols: &[
            nn("id", Id),
            nn("name", Str(200)),
            nn("is_active", Int),
            nn("job_type", Str(20)),
            nn("start_date", Str(40)),
            c("extra", Blob),
            nn("service_id", Int),
            nn("cluster_id", Int),
        ],
        constraints: &["UNIQUE (name, cluster_id)"],
    },
    Table {
        name: "job_interval_based",
        cols: &[
            nn("id", Id),
            nn("job_id", Int),
            c("weeks", Int),
            c("days", Int),
            c("hours", Int),
            c("minutes", Int),
            c("seconds", Int),
            c("repeats", Int),
        ],
        constraints: &["UNIQUE (job_id)"],
    },
    Table {
        name: "job_cron_style",
        cols: &[
            nn("id", Id),
            nn("job_id", Int),
            nn("cron_definition", Str(4000)),
        ],
        constraints: &["UNIQUE (job_id)"],
    },
    // Not in upstream: the ODB-backed broker's event log (DESIGN.md, "Cluster events").
    Table {
        name: "cluster_event",
        cols: &[
            nn("id", Id),
            nn("cluster_id", Int),
            nn("event_type", Str(40)),
            nn("payload", Text),
            nn("origin", Str(200)),
            nn("created_at", Str(40)),
        ],
        constraints: &[],
    },
];

/// Tables added in schema version 2 (security subtypes, SQL connections, the key-value store);
/// servers create them in a version-1 ODB at start (see [`upgrade`]).
const TABLES_V2: &[Table] = &[
    Table {
        name: "sec_wss_def",
        cols: &[
            nn("id", Int),
            nn("reject_empty_nonce_creat", Int),
            nn("reject_stale_tokens", Int),
            nn("reject_expiry_limit", Int),
            nn("nonce_freshness_time", Int),
        ],
        constraints: &["PRIMARY KEY (id)"],
    },
    Table {
        name: "sec_jwt",
        cols: &[nn("id", Int), nn("ttl", Int)],
        constraints: &["PRIMARY KEY (id)"],
    },
    Table {
        name: "sql_pool",
        cols: &[
            nn("id", Id),
            nn("name", Str(200)),
            nn("is_active", Int),
            nn("username", Str(200)),
            c("password", Str(1000)),
            nn("db_name", Str(200)),
            nn("engine", Str(200)),
            c("extra", Text),
            nn("host", Str(200)),
            nn("port", Int),
            nn("pool_size", Int),
            c("opaque1", Text),
            nn("cluster_id", Int),
        ],
        constraints: &["UNIQUE (cluster_id, name)"],
    },
    // WSS nonces seen and JWTs logged out, shared by every server of the cluster. Upstream's
    // column `key` is a reserved word in MySQL, hence `kv_key`.
    Table {
        name: "kv_data",
        cols: &[
            nn("id", Id),
            nn("kv_key", Str(200)),
            c("value", Text),
            c("data_type", Str(200)),
            nn("creation_time", Str(40)),
            nn("expiry_time", Str(40)),
            nn("cluster_id", Int),
        ],
        constraints: &["UNIQUE (cluster_id, kv_key)"],
    },
];

/// Tables of ours added without a schema version of their own: created when missing at every
/// start (`IF NOT EXISTS`), as the tables of config kinds are.
const TABLES_IF_MISSING: &[Table] = &[
    // One row per run of a job, by its planned time (naive UTC ISO): a run recorded once is
    // never run again, whichever scheduler planned it and however often it restarted.
    Table {
        name: "job_fire",
        cols: &[
            nn("id", Id),
            nn("job_id", Int),
            nn("planned", Str(40)),
            nn("fired_at", Str(40)),
        ],
        constraints: &["UNIQUE (job_id, planned)"],
    },
    // Entries of the built-in caches (`odb::cache`); the key's length keeps the unique index
    // within MariaDB's 3072 bytes.
    Table {
        name: "cache_entry",
        cols: &[
            nn("id", Id),
            nn("cluster_id", Int),
            nn("cache_name", Str(100)),
            nn("key_", Key(600)),
            nn("value", Text),
            nn("expiry_ms", Int),
            c("expires_at", Str(40)),
            nn("last_modified", Str(40)),
        ],
        constraints: &["UNIQUE (cluster_id, cache_name, key_)"],
    },
    // Asynchronous invocations until they ran (`odb::async_requests`).
    Table {
        name: "async_request",
        cols: &[
            nn("id", Id),
            nn("cluster_id", Int),
            nn("cid", Str(64)),
            nn("service", Str(1000)),
            nn("payload", Text),
            nn("channel", Str(200)),
            c("callback", Text),
            c("in_reply_to", Str(64)),
            c("expires_at", Str(40)),
            c("not_before", Str(40)),
            c("origin", Text),
            nn("created_at", Str(40)),
            c("claimed_by", Str(200)),
            c("claimed_until", Str(40)),
        ],
        constraints: &[],
    },
    // What the statistics observers recorded (`odb::stats`): one row per service and period.
    Table {
        name: "service_stats",
        cols: &[
            nn("id", Id),
            nn("cluster_id", Int),
            nn("service", Key(400)),
            nn("granularity", Str(8)),
            nn("period_start", Str(20)),
            nn("usage_count", Int),
            nn("error_count", Int),
            nn("total_us", Int),
            nn("min_us", Int),
            nn("max_us", Int),
        ],
        constraints: &["UNIQUE (cluster_id, service, granularity, period_start)"],
    },
    // The latest sampled and slow request/response pairs of each service (`odb::stats`).
    Table {
        name: "service_sample",
        cols: &[
            nn("id", Id),
            nn("cluster_id", Int),
            nn("service", Key(400)),
            nn("kind", Str(8)),
            nn("cid", Str(64)),
            nn("req_ts", Str(40)),
            nn("resp_ts", Str(40)),
            nn("proc_time_us", Int),
            nn("ok", Int),
            nn("request", Text),
            nn("response", Text),
        ],
        constraints: &[],
    },
];

fn col_ddl(engine: OdbEngine, col: &Col) -> String {
    let ty = match (engine, col.ty) {
        (OdbEngine::Sqlite, Id) => "INTEGER PRIMARY KEY AUTOINCREMENT".to_string(),
        (OdbEngine::Postgresql, Id) => "BIGSERIAL PRIMARY KEY".to_string(),
        (OdbEngine::Mysql, Id) => "BIGINT AUTO_INCREMENT PRIMARY KEY".to_string(),
        (OdbEngine::Sqlite, Int) => "INTEGER".to_string(),
        (_, Int) => "BIGINT".to_string(),
        (OdbEngine::Sqlite, Str(_)) => "TEXT".to_string(),
        (_, Str(n)) if n > 1000 => "TEXT".to_string(),
        (_, Str(n)) => format!("VARCHAR({n})"),
        (OdbEngine::Mysql, Key(n)) => format!("VARCHAR({n}) COLLATE utf8mb4_bin"),
        (OdbEngine::Sqlite, Key(_)) => "TEXT".to_string(),
        (_, Key(n)) => format!("VARCHAR({n})"),
        (OdbEngine::Mysql, Text) => "MEDIUMTEXT".to_string(),
        (_, Text) => "TEXT".to_string(),
        (OdbEngine::Postgresql, Blob) => "BYTEA".to_string(),
        (OdbEngine::Mysql, Blob) => "LONGBLOB".to_string(),
        (OdbEngine::Sqlite, Blob) => "BLOB".to_string(),
    };
    let null = if col.not_null && !matches!(col.ty, Id) {
        " NOT NULL"
    } else {
        ""
    };
    format!("{} {ty}{null}", col.name)
}

fn table_ddl(engine: OdbEngine, t: &Table, if_not_exists: bool) -> String {
    let mut parts: Vec<String> = t.cols.iter().map(|c| col_ddl(engine, c)).collect();
    parts.extend(t.constraints.iter().map(|s| s.to_string()));
    let tail = match engine {
        OdbEngine::Mysql => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        _ => "",
    };
    let ine = if if_not_exists { "IF NOT EXISTS " } else { "" };
    format!("CREATE TABLE {ine}{} ({}){tail}", t.name, parts.join(", "))
}

/// The table of a config kind: `id`, `name`, the kind's fields, `cluster_id`.
fn kind_ddl(engine: OdbEngine, kind: &Kind, if_not_exists: bool) -> String {
    let mut cols = vec![nn("id", Id), nn("name", Str(200))];
    for f in kind.fields {
        let ty = match f.ty {
            KindTy::Str(n) => Str(n),
            KindTy::Secret => Str(1000),
            KindTy::Int | KindTy::Bool | KindTy::Ref(_) | KindTy::Service => Int,
        };
        cols.push(if f.required {
            nn(f.name, ty)
        } else {
            c(f.name, ty)
        });
    }
    cols.push(nn("cluster_id", Int));
    let mut parts: Vec<String> = cols.iter().map(|c| col_ddl(engine, c)).collect();
    parts.push("UNIQUE (cluster_id, name)".into());
    let tail = match engine {
        OdbEngine::Mysql => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        _ => "",
    };
    let ine = if if_not_exists { "IF NOT EXISTS " } else { "" };
    format!(
        "CREATE TABLE {ine}{} ({}){tail}",
        kind.table,
        parts.join(", ")
    )
}

/// The DDL of the whole schema for one backend.
pub fn ddl(engine: OdbEngine) -> Vec<String> {
    let mut out: Vec<String> = TABLES
        .iter()
        .chain(TABLES_V2)
        .chain(TABLES_IF_MISSING)
        .map(|t| table_ddl(engine, t, false))
        .collect();
    out.extend(kinds::ALL.iter().map(|k| kind_ddl(engine, k, false)));
    out.push("CREATE INDEX ix_cluster_event_cl ON cluster_event (cluster_id, id)".into());
    out.push("CREATE INDEX ix_dp_name ON deployment_package (payload_name)".into());
    out
}

/// Whether the ODB has the table `name`.
async fn table_exists(odb: &Odb, name: &str) -> OdbResult<bool> {
    let exists_sql = match odb.engine() {
        OdbEngine::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
        OdbEngine::Postgresql => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
        }
        OdbEngine::Mysql => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
        }
    };
    let row = sqlx::query(odb.sql(exists_sql))
        .bind(name.to_string())
        .fetch_one(odb.pool())
        .await?;
    Ok(row.try_get::<i64, _>(0)? > 0)
}

/// The installed schema version, or None when the ODB has no Zato schema yet.
pub async fn installed_version(odb: &Odb) -> OdbResult<Option<i64>> {
    if !table_exists(odb, "install_state").await? {
        return Ok(None);
    }
    let row = sqlx::query("SELECT MAX(version) FROM install_state")
        .fetch_one(odb.pool())
        .await?;
    Ok(row.try_get::<Option<i64>, _>(0)?)
}

/// Creates the schema in an empty ODB (`zato create odb`).
pub async fn create(odb: &Odb, host: &str, user: &str) -> OdbResult<()> {
    if let Some(v) = installed_version(odb).await? {
        return Err(OdbError::SchemaExists(v));
    }
    let mut tx = odb.begin_write().await?;
    for stmt in ddl(odb.engine()) {
        sqlx::query(sqlx::AssertSqlSafe(stmt))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(odb.sql(
        "INSERT INTO install_state (version, install_time, source_host, source_user) VALUES (?, ?, ?, ?)",
    ))
    .bind(SCHEMA_VERSION)
    .bind(crate::time::utc_now_iso())
    .bind(host.to_string())
    .bind(user.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Checks that the ODB has a schema this build understands (run by every component at start).
pub async fn check(odb: &Odb) -> OdbResult<()> {
    supported(installed_version(odb).await?).map(|_| ())
}

/// The installed version, if this build can work with it.
fn supported(installed: Option<i64>) -> OdbResult<i64> {
    match installed {
        None => Err(OdbError::NoSchema),
        Some(v) if v > SCHEMA_VERSION => Err(OdbError::TooNew {
            found: v,
            known: SCHEMA_VERSION,
        }),
        Some(v) => Ok(v),
    }
}

/// Brings a version-1 ODB to this build's version: creates the tables added since
/// (`IF NOT EXISTS`, so servers starting together do not trip over each other).
pub async fn upgrade(odb: &Odb) -> OdbResult<()> {
    if supported(installed_version(odb).await?)? == SCHEMA_VERSION {
        return ensure_kind_tables(odb).await;
    }
    ensure_kind_tables(odb).await?;
    for t in TABLES_V2 {
        let stmt = table_ddl(odb.engine(), t, true);
        sqlx::query(sqlx::AssertSqlSafe(stmt))
            .execute(odb.pool())
            .await?;
    }
    sqlx::query(odb.sql(
        "INSERT INTO install_state (version, install_time, source_host, source_user) VALUES (?, ?, ?, ?)",
    ))
    .bind(SCHEMA_VERSION)
    .bind(crate::time::utc_now_iso())
    .bind("upgrade".to_string())
    .bind("zato-server".to_string())
    .execute(odb.pool())
    .await?;
    Ok(())
}

/// The tables of config kinds and [`TABLES_IF_MISSING`] are created when missing at every
/// start (`IF NOT EXISTS`): a table added by a newer build needs no version of its own.
async fn ensure_kind_tables(odb: &Odb) -> OdbResult<()> {
    // An ODB from before built-in cache definitions gets every cluster's two default ones.
    let had_caches = table_exists(odb, kinds::cache::BUILTIN.table).await?;
    let kind_tables = kinds::ALL.iter().map(|k| kind_ddl(odb.engine(), k, true));
    let ours = TABLES_IF_MISSING
        .iter()
        .map(|t| table_ddl(odb.engine(), t, true));
    for stmt in kind_tables.chain(ours) {
        sqlx::query(sqlx::AssertSqlSafe(stmt))
            .execute(odb.pool())
            .await?;
    }
    if !had_caches {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM cluster")
            .fetch_all(odb.pool())
            .await?;
        for id in ids {
            odb.add_default_caches(id).await?;
        }
    }
    Ok(())
}

/// Drops every Zato table (`zato delete odb`).
pub async fn drop_all(odb: &Odb) -> OdbResult<()> {
    let kind_tables = kinds::ALL.iter().rev().map(|k| k.table);
    let tables = TABLES.iter().chain(TABLES_V2).chain(TABLES_IF_MISSING);
    for name in kind_tables.chain(tables.rev().map(|t| t.name)) {
        let stmt = format!("DROP TABLE IF EXISTS {name}");
        sqlx::query(sqlx::AssertSqlSafe(stmt))
            .execute(odb.pool())
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_differs_per_backend_only_in_types() {
        let pg = ddl(OdbEngine::Postgresql);
        let my = ddl(OdbEngine::Mysql);
        let lite = ddl(OdbEngine::Sqlite);
        assert_eq!(pg.len(), my.len());
        assert!(lite[1].starts_with("CREATE TABLE cluster (id INTEGER PRIMARY KEY AUTOINCREMENT"));
        assert!(pg[1].contains("BIGSERIAL PRIMARY KEY"));
        assert!(my[1].ends_with("ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"));
        assert!(pg.iter().any(|s| s.starts_with("CREATE TABLE http_soap (")));
    }
}
