//! The optional Redis connection (`[kvdb]`): reachability checks for `zato check-config` and
//! quickstart.
use std::path::{Path, PathBuf};
use std::time::Duration;

use redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};
use thiserror::Error;

use crate::config::{KvdbConfig, repo_dir};
use crate::crypto::SecretKey;

/// Where server.conf points for the Redis password (an entry of secrets.conf).
const PASSWORD_REF: &str = "zato+secret://zato.server_conf.kvdb.password";
const PASSWORD_KEY: &str = "server_conf.kvdb.password";

#[derive(Debug, Error)]
pub enum KvdbError {
    #[error("Redis at {addr} did not answer within {timeout:?}; is it running?")]
    Timeout { addr: String, timeout: Duration },
    #[error("Redis at {addr}: {source}")]
    Redis {
        addr: String,
        source: redis::RedisError,
    },
    #[error("cannot update {path}: {detail}")]
    Save { path: PathBuf, detail: String },
}

/// A multiplexed connection made on first use and made anew after it broke or a command on it
/// timed out (a late reply would otherwise be taken for the next command's).
pub struct Lazy {
    client: redis::Client,
    connect_timeout: Duration,
    conn: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

/// Why a command on a [`Lazy`] connection failed (callers add the address).
#[derive(Debug, Error)]
pub enum LazyError {
    #[error("no answer in time")]
    Timeout,
    #[error(transparent)]
    Redis(redis::RedisError),
}

impl Lazy {
    pub fn new(client: redis::Client, connect_timeout: Duration) -> Self {
        Self {
            client,
            connect_timeout,
            conn: tokio::sync::Mutex::new(None),
        }
    }

    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, LazyError> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let c = tokio::time::timeout(
            self.connect_timeout,
            self.client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| LazyError::Timeout)?
        .map_err(LazyError::Redis)?;
        *guard = Some(c.clone());
        Ok(c)
    }

    /// Runs `work` (a command or a pipeline on the connection it is given) within `timeout`.
    pub async fn run<T, F, Fut>(&self, timeout: Duration, work: F) -> Result<T, LazyError>
    where
        F: FnOnce(redis::aio::MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.connection().await?;
        match tokio::time::timeout(timeout, work(conn)).await {
            Err(_) => {
                self.conn.lock().await.take();
                Err(LazyError::Timeout)
            }
            Ok(Err(e)) => {
                if e.is_io_error() || e.is_connection_dropped() {
                    self.conn.lock().await.take();
                }
                Err(LazyError::Redis(e))
            }
            Ok(Ok(v)) => Ok(v),
        }
    }
}

/// A client for the configured Redis (authenticating when a password is set, on the db).
pub fn client(cfg: &KvdbConfig) -> Result<redis::Client, KvdbError> {
    let err = |source| KvdbError::Redis {
        addr: format!("{}:{}", cfg.host, cfg.port),
        source,
    };
    let mut settings = RedisConnectionInfo::default().set_db(i64::from(cfg.db));
    if !cfg.password.is_empty() {
        settings = settings.set_password(&cfg.password);
    }
    let info = ConnectionAddr::Tcp(cfg.host.clone(), cfg.port)
        .into_connection_info()
        .map_err(err)?
        .set_redis_settings(settings);
    redis::Client::open(info).map_err(err)
}

/// Connects, selects the db and sends PING.
pub async fn ping(cfg: &KvdbConfig, timeout: Duration) -> Result<(), KvdbError> {
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let err = |source| KvdbError::Redis {
        addr: addr.clone(),
        source,
    };
    let client = client(cfg)?;
    let work = async {
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(err)?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map_err(err)
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result.map(|_| ()),
        Err(_) => Err(KvdbError::Timeout {
            addr: addr.clone(),
            timeout,
        }),
    }
}

/// Changes a TOML file in place, keeping its comments, layout and permissions.
fn edit(path: &Path, change: impl FnOnce(&mut toml_edit::DocumentMut)) -> Result<(), KvdbError> {
    use std::os::unix::fs::PermissionsExt;
    let err = |detail: String| KvdbError::Save {
        path: path.to_path_buf(),
        detail,
    };
    let mode = std::fs::metadata(path)
        .map_err(|e| err(e.to_string()))?
        .permissions()
        .mode()
        & 0o777;
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| err(e.to_string()))?;
    change(&mut doc);
    crate::files::write_atomic(path, &doc.to_string(), mode).map_err(|e| err(e.to_string()))
}

/// Rewrites a server's `[kvdb]` (server.conf) and its password (secrets.conf, encrypted with
/// `key`), keeping everything else in both files as it is.
pub fn save(server_dir: &Path, cfg: &KvdbConfig, key: &SecretKey) -> Result<(), KvdbError> {
    let repo = repo_dir(server_dir);
    edit(&repo.join("server.conf"), |doc| {
        let table = doc
            .entry("kvdb")
            .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
        table["host"] = toml_edit::value(cfg.host.clone());
        table["port"] = toml_edit::value(i64::from(cfg.port));
        table["db"] = toml_edit::value(i64::from(cfg.db));
        table["password"] = toml_edit::value(if cfg.password.is_empty() {
            ""
        } else {
            PASSWORD_REF
        });
    })?;
    edit(&repo.join("secrets.conf"), |doc| {
        let table = doc
            .entry("zato")
            .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
        table[PASSWORD_KEY] = toml_edit::value(key.encrypt(&cfg.password));
    })
}
