//! `zato create odb|cluster|server` and `zato crypto create-secret-key`.
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use zato_common::config::{KvdbConfig, OdbConfig, OdbEngine};
use zato_common::crypto::SecretKey;
use zato_common::odb::Odb;
use zato_common::setup::{self, ClusterSpec, ServerSpec};

use crate::exit::CliResult;
use crate::prompt;

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
    /// Prompted for on a terminal when the ODB is not SQLite and this is not given.
    #[arg(long, env = "ZATO_ODB_PASSWORD", allow_hyphen_values = true)]
    pub odb_password: Option<String>,
    /// The ODB password read from a file (- for standard input) instead.
    #[arg(long, conflicts_with = "odb_password")]
    pub odb_password_file: Option<PathBuf>,
}

/// The optional Redis connection (upstream's `--kvdb-*` options).
#[derive(Args, Clone, Debug, Default)]
pub struct KvdbArgs {
    /// Redis host; leave out to run without Redis.
    #[arg(long)]
    pub kvdb_host: Option<String>,
    #[arg(long, default_value_t = 6379)]
    pub kvdb_port: u16,
    /// Prompted for on a terminal when --kvdb-host is given and this is not.
    #[arg(long, env = "ZATO_KVDB_PASSWORD", allow_hyphen_values = true)]
    pub kvdb_password: Option<String>,
    /// The Redis password read from a file (- for standard input) instead.
    #[arg(long, conflicts_with = "kvdb_password")]
    pub kvdb_password_file: Option<PathBuf>,
}

impl KvdbArgs {
    /// The connection, asking for the password on a terminal when it was not given.
    pub fn config(&self) -> CliResult<Option<KvdbConfig>> {
        let Some(host) = self.kvdb_host.clone().filter(|h| !h.is_empty()) else {
            return Ok(None);
        };
        let password = prompt::secret(
            self.kvdb_password.clone(),
            self.kvdb_password_file.as_deref(),
            "--kvdb-password",
            "Redis password",
        )?;
        Ok(Some(KvdbConfig {
            host,
            port: self.kvdb_port,
            password,
            db: 0,
        }))
    }
}

impl OdbArgs {
    pub fn is_sqlite(&self) -> bool {
        OdbEngine::parse(&self.odb_type) == Some(OdbEngine::Sqlite)
    }

    /// Asks for the ODB password on a terminal (non-SQLite only) when it was not given.
    pub fn resolve_password(&mut self) -> CliResult<()> {
        if !self.is_sqlite() {
            self.odb_password = Some(prompt::secret(
                self.odb_password.take(),
                self.odb_password_file.as_deref(),
                "--odb-password",
                "ODB database password",
            )?);
        }
        Ok(())
    }

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
            password: self.odb_password.clone().unwrap_or_default(),
            pool_size: 10,
        })
    }
}

#[derive(Subcommand, Debug)]
pub enum Create {
    /// Create a certificate authority (same as `zato ca create ca`).
    ///
    /// Example: zato create ca /opt/zato/ca
    Ca {
        path: PathBuf,
        #[command(flatten)]
        subject: crate::ca::SubjectArgs,
    },
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
        /// Prompted for on a terminal when not given.
        #[arg(long, env = "ZATO_ADMIN_INVOKE_PASSWORD", allow_hyphen_values = true)]
        admin_invoke_password: Option<String>,
        /// The admin.invoke password read from a file (- for standard input) instead.
        #[arg(long, conflicts_with = "admin_invoke_password")]
        admin_invoke_password_file: Option<PathBuf>,
        /// Password of the `pubapi` user (random when not given).
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        pubapi_password: String,
    },
    /// Create a load balancer directory whose agent trusts the CA in --ca-path.
    ///
    /// Example: zato create load-balancer /opt/zato/lb --ca-path /opt/zato/ca --server server1=127.0.0.1:17010 --server server2=127.0.0.1:17011
    LoadBalancer {
        path: PathBuf,
        /// The cluster's CA directory (`zato ca create ca`).
        #[arg(long)]
        ca_path: PathBuf,
        #[arg(long, default_value = "0.0.0.0:11223")]
        frontend_bind: String,
        #[arg(long, default_value = "127.0.0.1:20151")]
        agent_bind: String,
        /// A server behind it, as name=host:port; repeat for each.
        #[arg(long = "server", value_parser = parse_member)]
        servers: Vec<(String, String)>,
        /// Serve HTTPS with a certificate for this host name issued by the CA in --ca-path
        /// (localhost and 127.0.0.1 are always in it too).
        #[arg(long)]
        tls_host: Option<String>,
    },
    /// Create a Basic Auth definition (through a running server's admin API).
    ///
    /// Example: zato create basic-auth --path /opt/zato/server1 --name crm --username crm --password s3cret
    BasicAuth(crate::shortcuts::BasicAuthArgs),
    /// Create an API key definition (through a running server's admin API).
    ///
    /// Example: zato create api-key --path /opt/zato/server1 --name partner --password key-1
    ApiKey(crate::shortcuts::ApiKeyArgs),
    /// Create a server directory and register it in the cluster.
    ///
    /// Example: zato create server /opt/zato/server1 prod1 server1 --odb-db-name /opt/zato/zato.db --secret-key KEY --http-port 17010
    Server {
        path: PathBuf,
        cluster_name: String,
        server_name: String,
        #[command(flatten)]
        odb: OdbArgs,
        #[command(flatten)]
        kvdb: KvdbArgs,
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
    /// Create a web admin directory: it calls the cluster's admin API through the load
    /// balancer. Prints the password of its first user, admin.
    ///
    /// Example: zato create web-admin /opt/zato/web-admin prod1 --ca-path /opt/zato/ca --admin-invoke-password-file pw.txt
    WebAdmin {
        path: PathBuf,
        cluster_name: String,
        /// The load balancer the admin API is reached through.
        #[arg(long, default_value = "http://127.0.0.1:11223")]
        lb_address: String,
        /// Where the web admin listens; without --tls a loopback address only.
        #[arg(long, default_value = "127.0.0.1:8183")]
        bind: String,
        /// The cluster's CA directory: a certificate for the load balancer's agent (the load
        /// balancer's page) and, with --tls, for HTTPS.
        #[arg(long)]
        ca_path: Option<PathBuf>,
        /// The load balancer's agent.
        #[arg(long, default_value = "127.0.0.1:20151")]
        lb_agent: String,
        /// Serve HTTPS with a certificate from the CA in --ca-path.
        #[arg(long)]
        tls: bool,
        /// A colour shown on every page (red for production, green for test...).
        #[arg(long, default_value = "")]
        marker_color: String,
        #[arg(long, default_value = "")]
        marker_label: String,
        /// Prompted for on a terminal when not given.
        #[arg(long, env = "ZATO_ADMIN_INVOKE_PASSWORD", allow_hyphen_values = true)]
        admin_invoke_password: Option<String>,
        /// The admin.invoke password read from a file (- for standard input) instead.
        #[arg(long, conflicts_with = "admin_invoke_password")]
        admin_invoke_password_file: Option<PathBuf>,
    },
    /// Create a scheduler directory for a cluster. Several may run for one cluster: one fires
    /// the jobs, the others stand by and take over if it stops.
    ///
    /// Example: zato create scheduler /opt/zato/scheduler prod1 --odb-db-name /opt/zato/zato.db --secret-key KEY
    Scheduler {
        path: PathBuf,
        cluster_name: String,
        #[command(flatten)]
        odb: OdbArgs,
        /// The cluster's Fernet key (the servers'): the scheduler decrypts the admin API's
        /// credentials with it.
        #[arg(long, env = "ZATO_SECRET_KEY", allow_hyphen_values = true)]
        secret_key: String,
        /// Where it answers GET /zato/ping.
        #[arg(long, default_value = "127.0.0.1:31530")]
        bind: String,
    },
}

/// Creates a load balancer directory: `lb.conf` with `servers` (name, host:port) at weight 1,
/// the agent's certificate from the CA in `ca_dir`, `.zato-info`; with `tls_host`, a frontend
/// certificate for that host from the same CA, and HTTPS on the frontend.
pub fn load_balancer(
    dir: &std::path::Path,
    ca_dir: &std::path::Path,
    frontend_bind: &str,
    agent_bind: &str,
    servers: &[(String, String)],
    tls_host: Option<&str>,
) -> CliResult<()> {
    use crate::exit::{CliError, DIR_NOT_EMPTY};
    let failed = |e: String| CliError::failed(e);
    setup::ensure_empty_dir(dir).map_err(|e| match e {
        setup::SetupError::NotEmpty(_) => CliError::new(DIR_NOT_EMPTY, e.to_string()),
        other => failed(other.to_string()),
    })?;
    let repo = zato_lb::config::config_dir(dir);
    for sub in [&repo, &dir.join("logs")] {
        std::fs::create_dir_all(sub)
            .map_err(|e| failed(format!("cannot create {}: {e}", sub.display())))?;
    }
    let members = servers
        .iter()
        .map(|(name, address)| zato_lb::config::Server {
            name: name.clone(),
            address: address.clone(),
            weight: 1,
            maintenance: false,
        })
        .collect();
    let mut cfg = zato_lb::config::LbConfig::new(frontend_bind, agent_bind, members);
    if tls_host.is_some() {
        cfg.frontend.tls = Some(zato_lb::config::FrontendTls {
            certificates: vec![zato_lb::config::CertFiles {
                cert: format!("{LB_FRONTEND_STEM}-cert.pem"),
                key: format!("{LB_FRONTEND_STEM}-priv-key.pem"),
            }],
            client_certs: zato_lb::config::ClientCerts::None,
            client_ca: String::new(),
        });
    }
    // Refuse a bad address before anything else is written.
    cfg.validate()
        .map_err(|e| CliError::new(crate::exit::INVALID_INPUT, e.to_string()))?;
    cfg.save(dir).map_err(|e| failed(e.to_string()))?;
    let subject = zato_ca::Subject {
        organizational_unit: "zato-lb-agent".into(),
        ..zato_ca::Subject::default()
    };
    let issued = zato_ca::issue(ca_dir, zato_ca::Purpose::LbAgent, &subject)
        .map_err(|e| failed(e.to_string()))?;
    zato_ca::install(&issued, &repo, "zato-lba").map_err(|e| failed(e.to_string()))?;
    if let Some(host) = tls_host {
        let subject = zato_ca::Subject {
            organizational_unit: "zato-lb-frontend".into(),
            common_name: host.to_string(),
            ..zato_ca::Subject::default()
        };
        let issued = zato_ca::issue(ca_dir, zato_ca::Purpose::Server, &subject)
            .map_err(|e| failed(e.to_string()))?;
        zato_ca::install(&issued, &repo, LB_FRONTEND_STEM).map_err(|e| failed(e.to_string()))?;
    }
    setup::write_component_info(dir, "LOAD_BALANCER").map_err(|e| failed(e.to_string()))
}

/// File names of the frontend's certificate, key and CA (`<stem>-cert.pem`...).
const LB_FRONTEND_STEM: &str = "zato-lb-frontend";

/// A `--server` value that is not `name=host:port`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not name=host:port")]
pub struct MemberSyntax(String);

/// `name=host:port`, as `--server` takes it.
fn parse_member(text: &str) -> Result<(String, String), MemberSyntax> {
    text.split_once('=')
        .filter(|(n, a)| !n.is_empty() && !a.is_empty())
        .map(|(n, a)| (n.to_string(), a.to_string()))
        .ok_or_else(|| MemberSyntax(text.to_string()))
}

#[derive(Subcommand, Debug)]
pub enum Delete {
    /// Delete a Basic Auth definition.
    ///
    /// Example: zato delete basic-auth --path /opt/zato/server1 --name crm
    BasicAuth(crate::shortcuts::Target),
    /// Delete an API key definition.
    ///
    /// Example: zato delete api-key --path /opt/zato/server1 --name partner
    ApiKey(crate::shortcuts::Target),
    /// Drop every Zato table of the ODB (the database itself stays).
    ///
    /// Example: zato delete odb --odb-type postgresql --odb-host localhost --odb-user zato --odb-db-name zato
    Odb {
        #[command(flatten)]
        odb: OdbArgs,
    },
}

pub async fn delete(cmd: Delete) -> anyhow::Result<()> {
    use crate::shortcuts::{self, SecType};
    let odb = match cmd {
        Delete::Odb { odb } => odb,
        Delete::BasicAuth(t) => return Ok(shortcuts::delete(t, SecType::BasicAuth).await?),
        Delete::ApiKey(t) => return Ok(shortcuts::delete(t, SecType::ApiKey).await?),
    };
    let db = Odb::connect(&odb.config()?).await?;
    let result = zato_common::odb::schema::drop_all(&db).await;
    db.close().await;
    result?;
    println!("ODB deleted");
    Ok(())
}

pub async fn run(cmd: Create) -> anyhow::Result<()> {
    match cmd {
        Create::Ca { path, subject } => crate::ca::run(crate::ca::CaCreate::Ca { path, subject })?,
        Create::BasicAuth(a) => crate::shortcuts::create_basic_auth(a).await?,
        Create::ApiKey(a) => crate::shortcuts::create_api_key(a).await?,
        Create::LoadBalancer {
            path,
            ca_path,
            frontend_bind,
            agent_bind,
            servers,
            tls_host,
        } => {
            load_balancer(
                &path,
                &ca_path,
                &frontend_bind,
                &agent_bind,
                &servers,
                tls_host.as_deref(),
            )?;
            println!("Load-balancer created in {}", path.display());
        }
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
            admin_invoke_password_file,
            pubapi_password,
        } => {
            let key = SecretKey::from_text(&secret_key)?;
            let mut odb = odb;
            odb.resolve_password()?;
            let admin_invoke_password = prompt::secret(
                admin_invoke_password,
                admin_invoke_password_file.as_deref(),
                "--admin-invoke-password",
                "Password of the admin.invoke user",
            )?;
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
            kvdb,
            secret_key,
            http_host,
            http_port,
            workers,
        } => {
            let key = SecretKey::from_text(&secret_key)?;
            let cfg = odb.config()?;
            let kvdb = kvdb.config()?;
            let db = Odb::connect(&cfg).await?;
            setup::create_server(
                &db,
                &path,
                &ServerSpec {
                    cluster_name: &cluster_name,
                    server_name: &server_name,
                    odb: &cfg,
                    kvdb: kvdb.as_ref(),
                    bind: &format!("{http_host}:{http_port}"),
                    workers,
                    service_timeout: 60.0,
                    // Tracebacks show server paths and remote addresses: never to clients by default.
                    return_tracebacks: false,
                    secret_key: &key,
                    virtualenv: crate::pyenv::SERVER_ENV,
                },
            )
            .await?;
            crate::pyenv::create(&path.join(crate::pyenv::SERVER_ENV))?;
            println!("Server `{server_name}` created in {}", path.display());
        }
        Create::WebAdmin {
            path,
            cluster_name,
            lb_address,
            bind,
            ca_path,
            lb_agent,
            tls,
            marker_color,
            marker_label,
            admin_invoke_password,
            admin_invoke_password_file,
        } => {
            let admin_invoke_password = prompt::secret(
                admin_invoke_password,
                admin_invoke_password_file.as_deref(),
                "--admin-invoke-password",
                "Password of the admin.invoke user",
            )?;
            let password = crate::web_admin::create(
                &path,
                &crate::web_admin::Options {
                    cluster_name: &cluster_name,
                    bind: &bind,
                    lb_address: &lb_address,
                    admin_invoke_password: &admin_invoke_password,
                    ca_dir: ca_path.as_deref(),
                    lb_agent: Some(&lb_agent),
                    tls,
                    marker_color: &marker_color,
                    marker_label: &marker_label,
                },
            )?;
            println!("Web admin created in {}", path.display());
            println!("{}", crate::web_admin::credentials_line(&password));
        }
        Create::Scheduler {
            path,
            cluster_name,
            odb,
            secret_key,
            bind,
        } => {
            let key = SecretKey::from_text(&secret_key)?;
            let cfg = odb.config()?;
            let db = Odb::connect(&cfg).await?;
            setup::create_scheduler(
                &db,
                &path,
                &setup::SchedulerSpec {
                    cluster_name: &cluster_name,
                    odb: &cfg,
                    bind: &bind,
                    secret_key: &key,
                },
            )
            .await?;
            println!("Scheduler created in {}", path.display());
        }
    }
    Ok(())
}
