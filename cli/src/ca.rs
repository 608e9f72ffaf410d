//! `zato ca create ca|server|lb_agent|web_admin|scheduler` (and `zato create ca`).
use std::path::PathBuf;

use clap::{Args, Subcommand};
use zato_ca::{Purpose, Subject};

use crate::exit::{CliError, CliResult, DIR_NOT_EMPTY};

/// Subject fields, with upstream's defaults.
#[derive(Args, Clone, Debug)]
pub struct SubjectArgs {
    #[arg(long, default_value = "My Company")]
    pub organization: String,
    #[arg(long, default_value = "")]
    pub organizational_unit: String,
    #[arg(long, default_value = "My Town")]
    pub locality: String,
    #[arg(long, default_value = "My State")]
    pub state_or_province: String,
    #[arg(long, default_value = "US")]
    pub country: String,
    #[arg(long, default_value = "localhost")]
    pub common_name: String,
}

impl SubjectArgs {
    fn subject(&self, default_ou: String) -> Subject {
        Subject {
            organization: self.organization.clone(),
            organizational_unit: if self.organizational_unit.is_empty() {
                default_ou
            } else {
                self.organizational_unit.clone()
            },
            locality: self.locality.clone(),
            state_or_province: self.state_or_province.clone(),
            country: self.country.clone(),
            common_name: self.common_name.clone(),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum CaCreate {
    /// A new certificate authority in an empty directory.
    ///
    /// Example: zato ca create ca /opt/zato/ca
    Ca {
        path: PathBuf,
        #[command(flatten)]
        subject: SubjectArgs,
    },
    /// A server certificate signed by the CA in PATH.
    ///
    /// Example: zato ca create server /opt/zato/ca prod1 server1
    Server {
        path: PathBuf,
        cluster_name: String,
        server_name: String,
        #[command(flatten)]
        subject: SubjectArgs,
    },
    /// The load balancer agent's certificate.
    ///
    /// Example: zato ca create lb_agent /opt/zato/ca zato-lb-agent
    #[command(name = "lb_agent", alias = "lb-agent")]
    LbAgent {
        path: PathBuf,
        /// The certificate's organizational unit.
        #[arg(value_name = "OU", default_value = "zato-lb-agent")]
        ou: String,
        #[command(flatten)]
        subject: SubjectArgs,
    },
    /// The web admin's certificate.
    ///
    /// Example: zato ca create web_admin /opt/zato/ca
    #[command(name = "web_admin", alias = "web-admin")]
    WebAdmin {
        path: PathBuf,
        #[command(flatten)]
        subject: SubjectArgs,
    },
    /// A scheduler's certificate.
    ///
    /// Example: zato ca create scheduler /opt/zato/ca prod1 scheduler1
    Scheduler {
        path: PathBuf,
        cluster_name: String,
        scheduler_name: String,
        #[command(flatten)]
        subject: SubjectArgs,
    },
}

fn to_cli(e: zato_ca::CaError) -> CliError {
    match e {
        zato_ca::CaError::NotEmpty(_) => CliError::new(DIR_NOT_EMPTY, e.to_string()),
        zato_ca::CaError::NotACa(_) => CliError::new(crate::exit::FILE_MISSING, e.to_string()),
        other => CliError::failed(other.to_string()),
    }
}

pub fn run(cmd: CaCreate) -> CliResult<()> {
    let (path, purpose, subject) = match cmd {
        CaCreate::Ca { path, subject } => {
            zato_ca::create_ca(&path, &subject.subject(String::new())).map_err(to_cli)?;
            println!("Certificate authority created in {}", path.display());
            return Ok(());
        }
        CaCreate::Server {
            path,
            cluster_name,
            server_name,
            subject,
        } => (
            path,
            Purpose::Server,
            subject.subject(format!("{cluster_name}:{server_name}")),
        ),
        CaCreate::LbAgent { path, ou, subject } => (path, Purpose::LbAgent, subject.subject(ou)),
        CaCreate::WebAdmin { path, subject } => {
            (path, Purpose::WebAdmin, subject.subject("web-admin".into()))
        }
        CaCreate::Scheduler {
            path,
            cluster_name,
            scheduler_name,
            subject,
        } => (
            path,
            Purpose::Scheduler,
            subject.subject(format!("{cluster_name}:{scheduler_name}")),
        ),
    };
    let issued = zato_ca::issue(&path, purpose, &subject).map_err(to_cli)?;
    println!("Certificate: {}", issued.cert_path.display());
    println!("Private key: {}", issued.priv_key_path.display());
    println!("Public key:  {}", issued.pub_key_path.display());
    Ok(())
}
