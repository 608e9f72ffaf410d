//! `zato create odb|cluster|server` and `zato crypto create-secret-key`.
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use zato_common::config::{OdbConfig, OdbEngine};
use zato_common::crypto::SecretKey;
use zato_common::odb::Odb;
use zato_common::setup::{self, ClusterSpec, ServerSpec};

/// How to reach the ODB (upstream's `--odb-*` options).
#[derive(Args, Clone, Debug)]
pub struct OdbArgs {
    /// sqlite, postgresql or mysql.
    #[arg(long, default_value = "sqlite")]
    pub odb_type: String,
    /// Database name; for SQLite the database file path.
    #[arg(long, default_value = "")]
    pub odb_db_name: String,
    #[arg(long, default_value = "")]
    pub odb_host: String,
    #[arg(long, default_value_t = 0)]
    pub odb_port: u16,
    #[arg(long, default_value = "")]
    pub odb_user: String,
    #[arg(
        long,
        default_value = "",
        env = "ZATO_ODB_PASSWORD",
        allow_hyphen_values = true
    )]
    pub odb_password: String,
}

impl OdbArgs {
    pub fn config(&self) -> anyhow::Result<OdbConfig> {
        let engine = OdbEngine::parse(&self.odb_type).with_context(|| {
            format!(
                "--odb-type must be sqlite, postgresql or mysql, not `{}`",
                self.odb_type
            )
        })?;
        if engine != OdbEngine::Sqlite {
            let missing: Vec<&str> = [
                ("--odb-db-name", self.odb_db_name.is_empty()),
                ("--odb-host", self.odb_host.is_empty()),
                ("--odb-user", self.odb_user.is_empty()),
            ]
            .iter()
            .filter(|(_, m)| *m)
            .map(|(n, _)| *n)
            .collect();
            if !missing.is_empty() {
                bail!(
                    "Option(s) {} required if odb_type is `{}`",
                    missing.join(", "),
                    self.odb_type
                );
            }
        } else if self.odb_db_name.is_empty() {
            bail!("--odb-db-name (the SQLite file) is required");
        }
        let db_name = if engine == OdbEngine::Sqlite {
            std::path::absolute(&self.odb_db_name)?
                .to_string_lossy()
                .into_owned()
        } else {
            self.odb_db_name.clone()
        };
        Ok(OdbConfig {
            engine,
            db_name,
            host: self.odb_host.clone(),
            port: self.odb_port,
            username: self.odb_user.clone(),
            password: self.odb_password.clone(),
            pool_size: 10,
        })
    }
}

#[derive(Subcommand, Debug)]
pub enum Create {
    /// Create the ODB schema.
    ///
    /// Example: zato create odb --odb-type sqlite --odb-db-name /opt/zato/zato.db
    Odb {
        #[command(flatten)]
        odb: OdbArgs,
    },
    /// Create a cluster with its admin.invoke and pubapi credentials and default channels.
    ///
    /// Example: zato create cluster prod1 --odb-db-name /opt/zato/zato.db --secret-key KEY --admin-invoke-password PW
    Cluster {
        cluster_name: String,
        #[command(flatten)]
        odb: OdbArgs,
        #[arg(long, default_value = "127.0.0.1")]
        lb_host: String,
        #[arg(long, default_value_t = 11223)]
        lb_port: u16,
        #[arg(long, default_value_t = 20151)]
        lb_agent_port: u16,
        /// The Fernet key every server of the cluster shares (`zato crypto create-secret-key`).
        #[arg(long, env = "ZATO_SECRET_KEY", allow_hyphen_values = true)]
        secret_key: String,
        #[arg(long, env = "ZATO_ADMIN_INVOKE_PASSWORD", allow_hyphen_values = true)]
        admin_invoke_password: String,
        /// Password of the `pubapi` user (random when not given).
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        pubapi_password: String,
    },
    /// Create a server directory and register it in the cluster.
    ///
    /// Example: zato create server /opt/zato/server1 prod1 server1 --odb-db-name /opt/zato/zato.db --secret-key KEY --http-port 17010
    Server {
        path: PathBuf,
        cluster_name: String,
        server_name: String,
        #[command(flatten)]
        odb: OdbArgs,
        #[arg(long, env = "ZATO_SECRET_KEY", allow_hyphen_values = true)]
        secret_key: String,
        #[arg(long, default_value = "0.0.0.0")]
        http_host: String,
        #[arg(long, default_value_t = 17010)]
        http_port: u16,
        /// Worker processes sharing the port.
        #[arg(long, default_value_t = 1)]
        workers: u32,
    },
}

pub async fn run(cmd: Create) -> anyhow::Result<()> {
    match cmd {
        Create::Odb { odb } => {
            let db = Odb::connect(&odb.config()?).await?;
            setup::create_odb(&db).await?;
            println!("ODB schema created");
        }
        Create::Cluster {
            cluster_name,
            odb,
            lb_host,
            lb_port,
            lb_agent_port,
            secret_key,
            admin_invoke_password,
            pubapi_password,
        } => {
            let key = SecretKey::from_text(&secret_key)?;
            if admin_invoke_password.is_empty() {
                bail!("--admin-invoke-password must not be empty");
            }
            let pubapi = if pubapi_password.is_empty() {
                uuid::Uuid::new_v4().simple().to_string()
            } else {
                pubapi_password
            };
            let db = Odb::connect(&odb.config()?).await?;
            setup::create_cluster(
                &db,
                &ClusterSpec {
                    name: &cluster_name,
                    lb_host: &lb_host,
                    lb_port,
                    lb_agent_port,
                    admin_invoke_password: &admin_invoke_password,
                    pubapi_password: &pubapi,
                    secret_key: &key,
                },
            )
            .await?;
            println!("Cluster `{cluster_name}` created");
        }
        Create::Server {
            path,
            cluster_name,
            server_name,
            odb,
            secret_key,
            http_host,
            http_port,
            workers,
        } => {
            let key = SecretKey::from_text(&secret_key)?;
            let cfg = odb.config()?;
            let db = Odb::connect(&cfg).await?;
            setup::create_server(
                &db,
                &path,
                &ServerSpec {
                    cluster_name: &cluster_name,
                    server_name: &server_name,
                    odb: &cfg,
                    bind: &format!("{http_host}:{http_port}"),
                    workers,
                    service_timeout: 60.0,
                    return_tracebacks: true,
                    secret_key: &key,
                },
            )
            .await?;
            println!("Server `{server_name}` created in {}", path.display());
        }
    }
    Ok(())
}
