//! `zato set-admin-invoke-password PATH [--username admin.invoke] [--password P]`.
//!
//! This writes the ODB directly, as `zato create cluster` does, rather than calling the admin
//! API: it is the admin API's own credential, and it must be settable when no server runs or
//! when the current password is unknown. Running servers learn of it through a cluster event.
use std::path::Path;
use std::time::{Duration, Instant};

use zato_common::admin::{AdminClient, AdminError};

use zato_common::config::ServerConfig;
use zato_common::odb::Odb;
use zato_common::odb::events::EVENT_CONFIG;

use crate::exit::{CliError, CliResult};
use crate::{component, prompt};

pub async fn run(
    dir: &Path,
    username: &str,
    password: Option<String>,
    password_file: Option<&Path>,
) -> CliResult<()> {
    if component::kind(dir)? != component::SERVER {
        return Err(CliError::failed(format!(
            "{} is not a server directory; give one of the cluster's servers",
            dir.display()
        )));
    }
    let password = prompt::secret(password, password_file, "--password", "Password")?;
    if password.is_empty() {
        return Err(CliError::new(
            crate::exit::INVALID_INPUT,
            "the admin.invoke password must not be empty",
        ));
    }
    let cfg = ServerConfig::load(dir).map_err(|e| CliError::failed(e.to_string()))?;
    let odb = Odb::connect(&cfg.odb)
        .await
        .map_err(|e| CliError::failed(e.to_string()))?;
    let result = match set(&odb, &cfg, username, &password).await {
        Ok(cluster_id) => wait_until_live(&odb, cluster_id, username, &password).await,
        Err(e) => Err(e),
    };
    odb.close().await;
    result?;
    println!("Password of `{username}` changed");
    Ok(())
}

/// How long running servers have to take the new password.
const LIVE_WITHIN: Duration = Duration::from_secs(10);

/// Returns once every server the ODB says is running accepts the new password, so the next
/// command of a script can use it. A server that cannot be reached is not running after all
/// (it stopped without saying so) and is skipped; one that keeps refusing is an error.
async fn wait_until_live(
    odb: &Odb,
    cluster_id: i64,
    username: &str,
    password: &str,
) -> CliResult<()> {
    let servers = odb
        .server_list(cluster_id)
        .await
        .map_err(|e| CliError::failed(e.to_string()))?;
    let deadline = Instant::now() + LIVE_WITHIN;
    for s in servers
        .iter()
        .filter(|s| s.up_status.as_deref() == Some("running"))
    {
        let Some(address) = address_of(s) else {
            continue;
        };
        let client = AdminClient::new(&address, username, password);
        loop {
            match client.invoke("zato.ping", &serde_json::json!({})).await {
                Ok(_) => break,
                Err(AdminError::Connect { .. }) => {
                    eprintln!(
                        "Note: server `{}` at {address} is not reachable; skipped",
                        s.name
                    );
                    break;
                }
                Err(e) if Instant::now() >= deadline => {
                    return Err(CliError::failed(format!(
                        "the password was changed in the ODB, but server `{}` at {address} did not take it within {} s: {e}",
                        s.name,
                        LIVE_WITHIN.as_secs()
                    )));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
    Ok(())
}

/// Where the CLI reaches a server the ODB lists: its bind address, with a wildcard bind
/// reached on the host it runs on (loopback when that is this machine).
fn address_of(s: &zato_common::odb::cluster::Server) -> Option<String> {
    let port = s.bind_port.filter(|p| *p > 0)?;
    let bind = s.bind_host.as_deref().unwrap_or("");
    let host = match bind {
        "" | "0.0.0.0" | "::" => match s.host.as_deref() {
            None | Some("") | Some("localhost") => "127.0.0.1".to_string(),
            Some(h) if h == hostname().as_str() => "127.0.0.1".to_string(),
            Some(h) => h.to_string(),
        },
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_string(),
    };
    Some(format!("http://{host}:{port}"))
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_default()
}

/// Stores the password and announces it; returns the cluster's id.
async fn set(odb: &Odb, cfg: &ServerConfig, username: &str, password: &str) -> CliResult<i64> {
    let fail = |e: zato_common::odb::OdbError| CliError::failed(e.to_string());
    let server = odb
        .server_by_token(&cfg.main.token)
        .await
        .map_err(fail)?
        .ok_or_else(|| {
            CliError::failed("this server's token is not in the ODB; the server directory does not belong to this ODB")
        })?;
    let defs = odb
        .security_list(
            server.cluster_id,
            Some(zato_common::odb::security::BASIC_AUTH),
        )
        .await
        .map_err(fail)?;
    let def = defs
        .iter()
        .find(|d| d.username == username)
        .ok_or_else(|| {
            CliError::failed(format!(
                "no Basic Auth definition with username `{username}` in cluster {}",
                server.cluster_id
            ))
        })?;
    odb.security_set_password(
        server.cluster_id,
        def.id,
        &cfg.secret_key.encrypt_for_odb(password),
    )
    .await
    .map_err(fail)?;
    odb.publish_event(server.cluster_id, EVENT_CONFIG, "null", "zato-cli")
        .await
        .map_err(fail)?;
    Ok(server.cluster_id)
}
