//! Upstream's shortcuts for security definitions and REST channels: `zato create basic-auth|
//! api-key`, `zato delete basic-auth|api-key`, `zato change-password`, `zato
//! create-rest-channel`, `zato delete-rest-channel`. Each is one admin-API call to the server in
//! `--path`; the cluster's servers all apply it within a second.
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};

use crate::exit::{CliError, CliResult, INVALID_INPUT};
use crate::invoke;

#[derive(Args, Debug)]
pub struct BasicAuthArgs {
    /// A server of the cluster.
    #[arg(long)]
    pub path: PathBuf,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub username: String,
    #[arg(long, default_value = "")]
    pub realm: String,
    /// Random when not given (set it later with `zato change-password`).
    #[arg(long, allow_hyphen_values = true)]
    pub password: Option<String>,
    /// The password read from a file (- for standard input) instead.
    #[arg(long, conflicts_with = "password")]
    pub password_file: Option<PathBuf>,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub is_active: bool,
}

#[derive(Args, Debug)]
pub struct ApiKeyArgs {
    /// A server of the cluster.
    #[arg(long)]
    pub path: PathBuf,
    #[arg(long)]
    pub name: String,
    /// The HTTP header the key comes in.
    #[arg(long, default_value = "X-API-Key")]
    pub header: String,
    /// The key; random when not given (set it later with `zato change-password`).
    #[arg(long, allow_hyphen_values = true)]
    pub password: Option<String>,
    /// The password read from a file (- for standard input) instead.
    #[arg(long, conflicts_with = "password")]
    pub password_file: Option<PathBuf>,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub is_active: bool,
}

/// Which definition by `--name` or `--id`.
#[derive(Args, Debug)]
pub struct Target {
    /// A server of the cluster.
    #[arg(long)]
    pub path: PathBuf,
    #[arg(long, required_unless_present = "id")]
    pub name: Option<String>,
    #[arg(long, conflicts_with = "name")]
    pub id: Option<i64>,
}

impl Target {
    fn payload(&self) -> Map<String, Value> {
        let mut m = Map::new();
        match (&self.name, self.id) {
            (_, Some(id)) => m.insert("id".into(), json!(id)),
            (Some(name), None) => m.insert("name".into(), json!(name)),
            (None, None) => None,
        };
        m
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SecType {
    BasicAuth,
    ApiKey,
}

impl SecType {
    fn prefix(self) -> &'static str {
        match self {
            Self::BasicAuth => "zato.security.basic-auth",
            Self::ApiKey => "zato.security.apikey",
        }
    }
}

#[derive(Args, Debug)]
pub struct ChangePasswordArgs {
    #[command(flatten)]
    pub target: Target,
    /// The new password (or API key).
    #[arg(long, allow_hyphen_values = true)]
    pub password: Option<String>,
    /// The password read from a file (- for standard input) instead.
    #[arg(long, conflicts_with = "password")]
    pub password_file: Option<PathBuf>,
    #[arg(long = "type", value_enum, default_value = "basic-auth")]
    pub sec_type: SecType,
}

#[derive(Args, Debug)]
pub struct RestChannelArgs {
    /// A server of the cluster.
    #[arg(long)]
    pub path: PathBuf,
    #[arg(long)]
    pub name: String,
    /// e.g. /api/customers/{cust_id}
    #[arg(long)]
    pub url_path: String,
    #[arg(long)]
    pub service: String,
    /// GET, POST, ...; any method when not given.
    #[arg(long)]
    pub method: Option<String>,
    #[arg(long, default_value = "json")]
    pub data_format: String,
    /// The name of a Basic Auth definition securing the channel.
    #[arg(long, conflicts_with = "api_key")]
    pub basic_auth: Option<String>,
    /// The name of an API key definition securing the channel.
    #[arg(long)]
    pub api_key: Option<String>,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub is_active: bool,
}

fn done(data: &Value) -> CliResult<()> {
    invoke::print_json(data);
    Ok(())
}

pub async fn create_basic_auth(a: BasicAuthArgs) -> CliResult<()> {
    let mut p =
        json!({"name": a.name, "username": a.username, "realm": a.realm, "is_active": a.is_active});
    if let Some(pw) = given_secret(a.password, a.password_file.as_deref())? {
        p["password"] = json!(pw);
    }
    done(&invoke::call(&a.path, "zato.security.basic-auth.create", &p).await?)
}

pub async fn create_api_key(a: ApiKeyArgs) -> CliResult<()> {
    let mut p = json!({"name": a.name, "header": a.header, "is_active": a.is_active});
    if let Some(pw) = given_secret(a.password, a.password_file.as_deref())? {
        p["password"] = json!(pw);
    }
    done(&invoke::call(&a.path, "zato.security.apikey.create", &p).await?)
}

pub async fn delete(t: Target, sec_type: SecType) -> CliResult<()> {
    let service = format!("{}.delete", sec_type.prefix());
    done(&invoke::call(&t.path, &service, &Value::Object(t.payload())).await?)
}

/// `--password`, or the contents of `--password-file`, or None (a random one is made).
fn given_secret(given: Option<String>, file: Option<&Path>) -> CliResult<Option<String>> {
    match (given, file) {
        (Some(v), _) => Ok(Some(v)),
        (None, Some(f)) => crate::prompt::read_secret(f, "--password-file").map(Some),
        (None, None) => Ok(None),
    }
}

pub async fn change_password(a: ChangePasswordArgs) -> CliResult<()> {
    let password = crate::prompt::secret(
        a.password,
        a.password_file.as_deref(),
        "--password",
        "New password",
    )?;
    if password.is_empty() {
        return Err(CliError::new(
            INVALID_INPUT,
            "the password must not be empty",
        ));
    }
    let mut p = a.target.payload();
    p.insert("password1".into(), json!(password));
    p.insert("password2".into(), json!(password));
    let service = format!("{}.change-password", a.sec_type.prefix());
    invoke::call(&a.target.path, &service, &Value::Object(p)).await?;
    println!("Password changed");
    Ok(())
}

pub async fn create_rest_channel(a: RestChannelArgs) -> CliResult<()> {
    let mut p = json!({
        "name": a.name,
        "url_path": a.url_path,
        "service": a.service,
        "connection": "channel",
        "transport": "plain_http",
        "data_format": a.data_format,
        "is_active": a.is_active,
    });
    if let Some(m) = a.method {
        p["method"] = json!(m.to_ascii_uppercase());
    }
    if let Some(sec) = a.basic_auth.or(a.api_key) {
        p["security_name"] = json!(sec);
    }
    done(&invoke::call(&a.path, "zato.http-soap.create", &p).await?)
}

pub async fn delete_rest_channel(t: Target) -> CliResult<()> {
    let mut p = t.payload();
    p.insert("connection".into(), json!("channel"));
    done(&invoke::call(&t.path, "zato.http-soap.delete", &Value::Object(p)).await?)
}
