//! Outgoing SQL connections (PostgreSQL, MySQL/MariaDB, SQLite), each with its driver's own
//! pool so that every column type can be read: queries with named (`:name`) or positional
//! (`?`) parameters, rows as column → value lists, and transactions that live across calls
//! from Python (sessions, by handle).
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustc_hash::FxHashMap;
use serde_json::Value;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions};
use sqlx::{
    Column, Either, Executor, MySql, Postgres, SqlSafeStr, Sqlite, Statement, Transaction, TypeInfo,
};
use zato_common::config::{OdbConfig, OdbEngine};
use zato_common::crypto::SecretKey;
use zato_common::odb::sql_pool::SqlPool;

use super::error::{ConnError, ConnErrorKind};
pub use super::sql_types::{Kind, SqlValue};
use super::sql_types::{bind_pg, decode_mysql, decode_pg, decode_sqlite};

#[derive(Debug, Default)]
pub struct SqlReply {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<SqlValue>>,
    pub rows_affected: u64,
    /// The key an INSERT generated, where the backend reports one (MySQL, SQLite): what a
    /// DB-API cursor's `lastrowid` is, which SQLAlchemy reads for autoincrement keys.
    pub last_insert_id: Option<i64>,
}

#[derive(Debug)]
enum Pool {
    Pg(PgPool),
    My(MySqlPool),
    Lite(SqlitePool),
}

/// A session's open transaction.
pub enum Tx {
    Pg(Transaction<'static, Postgres>),
    My(Transaction<'static, MySql>),
    Lite(Transaction<'static, Sqlite>),
}

impl Tx {
    pub async fn end(self, commit: bool) -> Result<(), ConnError> {
        let r = match (self, commit) {
            (Tx::Pg(t), true) => t.commit().await,
            (Tx::Pg(t), false) => t.rollback().await,
            (Tx::My(t), true) => t.commit().await,
            (Tx::My(t), false) => t.rollback().await,
            (Tx::Lite(t), true) => t.commit().await,
            (Tx::Lite(t), false) => t.rollback().await,
        };
        r.map_err(|e| ConnError::from_sqlx(&e))
    }

    fn engine(&self) -> OdbEngine {
        match self {
            Tx::Pg(_) => OdbEngine::Postgresql,
            Tx::My(_) => OdbEngine::Mysql,
            Tx::Lite(_) => OdbEngine::Sqlite,
        }
    }

    /// Runs one statement (with `:name` or `?` parameters) inside the transaction.
    pub async fn execute(&mut self, sql: &str, params: &Value) -> Result<SqlReply, ConnError> {
        let (text, args) = prepare(self.engine(), sql, params)?;
        match self {
            Tx::Pg(t) => run_pg(t, &text, args).await,
            Tx::My(t) => run_mysql(t, &text, args).await,
            Tx::Lite(t) => run_sqlite(t, &text, args).await,
        }
    }
}

#[derive(Debug)]
pub struct SqlConn {
    pub name: String,
    engine: OdbEngine,
    pool: Pool,
    pub fingerprint: String,
    /// The ODB row without its password, for Python's `.config`.
    pub config: serde_json::Value,
}

pub fn fingerprint(p: &SqlPool) -> String {
    format!(
        "{}{}",
        serde_json::to_string(p).unwrap_or_default(),
        p.password.as_deref().unwrap_or_default()
    )
}

/// Upstream's engine names (`postgresql+pg8000`, `mysql+pymysql`, ...) to a backend.
pub fn engine_of(name: &str) -> Option<OdbEngine> {
    OdbEngine::parse(name.split('+').next().unwrap_or_default())
}

impl SqlConn {
    /// Builds a lazy pool: nothing connects until the first query, so a database that is
    /// down does not stop the server, and the first query reports why it cannot connect.
    pub fn new(p: &SqlPool, key: &SecretKey, fingerprint: String) -> Result<Self, ConnError> {
        let engine = engine_of(&p.engine)
            .ok_or_else(|| ConnError::config(format!("unsupported SQL engine `{}`", p.engine)))?;
        let password = match p.password.as_deref() {
            Some(s) if !s.is_empty() => key
                .decrypt_from_odb(s)
                .map_err(|e| ConnError::config(format!("cannot decrypt the password: {e}")))?,
            _ => String::new(),
        };
        let cfg = OdbConfig {
            engine,
            db_name: p.db_name.clone(),
            host: p.host.clone(),
            port: u16::try_from(p.port).unwrap_or(0),
            username: p.username.clone(),
            password,
            pool_size: u32::try_from(p.pool_size.max(1)).unwrap_or(1),
        };
        let url = zato_common::odb::connection_url(&cfg);
        let bad = |e: sqlx::Error| ConnError::config(format!("invalid connection settings: {e}"));
        let (size, wait) = (cfg.pool_size, Duration::from_secs(10));
        let pool = match engine {
            OdbEngine::Postgresql => Pool::Pg(
                PgPoolOptions::new()
                    .max_connections(size)
                    .acquire_timeout(wait)
                    .connect_lazy_with(PgConnectOptions::from_str(&url).map_err(bad)?),
            ),
            OdbEngine::Mysql => Pool::My(
                MySqlPoolOptions::new()
                    .max_connections(size)
                    .acquire_timeout(wait)
                    .connect_lazy_with(MySqlConnectOptions::from_str(&url).map_err(bad)?),
            ),
            OdbEngine::Sqlite => Pool::Lite(
                SqlitePoolOptions::new()
                    .max_connections(size)
                    .acquire_timeout(wait)
                    .connect_lazy_with(
                        SqliteConnectOptions::from_str(&url)
                            .map_err(bad)?
                            .busy_timeout(wait),
                    ),
            ),
        };
        Ok(Self {
            name: p.name.clone(),
            engine,
            pool,
            fingerprint,
            config: serde_json::to_value(p).unwrap_or_default(),
        })
    }

    /// Runs one statement outside of any session (autocommit).
    pub async fn execute(&self, sql: &str, params: &Value) -> Result<SqlReply, ConnError> {
        let (text, args) = prepare(self.engine, sql, params)?;
        let e = |e: sqlx::Error| ConnError::from_sqlx(&e);
        match &self.pool {
            Pool::Pg(p) => run_pg(&mut *p.acquire().await.map_err(e)?, &text, args).await,
            Pool::My(p) => run_mysql(&mut *p.acquire().await.map_err(e)?, &text, args).await,
            Pool::Lite(p) => run_sqlite(&mut *p.acquire().await.map_err(e)?, &text, args).await,
        }
    }

    pub async fn begin(&self) -> Result<Tx, ConnError> {
        let e = |e: sqlx::Error| ConnError::from_sqlx(&e);
        Ok(match &self.pool {
            Pool::Pg(p) => Tx::Pg(p.begin().await.map_err(e)?),
            Pool::My(p) => Tx::My(p.begin().await.map_err(e)?),
            Pool::Lite(p) => Tx::Lite(p.begin().await.map_err(e)?),
        })
    }
}

/// Runs a prepared statement and reads its rows (or its count of affected rows), the query
/// already bound in `$q`.
macro_rules! finish {
    ($q:expr, $conn:expr, $stmt:expr, $decode:path, $last_id:expr) => {{
        if $stmt.columns().is_empty() {
            let res = $q
                .execute(&mut *$conn)
                .await
                .map_err(|e| ConnError::from_sqlx(&e))?;
            Ok(SqlReply {
                rows_affected: res.rows_affected(),
                last_insert_id: $last_id(&res),
                ..SqlReply::default()
            })
        } else {
            let columns = $stmt
                .columns()
                .iter()
                .map(|c| c.name().to_string())
                .collect();
            let rows = $q
                .fetch_all(&mut *$conn)
                .await
                .map_err(|e| ConnError::from_sqlx(&e))?;
            let rows = rows
                .iter()
                .map($decode)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ConnError::new(ConnErrorKind::Protocol, e.to_string()))?;
            Ok(SqlReply {
                columns,
                rows,
                rows_affected: 0,
                last_insert_id: None,
            })
        }
    }};
}

/// PostgreSQL: each parameter bound as the type the server inferred for it.
async fn run_pg(
    conn: &mut PgConnection,
    sql: &str,
    args: Vec<Value>,
) -> Result<SqlReply, ConnError> {
    let stmt = (&mut *conn)
        .prepare(sqlx::AssertSqlSafe(sql.to_string()).into_sql_str())
        .await
        .map_err(|e| ConnError::from_sqlx(&e))?;
    let types: Vec<String> = match stmt.parameters() {
        Some(Either::Left(t)) => t.iter().map(|t| t.name().to_string()).collect(),
        _ => Vec::new(),
    };
    let mut q = stmt.query();
    for (n, v) in args.iter().enumerate() {
        let ty = types.get(n).map_or("TEXT", String::as_str);
        q = bind_pg(q, ty, v).map_err(|e| ConnError::input(format!("parameter {}: {e}", n + 1)))?;
    }
    // PostgreSQL has no last insert id; SQLAlchemy uses RETURNING there.
    finish!(q, conn, stmt, decode_pg, |_: &_| None)
}

/// MySQL and SQLite convert parameters themselves: values are bound as what they are.
macro_rules! run_plain {
    ($name:ident, $conn:ty, $decode:path, $last_id:expr) => {
        async fn $name(
            conn: &mut $conn,
            sql: &str,
            args: Vec<Value>,
        ) -> Result<SqlReply, ConnError> {
            let stmt = (&mut *conn)
                .prepare(sqlx::AssertSqlSafe(sql.to_string()).into_sql_str())
                .await
                .map_err(|e| ConnError::from_sqlx(&e))?;
            let mut q = stmt.query();
            for a in args {
                q = match a {
                    Value::Null => q.bind(None::<String>),
                    Value::Bool(b) => q.bind(b),
                    Value::Number(n) => match n.as_i64() {
                        Some(i) => q.bind(i),
                        None => q.bind(n.as_f64().unwrap_or_default()),
                    },
                    Value::String(s) => q.bind(s),
                    other => q.bind(other.to_string()),
                };
            }
            finish!(q, conn, stmt, $decode, $last_id)
        }
    };
}

run_plain!(
    run_mysql,
    MySqlConnection,
    decode_mysql,
    |r: &sqlx::mysql::MySqlQueryResult| i64::try_from(r.last_insert_id()).ok().filter(|id| *id > 0)
);
run_plain!(
    run_sqlite,
    SqliteConnection,
    decode_sqlite,
    |r: &sqlx::sqlite::SqliteQueryResult| Some(r.last_insert_rowid()).filter(|id| *id > 0)
);

/// Turns `:name` parameters (with a dict) or `?` parameters (with a list) into the backend's
/// markers and the values in order. Quoted text, `::` casts and comments are left alone.
pub fn prepare(
    engine: OdbEngine,
    sql: &str,
    params: &Value,
) -> Result<(String, Vec<Value>), ConnError> {
    let named = params.as_object();
    let positional = match params {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        Value::Object(_) => Vec::new(),
        other => vec![other.clone()],
    };
    let mut out = String::with_capacity(sql.len() + 8);
    let mut args = Vec::new();
    let mut next_pos = 0usize;
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    let marker = |out: &mut String, n: usize| {
        if engine == OdbEngine::Postgresql {
            out.push_str(&format!("${n}"));
        } else {
            out.push('?');
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' | '`' => {
                // Copy a quoted literal or identifier as it is ('' escapes included).
                out.push(c);
                i += 1;
                while i < chars.len() {
                    out.push(chars[i]);
                    if chars[i] == c {
                        break;
                    }
                    i += 1;
                }
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(chars[i]);
                    i += 1;
                }
                continue;
            }
            ':' if chars.get(i + 1) == Some(&':') => {
                out.push_str("::");
                i += 1;
            }
            ':' if named.is_some()
                && chars
                    .get(i + 1)
                    .is_some_and(|n| n.is_ascii_alphabetic() || *n == '_') =>
            {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_')
                {
                    end += 1;
                }
                let name: String = chars[start..end].iter().collect();
                let value = named.and_then(|m| m.get(&name)).ok_or_else(|| {
                    ConnError::input(format!(
                        "the query uses :{name} but no value for `{name}` was given"
                    ))
                })?;
                args.push(value.clone());
                marker(&mut out, args.len());
                i = end;
                continue;
            }
            '?' if named.is_none() => {
                let value = positional.get(next_pos).ok_or_else(|| {
                    ConnError::input(format!(
                        "the query has more ? markers than the {} values given",
                        positional.len()
                    ))
                })?;
                next_pos += 1;
                args.push(value.clone());
                marker(&mut out, args.len());
            }
            _ => out.push(c),
        }
        i += 1;
    }
    if named.is_none() && next_pos != positional.len() {
        return Err(ConnError::input(format!(
            "{} values were given for {} ? markers",
            positional.len(),
            next_pos
        )));
    }
    Ok((out, args))
}

/// Open transactions of Python sessions, by handle. A session is used by one Python call at
/// a time; its transaction is taken out while a statement runs.
#[derive(Default)]
pub struct SqlSessions {
    next: AtomicU64,
    open: Mutex<FxHashMap<u64, Tx>>,
}

impl SqlSessions {
    pub fn open(&self, session: Tx) -> u64 {
        let handle = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.put_back(handle, session);
        handle
    }

    pub fn put_back(&self, handle: u64, session: Tx) {
        if let Ok(mut m) = self.open.lock() {
            m.insert(handle, session);
        }
    }

    pub fn take(&self, handle: u64) -> Result<Tx, ConnError> {
        self.open
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&handle))
            .ok_or_else(|| ConnError::closed("the SQL session is already closed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn named_params_skip_literals_and_casts() {
        let (sql, args) = prepare(
            OdbEngine::Postgresql,
            "SELECT ':x', a::text FROM t WHERE id = :id AND n = :name -- :not\n AND m = :id",
            &json!({"id": 7, "name": "a"}),
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT ':x', a::text FROM t WHERE id = $1 AND n = $2 -- :not\n AND m = $3"
        );
        assert_eq!(args, vec![json!(7), json!("a"), json!(7)]);
        let (sql, _) = prepare(
            OdbEngine::Mysql,
            "SELECT * FROM t WHERE id = :id",
            &json!({"id": 1}),
        )
        .unwrap();
        assert_eq!(sql, "SELECT * FROM t WHERE id = ?");
    }

    #[test]
    fn positional_params_are_counted() {
        let (sql, args) = prepare(OdbEngine::Postgresql, "SELECT ? + ?", &json!([1, 2])).unwrap();
        assert_eq!(sql, "SELECT $1 + $2");
        assert_eq!(args.len(), 2);
        assert!(prepare(OdbEngine::Sqlite, "SELECT ?", &json!([1, 2])).is_err());
        assert!(
            prepare(OdbEngine::Sqlite, "SELECT :a", &json!({}))
                .unwrap_err()
                .message
                .contains("`a`")
        );
    }
}
