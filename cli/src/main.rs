//! `zato`: the command line of the Zato-compatible server.
use std::process::ExitCode;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use zato_cli::create::{self, Create};
use zato_cli::exit::{CliError, CliResult};
use zato_cli::invoke::{self, InvokeArgs};
use zato_cli::{process, secrets};

#[derive(Parser)]
#[command(name = "zato", version, about = "Manage Zato clusters", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an ODB, a cluster or a server.
    #[command(subcommand)]
    Create(Box<Create>),
    /// Cryptography helpers.
    #[command(subcommand)]
    Crypto(Crypto),
    /// Start a component in the background and wait until it answers.
    ///
    /// Example: zato start /opt/zato/server1
    Start {
        path: PathBuf,
        /// Run in the foreground, logging to the terminal too.
        #[arg(long)]
        fg: bool,
        /// Return at once instead of waiting for /zato/ping.
        #[arg(long)]
        no_wait: bool,
        /// Seconds to wait for the component to answer.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Stop a component started with `zato start` (SIGTERM, then SIGKILL after 20 s).
    ///
    /// Example: zato stop /opt/zato/server1
    Stop { path: PathBuf },
    /// Wait until a server answers HTTP (exit 28 on timeout).
    ///
    /// Example: zato wait --path /opt/zato/server1 --timeout 30
    Wait {
        #[arg(long, conflicts_with = "address", required_unless_present = "address")]
        path: Option<PathBuf>,
        /// e.g. http://127.0.0.1:17010
        #[arg(long)]
        address: Option<String>,
        #[arg(long, default_value = "/zato/ping")]
        url_path: String,
        #[arg(long, default_value_t = 60.0)]
        timeout: f64,
        #[arg(long, default_value_t = 0.1)]
        interval: f64,
        #[arg(long)]
        silent: bool,
    },
    /// Services.
    #[command(subcommand)]
    Service(Service),
    /// Encrypt text with a component's key (or --secret-key), as stored in secrets.conf.
    ///
    /// Example: zato encrypt --data s3cret --path /opt/zato/server1
    Encrypt(SecretArgs),
    /// Decrypt a token (also `zato.secf.` ODB values) with a component's key (or --secret-key).
    ///
    /// Example: zato decrypt --data gAAAAAB... --path /opt/zato/server1
    Decrypt(SecretArgs),
    /// Print the version a component was created with.
    ///
    /// Example: zato component-version /opt/zato/server1
    ComponentVersion { path: PathBuf },
}

/// Input of `zato encrypt` and `zato decrypt`.
#[derive(clap::Args)]
struct SecretArgs {
    #[arg(long, allow_hyphen_values = true)]
    data: String,
    /// A component directory whose key to use.
    #[arg(long)]
    path: Option<PathBuf>,
    #[arg(long, allow_hyphen_values = true)]
    secret_key: Option<String>,
}

#[derive(Subcommand)]
enum Service {
    /// Invoke a service through the server's admin API and print its response as JSON.
    ///
    /// Example: zato service invoke /opt/zato/server1 zato.ping
    Invoke(InvokeArgs),
}

#[derive(Subcommand)]
enum Crypto {
    /// Print a new Fernet key, e.g. for --secret-key.
    CreateSecretKey,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(if s.is_finite() && s > 0.0 { s } else { 0.0 })
}

async fn run(command: Command) -> CliResult<()> {
    match command {
        Command::Crypto(Crypto::CreateSecretKey) => {
            println!("{}", zato_common::crypto::SecretKey::generate().as_text());
            Ok(())
        }
        Command::Create(c) => create::run(*c)
            .await
            .map_err(|e| CliError::failed(format!("{e:#}"))),
        Command::Start {
            path,
            fg,
            no_wait,
            timeout,
        } => process::start(&path, fg, no_wait, Duration::from_secs(timeout)).await,
        Command::Stop { path } => process::stop(&path),
        Command::Wait {
            path,
            address,
            url_path,
            timeout,
            interval,
            silent,
        } => {
            let address = match (path, address) {
                (_, Some(a)) => a,
                (Some(p), None) => {
                    let cfg = zato_common::config::ServerConfig::load(&p)
                        .map_err(|e| CliError::failed(e.to_string()))?;
                    zato_common::locate::server_address(&cfg)
                }
                (None, None) => return Err(CliError::new(14, "Give --path or --address")),
            };
            process::wait(&address, &url_path, secs(timeout), secs(interval), silent).await
        }
        Command::Service(Service::Invoke(args)) => invoke::run(args).await,
        Command::Encrypt(a) => {
            secrets::encrypt(&a.data, a.secret_key.as_deref(), a.path.as_deref())
        }
        Command::Decrypt(a) => {
            secrets::decrypt(&a.data, a.secret_key.as_deref(), a.path.as_deref())
        }
        Command::ComponentVersion { path } => secrets::component_version(&path),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run(cli.command)),
        Err(e) => Err(CliError::failed(e.to_string())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    /// Fernet keys are url-safe base64 and may start with `-`.
    #[test]
    fn secrets_may_start_with_a_hyphen() {
        let cli = Cli::try_parse_from([
            "zato",
            "create",
            "cluster",
            "c1",
            "--odb-db-name",
            "/tmp/x.db",
            "--secret-key",
            "-SbTq0sHkq3Vd2vEo6oIuyUQ0VPvmQ7k-9p1Jm2x2Xk=",
            "--admin-invoke-password",
            "-pw",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let Command::Create(c) = cli.command else {
            panic!("not create");
        };
        let text = format!("{c:?}");
        assert!(
            text.contains("-SbTq0sHkq3Vd2vEo6oIuyUQ0VPvmQ7k-9p1Jm2x2Xk="),
            "{text}"
        );
        assert!(text.contains("admin_invoke_password: \"-pw\""), "{text}");
    }
}
