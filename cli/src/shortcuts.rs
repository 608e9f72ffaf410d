//! Upstream's shortcuts for security definitions and REST channels: `zato create basic-auth|
//! api-key`, `zato delete basic-auth|api-key`, `zato change-password`, `zato
//! create-rest-channel`, `zato delete-rest-channel`; in the same style SOAP channels, outgoing
//! REST/SOAP/SQL connections and `zato service deploy`. Each is one admin-API call to the server
//! in `--path`; the cluster's servers all apply it within a second.
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
    done(&crate::sync::change(&a.path, "zato.security.basic-auth.create", &p).await?)
}

pub async fn create_api_key(a: ApiKeyArgs) -> CliResult<()> {
    let mut p = json!({"name": a.name, "header": a.header, "is_active": a.is_active});
    if let Some(pw) = given_secret(a.password, a.password_file.as_deref())? {
        p["password"] = json!(pw);
    }
    done(&crate::sync::change(&a.path, "zato.security.apikey.create", &p).await?)
}

pub async fn delete(t: Target, sec_type: SecType) -> CliResult<()> {
    let service = format!("{}.delete", sec_type.prefix());
    done(&crate::sync::change(&t.path, &service, &Value::Object(t.payload())).await?)
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
    crate::sync::change(&a.target.path, &service, &Value::Object(p)).await?;
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
    done(&crate::sync::change(&a.path, "zato.http-soap.create", &p).await?)
}

pub async fn delete_rest_channel(t: Target) -> CliResult<()> {
    let mut p = t.payload();
    p.insert("connection".into(), json!("channel"));
    done(&crate::sync::change(&t.path, "zato.http-soap.delete", &Value::Object(p)).await?)
}

#[derive(Args, Debug)]
pub struct SoapChannelArgs {
    /// A server of the cluster.
    #[arg(long)]
    pub path: PathBuf,
    #[arg(long)]
    pub name: String,
    /// e.g. /soap/customers
    #[arg(long)]
    pub url_path: String,
    #[arg(long)]
    pub service: String,
    /// The SOAPAction requests must carry; any when not given.
    #[arg(long)]
    pub soap_action: Option<String>,
    /// 1.1 or 1.2.
    #[arg(long, default_value = "1.1", value_parser = ["1.1", "1.2"])]
    pub soap_version: String,
    /// The name of a Basic Auth definition securing the channel.
    #[arg(long, conflicts_with = "wss")]
    pub basic_auth: Option<String>,
    /// The name of a WS-Security definition securing the channel.
    #[arg(long)]
    pub wss: Option<String>,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub is_active: bool,
}

pub async fn create_soap_channel(a: SoapChannelArgs) -> CliResult<()> {
    let mut p = json!({
        "name": a.name, "url_path": a.url_path, "service": a.service, "connection": "channel",
        "transport": "soap", "data_format": "xml", "soap_version": a.soap_version,
        "is_active": a.is_active,
    });
    if let Some(action) = a.soap_action {
        p["soap_action"] = json!(action);
    }
    if let Some(sec) = a.basic_auth.or(a.wss) {
        p["security_name"] = json!(sec);
    }
    done(&crate::sync::change(&a.path, "zato.http-soap.create", &p).await?)
}

/// What outgoing REST and SOAP connections share.
#[derive(Args, Debug)]
pub struct OutgoingCommon {
    /// A server of the cluster.
    #[arg(long)]
    pub path: PathBuf,
    #[arg(long)]
    pub name: String,
    /// Scheme, host and port, e.g. https://crm.example.com
    #[arg(long)]
    pub host: String,
    /// e.g. /api/customers/{cust_id}
    #[arg(long)]
    pub url_path: String,
    /// Seconds to wait for the remote end.
    #[arg(long)]
    pub timeout: Option<u64>,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub is_active: bool,
}

impl OutgoingCommon {
    fn payload(&self, transport: &str) -> Value {
        let mut p = json!({
            "name": self.name, "host": self.host, "url_path": self.url_path,
            "connection": "outgoing", "transport": transport, "is_active": self.is_active,
        });
        if let Some(t) = self.timeout {
            p["timeout"] = json!(t);
        }
        p
    }

    /// Creates the connection with the transport's own fields, those given.
    async fn create<const N: usize>(
        &self,
        transport: &str,
        fields: [(&str, Option<String>); N],
    ) -> CliResult<()> {
        let mut p = self.payload(transport);
        for (key, value) in fields {
            if let Some(v) = value {
                p[key] = json!(v);
            }
        }
        done(&crate::sync::change(&self.path, "zato.http-soap.create", &p).await?)
    }
}

#[derive(Args, Debug)]
pub struct OutgoingRestArgs {
    #[command(flatten)]
    pub common: OutgoingCommon,
    /// GET, POST, ...; services may use any when not given.
    #[arg(long)]
    pub method: Option<String>,
    #[arg(long, default_value = "json")]
    pub data_format: String,
    /// The name of a Basic Auth definition to send.
    #[arg(long, conflicts_with = "api_key")]
    pub basic_auth: Option<String>,
    /// The name of an API key definition to send.
    #[arg(long)]
    pub api_key: Option<String>,
}

pub async fn create_outgoing_rest(a: OutgoingRestArgs) -> CliResult<()> {
    let fields = [
        ("data_format", Some(a.data_format)),
        ("method", a.method.map(|m| m.to_ascii_uppercase())),
        ("security_name", a.basic_auth.or(a.api_key)),
    ];
    a.common.create("plain_http", fields).await
}

#[derive(Args, Debug)]
pub struct OutgoingSoapArgs {
    #[command(flatten)]
    pub common: OutgoingCommon,
    #[arg(long)]
    pub soap_action: Option<String>,
    /// 1.1 or 1.2.
    #[arg(long, default_value = "1.1", value_parser = ["1.1", "1.2"])]
    pub soap_version: String,
    /// The name of a Basic Auth definition to send.
    #[arg(long, conflicts_with = "wss")]
    pub basic_auth: Option<String>,
    /// The name of a WS-Security definition to send.
    #[arg(long)]
    pub wss: Option<String>,
}

pub async fn create_outgoing_soap(a: OutgoingSoapArgs) -> CliResult<()> {
    let fields = [
        ("soap_version", Some(a.soap_version)),
        ("soap_action", a.soap_action),
        ("security_name", a.basic_auth.or(a.wss)),
    ];
    a.common.create("soap", fields).await
}

/// Deletes an outgoing REST or SOAP connection.
pub async fn delete_outgoing_http(t: Target) -> CliResult<()> {
    let mut p = t.payload();
    p.insert("connection".into(), json!("outgoing"));
    done(&crate::sync::change(&t.path, "zato.http-soap.delete", &Value::Object(p)).await?)
}

#[derive(Args, Debug)]
pub struct OutgoingSqlArgs {
    /// A server of the cluster.
    #[arg(long)]
    pub path: PathBuf,
    #[arg(long)]
    pub name: String,
    /// postgresql, mysql or sqlite (upstream's `postgresql+pg8000` and the like are accepted).
    #[arg(long)]
    pub engine: String,
    /// The database's name; for SQLite, the file.
    #[arg(long)]
    pub db_name: String,
    #[arg(long, default_value = "")]
    pub host: String,
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    #[arg(long, default_value = "")]
    pub username: String,
    #[arg(long, allow_hyphen_values = true)]
    pub password: Option<String>,
    /// The password read from a file (- for standard input) instead.
    #[arg(long, conflicts_with = "password")]
    pub password_file: Option<PathBuf>,
    #[arg(long, default_value_t = 5)]
    pub pool_size: u32,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub is_active: bool,
}

pub async fn create_outgoing_sql(a: OutgoingSqlArgs) -> CliResult<()> {
    let mut p = json!({
        "name": a.name, "engine": a.engine, "db_name": a.db_name, "host": a.host, "port": a.port,
        "username": a.username, "pool_size": a.pool_size, "is_active": a.is_active,
    });
    if let Some(pw) = given_secret(a.password, a.password_file.as_deref())? {
        p["password"] = json!(pw);
    }
    done(&crate::sync::change(&a.path, "zato.outgoing.sql.create", &p).await?)
}

pub async fn delete_outgoing_sql(t: Target) -> CliResult<()> {
    done(
        &crate::sync::change(
            &t.path,
            "zato.outgoing.sql.delete",
            &Value::Object(t.payload()),
        )
        .await?,
    )
}

/// `zato service deploy PATH FILE`: hot-deploys one file to the whole cluster.
pub async fn deploy_service(path: &Path, file: &Path) -> CliResult<()> {
    use base64::Engine;
    let bytes = std::fs::read(file).map_err(|e| {
        CliError::new(
            crate::exit::FILE_MISSING,
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let payload = json!({
        "payload": base64::engine::general_purpose::STANDARD.encode(bytes),
        "payload_name": name,
    });
    let data = crate::sync::change(path, "zato.service.upload-package", &payload).await?;
    let names: Vec<&str> = data["services_deployed"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if names.is_empty() {
        println!("Deployed {name}: it holds no services");
    } else {
        println!("Deployed {name}: {}", names.join(", "));
    }
    Ok(())
}
