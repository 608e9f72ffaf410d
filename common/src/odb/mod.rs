//! The one ODB access layer. One schema for SQLite (WAL), PostgreSQL and MySQL/MariaDB through
//! sqlx's `Any` driver; queries are written once with `?` markers and translated for PostgreSQL.
use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Executor};
use thiserror::Error;

use crate::config::{OdbConfig, OdbEngine};

pub mod async_requests;
pub mod cache;
pub mod channels;
pub mod cluster;
pub mod events;
pub mod jobs;
pub mod kinds;
pub mod kv;
pub mod notify;
pub mod schema;
pub mod security;
pub mod services;
pub mod sql_pool;
pub mod stats;

#[derive(Debug, Error)]
pub enum OdbError {
    #[error(
        "cannot connect to the {engine} ODB at {target}: {source}; check [odb] in the config and that the database server is running"
    )]
    Connect {
        engine: &'static str,
        target: String,
        source: sqlx::Error,
    },
    #[error("ODB query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("the ODB has no Zato schema; create it with `zato create odb`")]
    NoSchema,
    #[error(
        "the ODB already holds a Zato schema (version {0}); use `zato delete odb` first to recreate it"
    )]
    SchemaExists(i64),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(
        "the ODB schema is version {found}, newer than this build understands ({known}); upgrade the binaries"
    )]
    TooNew { found: i64, known: i64 },
}

pub type OdbResult<T> = Result<T, OdbError>;

/// A connection URL, which holds the password: never printed.
#[derive(Clone)]
struct HiddenUrl(std::sync::Arc<str>);

impl std::fmt::Debug for HiddenUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<url>")
    }
}

/// A pool of connections to the ODB plus the knowledge of its dialect.
#[derive(Clone, Debug)]
pub struct Odb {
    pool: AnyPool,
    engine: OdbEngine,
    /// Where LISTEN connections go (PostgreSQL only).
    listen_url: Option<HiddenUrl>,
}

/// The connection URL for a config; credentials are percent-encoded.
pub fn connection_url(cfg: &OdbConfig) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    let auth = if cfg.password.is_empty() {
        enc(&cfg.username)
    } else {
        format!("{}:{}", enc(&cfg.username), enc(&cfg.password))
    };
    match cfg.engine {
        OdbEngine::Sqlite => format!("sqlite://{}?mode=rwc", cfg.db_name),
        OdbEngine::Postgresql => format!(
            "postgres://{auth}@{}:{}/{}",
            cfg.host,
            if cfg.port == 0 { 5432 } else { cfg.port },
            enc(&cfg.db_name)
        ),
        OdbEngine::Mysql => format!(
            "mysql://{auth}@{}:{}/{}",
            cfg.host,
            if cfg.port == 0 { 3306 } else { cfg.port },
            enc(&cfg.db_name)
        ),
    }
}

fn describe_target(cfg: &OdbConfig) -> String {
    match cfg.engine {
        OdbEngine::Sqlite => cfg.db_name.clone(),
        _ => format!("{}:{}/{}", cfg.host, cfg.port, cfg.db_name),
    }
}

/// Rewrites `?` markers into `$1, $2, ...` (PostgreSQL). Queries never contain literal `?`.
fn numbered_markers(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

impl Odb {
    pub async fn connect(cfg: &OdbConfig) -> OdbResult<Self> {
        sqlx::any::install_default_drivers();
        let url = connection_url(cfg);
        let connect_err = |source| OdbError::Connect {
            engine: cfg.engine.as_str(),
            target: describe_target(cfg),
            source,
        };
        let opts = AnyConnectOptions::from_str(&url).map_err(connect_err)?;
        let engine = cfg.engine;
        let pool = AnyPoolOptions::new()
            .max_connections(cfg.pool_size.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if engine == OdbEngine::Sqlite {
                        // WAL lets readers run beside the single writer; busy_timeout makes
                        // concurrent writers from several servers wait instead of failing.
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(connect_err)?;
        let listen_url =
            (engine == OdbEngine::Postgresql).then(|| HiddenUrl(std::sync::Arc::from(url)));
        Ok(Self {
            pool,
            engine,
            listen_url,
        })
    }

    /// The URL a LISTEN connection uses, on PostgreSQL.
    pub(crate) fn listen_url(&self) -> Option<&str> {
        self.listen_url.as_ref().map(|u| &*u.0)
    }

    pub fn engine(&self) -> OdbEngine {
        self.engine
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction: every one in the ODB layer writes, and most read first. On SQLite it
    /// takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred one that read first fails with SQLITE_BUSY_SNAPSHOT
    /// (517) when another connection wrote meanwhile, which no busy timeout waits out.
    pub async fn begin_write(&self) -> OdbResult<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.engine {
            OdbEngine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            _ => self.pool.begin().await?,
        })
    }

    /// A statement in this backend's dialect, written with `?` markers.
    pub fn sql(&self, sql: &'static str) -> AssertSqlSafe<Cow<'static, str>> {
        match self.engine {
            OdbEngine::Postgresql => AssertSqlSafe(Cow::Owned(numbered_markers(sql))),
            _ => AssertSqlSafe(Cow::Borrowed(sql)),
        }
    }

    /// Runs an INSERT and returns the new row's `id`.
    pub async fn insert_returning_id(
        &self,
        query: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> OdbResult<i64> {
        let mut conn = self.pool.acquire().await?;
        self.insert_returning_id_on(&mut conn, query).await
    }

    /// [`Odb::insert_returning_id`] on a given connection (a transaction's).
    pub async fn insert_returning_id_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        query: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> OdbResult<i64> {
        match self.engine {
            OdbEngine::Mysql => {
                let res = query.execute(conn).await?;
                res.last_insert_id()
                    .ok_or_else(|| OdbError::NotFound("the ODB returned no insert id".into()))
            }
            _ => {
                use sqlx::Row;
                let row: AnyRow = query.fetch_one(conn).await?;
                Ok(row.try_get::<i64, _>(0)?)
            }
        }
    }

    /// Sets the stored (already encrypted) secret of one row of `table` (`sec_base`, `sql_pool`).
    pub(crate) async fn set_secret_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        table: &'static str,
        cluster_id: i64,
        id: i64,
        stored: &str,
    ) -> OdbResult<u64> {
        let sql = self.dialect(&format!(
            "UPDATE {table} SET password = ? WHERE cluster_id = ? AND id = ?"
        ));
        let res = sqlx::query(AssertSqlSafe(sql))
            .bind(stored.to_string())
            .bind(cluster_id)
            .bind(id)
            .execute(conn)
            .await?;
        Ok(res.rows_affected())
    }

    /// A statement built at run time (with `?` markers) in this backend's dialect.
    pub fn dialect(&self, sql: &str) -> String {
        match self.engine {
            OdbEngine::Postgresql => numbered_markers(sql),
            _ => sql.to_string(),
        }
    }

    /// An INSERT statement, extended with `RETURNING id` where the backend needs it; run it
    /// with [`Odb::insert_returning_id`].
    pub fn sql_insert(&self, sql: &'static str) -> AssertSqlSafe<Cow<'static, str>> {
        match self.engine {
            OdbEngine::Postgresql => AssertSqlSafe(Cow::Owned(format!(
                "{} RETURNING id",
                numbered_markers(sql)
            ))),
            OdbEngine::Sqlite => AssertSqlSafe(Cow::Owned(format!("{sql} RETURNING id"))),
            OdbEngine::Mysql => AssertSqlSafe(Cow::Borrowed(sql)),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Maps a unique-constraint violation to a readable conflict error.
pub fn conflict_or(err: sqlx::Error, what: impl FnOnce() -> String) -> OdbError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        return OdbError::Conflict(what());
    }
    OdbError::Query(err)
}

/// Booleans are stored as integers 0/1 on every backend.
pub fn b(v: bool) -> i64 {
    i64::from(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_numbered_for_postgres() {
        assert_eq!(
            numbered_markers("SELECT a FROM t WHERE x = ? AND y = ?"),
            "SELECT a FROM t WHERE x = $1 AND y = $2"
        );
    }

    #[test]
    fn url_encodes_credentials() {
        let cfg = OdbConfig {
            engine: OdbEngine::Postgresql,
            db_name: "z db".into(),
            host: "127.0.0.1".into(),
            port: 0,
            username: "u@x".into(),
            password: "p/w".into(),
            pool_size: 1,
        };
        assert_eq!(
            connection_url(&cfg),
            "postgres://u%40x:p%2Fw@127.0.0.1:5432/z%20db"
        );
    }
}
