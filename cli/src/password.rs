//! `zato set-admin-invoke-password PATH [--username admin.invoke] [--password P]`.
//!
//! This writes the ODB directly, as `zato create cluster` does, rather than calling the admin
//! API: it is the admin API's own credential, and it must be settable when no server runs or
//! when the current password is unknown. Running servers learn of it through a cluster event.
use std::path::Path;

use zato_common::config::ServerConfig;
use zato_common::odb::Odb;
use zato_common::odb::events::EVENT_CONFIG;

use crate::exit::{CliError, CliResult};
use crate::{component, prompt};

pub async fn run(dir: &Path, username: &str, password: Option<String>) -> CliResult<()> {
    if component::kind(dir)? != component::SERVER {
        return Err(CliError::failed(format!(
            "{} is not a server directory; give one of the cluster's servers",
            dir.display()
        )));
    }
    let password = prompt::password(password, "--password", "Password")?;
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
    let result = set(&odb, &cfg, username, &password).await;
    odb.close().await;
    result?;
    println!("Password of `{username}` changed");
    Ok(())
}

async fn set(odb: &Odb, cfg: &ServerConfig, username: &str, password: &str) -> CliResult<()> {
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
    Ok(())
}
