//! Outgoing SQL connections (PostgreSQL, MySQL/MariaDB, SQLite) through sqlx's `Any` driver:
//! queries with named (`:name`) or positional (`?`) parameters, rows as column → value maps
//! and transactions that live across calls from Python (sessions, by handle).
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustc_hash::FxHashMap;
use serde_json::Value;
use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions, AnyRow, AnyTypeInfoKind};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Column, Row, Transaction};
use zato_common::config::{OdbConfig, OdbEngine};
use zato_common::crypto::SecretKey;
use zato_common::odb::sql_pool::SqlPool;

/// One column's value as Python will see it.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

#[derive(Debug, Default)]
pub struct SqlReply {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<SqlValue>>,
    pub rows_affected: u64,
}

#[derive(Debug)]
pub struct SqlConn {
    pub name: String,
    engine: OdbEngine,
    pool: AnyPool,
    pub fingerprint: String,
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
    pub fn new(p: &SqlPool, key: &SecretKey, fingerprint: String) -> Result<Self, String> {
        sqlx::any::install_default_drivers();
        let engine =
            engine_of(&p.engine).ok_or_else(|| format!("unsupported SQL engine `{}`", p.engine))?;
        let password = match p.password.as_deref() {
            Some(s) if !s.is_empty() => key
                .decrypt_from_odb(s)
                .map_err(|e| format!("cannot decrypt the password: {e}"))?,
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
        let opts = AnyConnectOptions::from_str(&zato_common::odb::connection_url(&cfg))
            .map_err(|e| format!("invalid connection settings: {e}"))?;
        let pool = AnyPoolOptions::new()
            .max_connections(cfg.pool_size)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(opts);
        Ok(Self {
            name: p.name.clone(),
            engine,
            pool,
            fingerprint,
        })
    }

    /// Runs one statement outside of any session.
    pub async fn execute(&self, sql: &str, params: &Value) -> Result<SqlReply, String> {
        let (text, args) = prepare(self.engine, sql, params)?;
        let mut conn = self.pool.acquire().await.map_err(|e| e.to_string())?;
        run(&mut conn, &text, args).await
    }

    pub async fn begin(&self) -> Result<Transaction<'static, Any>, String> {
        self.pool.begin().await.map_err(|e| e.to_string())
    }

    pub fn engine(&self) -> OdbEngine {
        self.engine
    }
}

/// Whether a statement returns rows (otherwise only a count of affected rows).
fn returns_rows(sql: &str) -> bool {
    let head = sql.trim_start().to_ascii_lowercase();
    [
        "select", "with", "show", "pragma", "values", "explain", "describe", "table",
    ]
    .iter()
    .any(|k| head.starts_with(k))
        || head.contains(" returning ")
}

/// Runs a prepared statement on a connection (a pooled one or a session's transaction).
pub async fn run(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    args: Vec<Value>,
) -> Result<SqlReply, String> {
    let query = bind(sqlx::query(sqlx::AssertSqlSafe(sql.to_string())), args);
    if returns_rows(sql) {
        let rows = query.fetch_all(conn).await.map_err(|e| e.to_string())?;
        let columns = rows
            .first()
            .map(|r| r.columns().iter().map(|c| c.name().to_string()).collect())
            .unwrap_or_default();
        let rows = rows.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?;
        Ok(SqlReply {
            columns,
            rows,
            rows_affected: 0,
        })
    } else {
        let res = query.execute(conn).await.map_err(|e| e.to_string())?;
        Ok(SqlReply {
            rows_affected: res.rows_affected(),
            ..SqlReply::default()
        })
    }
}

fn bind(
    mut q: Query<'static, Any, AnyArguments>,
    args: Vec<Value>,
) -> Query<'static, Any, AnyArguments> {
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
    q
}

fn decode_row(row: &AnyRow) -> Result<Vec<SqlValue>, String> {
    let mut out = Vec::with_capacity(row.columns().len());
    for (i, col) in row.columns().iter().enumerate() {
        let err = |e: sqlx::Error| format!("column `{}`: {e}", col.name());
        let v = match col.type_info().kind() {
            // Expressions (COUNT(*) in SQLite) have no declared type: try what they may hold.
            AnyTypeInfoKind::Null => decode_untyped(row, i),
            AnyTypeInfoKind::Bool => row
                .try_get::<Option<bool>, _>(i)
                .map_err(err)?
                .map_or(SqlValue::Null, SqlValue::Bool),
            AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt => {
                decode_int(row, i).map_err(err)?
            }
            AnyTypeInfoKind::Real | AnyTypeInfoKind::Double => decode_float(row, i).map_err(err)?,
            AnyTypeInfoKind::Text => row
                .try_get::<Option<String>, _>(i)
                .map_err(err)?
                .map_or(SqlValue::Null, SqlValue::Text),
            AnyTypeInfoKind::Blob => row
                .try_get::<Option<Vec<u8>>, _>(i)
                .map_err(err)?
                .map_or(SqlValue::Null, SqlValue::Bytes),
        };
        out.push(v);
    }
    Ok(out)
}

fn decode_untyped(row: &AnyRow, i: usize) -> SqlValue {
    if let Ok(Some(v)) = row.try_get::<Option<i64>, _>(i) {
        return SqlValue::Int(v);
    }
    if let Ok(Some(v)) = row.try_get::<Option<f64>, _>(i) {
        return SqlValue::Float(v);
    }
    if let Ok(Some(v)) = row.try_get::<Option<String>, _>(i) {
        return SqlValue::Text(v);
    }
    match row.try_get::<Option<Vec<u8>>, _>(i) {
        Ok(Some(v)) => SqlValue::Bytes(v),
        _ => SqlValue::Null,
    }
}

fn decode_int(row: &AnyRow, i: usize) -> Result<SqlValue, sqlx::Error> {
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return Ok(v.map_or(SqlValue::Null, SqlValue::Int));
    }
    if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
        return Ok(v.map_or(SqlValue::Null, |v| SqlValue::Int(v.into())));
    }
    Ok(row
        .try_get::<Option<i16>, _>(i)?
        .map_or(SqlValue::Null, |v| SqlValue::Int(v.into())))
}

fn decode_float(row: &AnyRow, i: usize) -> Result<SqlValue, sqlx::Error> {
    if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
        return Ok(v.map_or(SqlValue::Null, SqlValue::Float));
    }
    Ok(row
        .try_get::<Option<f32>, _>(i)?
        .map_or(SqlValue::Null, |v| SqlValue::Float(v.into())))
}

/// Turns `:name` parameters (with a dict) or `?` parameters (with a list) into the backend's
/// markers and the values in order. Quoted text, `::` casts and comments are left alone.
pub fn prepare(
    engine: OdbEngine,
    sql: &str,
    params: &Value,
) -> Result<(String, Vec<Value>), String> {
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
                    format!("the query uses :{name} but no value for `{name}` was given")
                })?;
                args.push(value.clone());
                marker(&mut out, args.len());
                i = end;
                continue;
            }
            '?' if named.is_none() => {
                let value = positional.get(next_pos).ok_or_else(|| {
                    format!(
                        "the query has more ? markers than the {} values given",
                        positional.len()
                    )
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
        return Err(format!(
            "{} values were given for {} ? markers",
            positional.len(),
            next_pos
        ));
    }
    Ok((out, args))
}

/// A session's open transaction and the dialect its statements are written for.
pub struct Session {
    pub engine: OdbEngine,
    pub tx: Transaction<'static, Any>,
}

/// Open transactions of Python sessions, by handle. A session is used by one Python call at
/// a time; its transaction is taken out while a statement runs.
#[derive(Default)]
pub struct SqlSessions {
    next: AtomicU64,
    open: Mutex<FxHashMap<u64, Session>>,
}

impl SqlSessions {
    pub fn open(&self, session: Session) -> u64 {
        let handle = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.put_back(handle, session);
        handle
    }

    pub fn put_back(&self, handle: u64, session: Session) {
        if let Ok(mut m) = self.open.lock() {
            m.insert(handle, session);
        }
    }

    pub fn take(&self, handle: u64) -> Result<Session, String> {
        self.open
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&handle))
            .ok_or_else(|| "the SQL session is already closed".to_string())
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
                .contains("`a`")
        );
    }
}
