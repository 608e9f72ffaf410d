//! Finding a server's address and its `admin.invoke` credentials from its directory, as
//! upstream's CLI does (facts §1.6): config → ODB (server by token) → the channel at
//! `/zato/admin/invoke` → its Basic Auth definition, decrypted with the server's key.
use std::path::Path;

use thiserror::Error;

use crate::admin::{ADMIN_INVOKE_PATH, AdminClient};
use crate::config::{ConfigError, ServerConfig};
use crate::crypto::CryptoError;
use crate::odb::{Odb, OdbError};

#[derive(Debug, Error)]
pub enum LocateError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Odb(#[from] OdbError),
    #[error(
        "this server's token is not in the ODB; the server directory does not belong to this ODB"
    )]
    UnknownServer,
    #[error("the cluster has no channel at {ADMIN_INVOKE_PATH} with Basic Auth; was it deleted?")]
    NoAdminChannel,
    #[error("cannot decrypt the admin.invoke password: {0}")]
    Crypto(#[from] CryptoError),
}

/// `http://host:port` of a server; `0.0.0.0` and `::` become the loopback address.
pub fn server_address(cfg: &ServerConfig) -> String {
    let bind = &cfg.main.bind;
    let (host, port) = bind.rsplit_once(':').unwrap_or((bind.as_str(), "17010"));
    bind_address(host, port)
}

/// The URL to reach a server bound to `host`:`port` from this machine (a wildcard bind is
/// reached on loopback).
pub fn bind_address(host: &str, port: &str) -> String {
    let host = match host.trim_matches(|c| c == '[' || c == ']') {
        "0.0.0.0" | "" => "127.0.0.1".to_string(),
        "::" => "[::1]".to_string(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_string(),
    };
    format!("http://{host}:{port}")
}

/// An admin client for the server in `dir`.
pub async fn server_client(dir: &Path) -> Result<AdminClient, LocateError> {
    let cfg = ServerConfig::load(dir)?;
    let odb = Odb::connect(&cfg.odb).await?;
    let result = credentials(&cfg, &odb).await;
    odb.close().await;
    let (username, password) = result?;
    Ok(AdminClient::new(
        &server_address(&cfg),
        &username,
        &password,
    ))
}

async fn credentials(cfg: &ServerConfig, odb: &Odb) -> Result<(String, String), LocateError> {
    let server = odb
        .server_by_token(&cfg.main.token)
        .await?
        .ok_or(LocateError::UnknownServer)?;
    admin_credentials(odb, server.cluster_id, &cfg.secret_key).await
}

/// The cluster's `admin.invoke` user and password (the Basic Auth definition of its
/// `/zato/admin/invoke` channel), decrypted with the cluster's key.
pub async fn admin_credentials(
    odb: &Odb,
    cluster_id: i64,
    key: &crate::crypto::SecretKey,
) -> Result<(String, String), LocateError> {
    let channel = odb
        .http_soap_list(cluster_id)
        .await?
        .into_iter()
        .find(|c| c.connection == "channel" && c.url_path == ADMIN_INVOKE_PATH)
        .ok_or(LocateError::NoAdminChannel)?;
    let sec_id = channel.security_id.ok_or(LocateError::NoAdminChannel)?;
    let def = odb
        .security_by_id(cluster_id, sec_id)
        .await?
        .ok_or(LocateError::NoAdminChannel)?;
    let password = key.decrypt_from_odb(def.password.as_deref().unwrap_or(""))?;
    Ok((def.username, password))
}
