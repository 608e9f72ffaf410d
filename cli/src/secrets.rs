//! `zato encrypt`, `zato decrypt` and `zato component-version`.
use std::path::Path;

use zato_common::crypto::SecretKey;

use crate::component;
use crate::exit::{CliError, CliResult, INVALID_INPUT, NO_OPTIONS};

/// The key given on the command line, else the component's own (`secrets.conf`).
fn key(secret_key: Option<&str>, path: Option<&Path>) -> CliResult<SecretKey> {
    if let Some(text) = secret_key {
        return SecretKey::from_text(text).map_err(|e| CliError::new(INVALID_INPUT, e.to_string()));
    }
    let Some(dir) = path else {
        return Err(CliError::new(
            NO_OPTIONS,
            "Give --path (a component directory) or --secret-key",
        ));
    };
    component::kind(dir)?;
    zato_common::config::ServerConfig::load(dir)
        .map(|c| c.secret_key)
        .map_err(|e| CliError::failed(e.to_string()))
}

pub fn encrypt(data: &str, secret_key: Option<&str>, path: Option<&Path>) -> CliResult<()> {
    println!("{}", key(secret_key, path)?.encrypt(data));
    Ok(())
}

pub fn decrypt(data: &str, secret_key: Option<&str>, path: Option<&Path>) -> CliResult<()> {
    let token = data
        .strip_prefix(zato_common::crypto::ODB_SECRET_PREFIX)
        .unwrap_or(data);
    let plain = key(secret_key, path)?
        .decrypt(token)
        .map_err(|e| CliError::new(INVALID_INPUT, e.to_string()))?;
    println!("{plain}");
    Ok(())
}

/// Prints the `version` recorded in `.zato-info`.
pub fn component_version(dir: &Path) -> CliResult<()> {
    component::kind(dir)?;
    let text = std::fs::read_to_string(dir.join(".zato-info"))
        .map_err(|e| CliError::failed(e.to_string()))?;
    let info: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| CliError::failed(e.to_string()))?;
    println!(
        "{}",
        info.get("version")
            .and_then(|v| v.as_str())
            .unwrap_or("unknown")
    );
    Ok(())
}
