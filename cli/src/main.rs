//! `zato`: the command line of the Zato-compatible server.
use std::process::ExitCode;

use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use zato_cli::ca::CaCreate;
use zato_cli::create::{self, Create, Delete};
use zato_cli::exit::{CliError, CliResult};
use zato_cli::info::Format;
use zato_cli::invoke::{self, InvokeArgs};
use zato_cli::quickstart::QuickstartArgs;
use zato_cli::{ca, check, info, password, process, quickstart, secrets};

#[derive(Parser)]
#[command(name = "zato", about = "Manage Zato clusters", long_about = None, disable_version_flag = true)]
struct Cli {
    /// Print the version (upstream's format) and exit.
    #[arg(long, short = 'V')]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Create a whole cluster in one directory.
    #[command(subcommand)]
    Quickstart(Quickstart),
    /// Create a CA, an ODB, a cluster or a server, piece by piece.
    #[command(subcommand)]
    Create(Box<Create>),
    /// Delete the ODB's Zato tables.
    #[command(subcommand)]
    Delete(Delete),
    /// The cluster's certificate authority.
    #[command(subcommand)]
    Ca(Ca),
    /// Show a component's details: process, uptime, sockets, workers; running or not. On a
    /// quickstart cluster's directory, the components it holds and whether they run.
    ///
    /// Examples:
    ///   zato info /opt/zato/server1 --format json
    ///   zato info ~/qs
    #[command(verbatim_doc_comment)]
    Info {
        path: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// The most used or the slowest services of a period, from the cluster's statistics.
    ///
    /// Examples:
    ///   zato stats /opt/zato/server1 --last 1d --by mean -n 5
    ///   zato stats /opt/zato/server1 --start 2026-12-01 --stop 2026-12-08 --format csv > week.csv
    #[command(verbatim_doc_comment)]
    Stats(zato_cli::stats::StatsArgs),
    /// Check a server's config, its ODB, Redis (when configured) and its TCP port.
    ///
    /// Example: zato check-config /opt/zato/server1
    CheckConfig { path: PathBuf },
    /// Set the password of the admin API's user (admin.invoke); prompted for when not given.
    ///
    /// Example: zato set-admin-invoke-password /opt/zato/server1 --password 'n3w'
    SetAdminInvokePassword {
        path: PathBuf,
        #[arg(long, default_value = "admin.invoke")]
        username: String,
        #[arg(long, env = "ZATO_ADMIN_INVOKE_PASSWORD", allow_hyphen_values = true)]
        password: Option<String>,
        /// The password read from a file (- for standard input) instead.
        #[arg(long, conflicts_with = "password")]
        password_file: Option<PathBuf>,
    },
    /// Update the password of a web admin user (a running web admin checks it at the next
    /// log-in).
    ///
    /// Example: zato update password /opt/zato/web-admin admin
    #[command(subcommand)]
    Update(Update),
    /// A new TOTP key (second factor) for a web admin user, printed for an authenticator app;
    /// --disable removes it.
    ///
    /// Example: zato reset-totp-key /opt/zato/web-admin admin
    ResetTotpKey {
        path: PathBuf,
        username: String,
        #[arg(long)]
        disable: bool,
    },
    /// Change the password of a Basic Auth definition (or the key of an API key one).
    ///
    /// Example: zato change-password --path /opt/zato/server1 --name crm --password n3w
    ChangePassword(zato_cli::shortcuts::ChangePasswordArgs),
    /// Create a REST channel: a URL path served by a service, optionally secured.
    ///
    /// Example: zato create-rest-channel --path /opt/zato/server1 --name get-user --url-path /users/{id} --service my.get-user --method GET --basic-auth crm
    CreateRestChannel(zato_cli::shortcuts::RestChannelArgs),
    /// Delete a REST channel.
    ///
    /// Example: zato delete-rest-channel --path /opt/zato/server1 --name get-user
    DeleteRestChannel(zato_cli::shortcuts::Target),
    /// Create a SOAP channel: a URL path whose SOAP requests a service answers.
    ///
    /// Example: zato create-soap-channel --path /opt/zato/server1 --name get-user-soap --url-path /soap/users --service my.get-user --basic-auth crm
    CreateSoapChannel(zato_cli::shortcuts::SoapChannelArgs),
    /// Delete a SOAP channel.
    ///
    /// Example: zato delete-soap-channel --path /opt/zato/server1 --name get-user-soap
    DeleteSoapChannel(zato_cli::shortcuts::Target),
    /// Create an outgoing REST connection (`self.out.rest['NAME']` in services).
    ///
    /// Example: zato create-outgoing-rest --path /opt/zato/server1 --name crm --host https://crm.example.com --url-path /api/users/{id} --basic-auth crm
    CreateOutgoingRest(zato_cli::shortcuts::OutgoingRestArgs),
    /// Delete an outgoing REST connection.
    ///
    /// Example: zato delete-outgoing-rest --path /opt/zato/server1 --name crm
    DeleteOutgoingRest(zato_cli::shortcuts::Target),
    /// Create an outgoing SOAP connection (`self.out.soap['NAME']` in services).
    ///
    /// Example: zato create-outgoing-soap --path /opt/zato/server1 --name billing --host https://billing.example.com --url-path /ws --soap-action getInvoice
    CreateOutgoingSoap(zato_cli::shortcuts::OutgoingSoapArgs),
    /// Delete an outgoing SOAP connection.
    ///
    /// Example: zato delete-outgoing-soap --path /opt/zato/server1 --name billing
    DeleteOutgoingSoap(zato_cli::shortcuts::Target),
    /// Create an outgoing SQL connection (`self.outgoing.sql.get('NAME')` in services).
    ///
    /// Example: zato create-outgoing-sql --path /opt/zato/server1 --name crm-db --engine postgresql --host 127.0.0.1 --port 5432 --db-name crm --username crm --password-file /run/secrets/crm-db
    CreateOutgoingSql(zato_cli::shortcuts::OutgoingSqlArgs),
    /// Delete an outgoing SQL connection.
    ///
    /// Example: zato delete-outgoing-sql --path /opt/zato/server1 --name crm-db
    DeleteOutgoingSql(zato_cli::shortcuts::Target),
    /// Export the cluster's configuration to a file, or import one (checked whole first, then
    /// applied in one transaction).
    ///
    /// Examples:
    ///   zato enmasse /opt/zato/server1 --export --output config.yaml
    ///   zato enmasse /opt/zato/server1 --import --input config.yaml --replace
    #[command(verbatim_doc_comment)]
    Enmasse(zato_cli::enmasse::EnmasseArgs),
    /// The load balancer, through its agent API.
    #[command(subcommand)]
    Lb(zato_cli::lb::Lb),
    /// Print a shell completion script.
    ///
    /// Example: zato completions bash > /etc/bash_completion.d/zato
    Completions { shell: clap_complete::Shell },
    /// Get, set or delete an entry of a built-in cache (through the admin API).
    #[command(subcommand)]
    Cache(zato_cli::cache::CacheCommand),
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
    /// The virtualenv services import third-party packages from.
    #[command(subcommand)]
    Python(Python),
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
    /// Hot-deploy a Python file to every server of the cluster; a file that does not deploy
    /// changes nothing and its error is printed.
    ///
    /// Example: zato service deploy /opt/zato/server1 ./my_services.py
    Deploy {
        /// A server of the cluster.
        path: PathBuf,
        /// The .py file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum Python {
    /// Install packages for every server under PATH (a server, or a quickstart cluster's
    /// directory); services deployed afterwards import them, no restart needed.
    ///
    /// Examples:
    ///   zato python install ~/qs requests
    ///   zato python install ~/qs --upstream
    ///   zato python install /opt/zato/server1 'lxml>=5' xmltodict
    #[command(verbatim_doc_comment)]
    Install(zato_cli::pyenv::InstallArgs),
}

#[derive(Subcommand)]
enum Quickstart {
    /// Create a cluster in PATH: CA, ODB, servers and start/stop scripts.
    ///
    /// Examples:
    ///   zato quickstart create ~/qs --start
    ///   zato quickstart create ~/qs --odb-type postgresql --odb-host localhost --odb-port 5432 --odb-user zato --odb-db-name zato --odb-password '' --kvdb-host localhost
    ///   zato quickstart create /opt/qs-1 sqlite localhost 6379
    #[command(verbatim_doc_comment)]
    Create(Box<QuickstartArgs>),
}

#[derive(Subcommand)]
enum Ca {
    /// Create a CA or a certificate signed by it.
    #[command(subcommand)]
    Create(CaCreate),
}

#[derive(Subcommand)]
enum Update {
    /// A web admin user's password.
    Password(zato_cli::web_admin::UpdatePasswordArgs),
}

#[derive(Subcommand)]
enum Crypto {
    /// Print a new Fernet key, e.g. for --secret-key.
    ///
    /// Example: zato crypto create-secret-key
    CreateSecretKey,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(if s.is_finite() && s > 0.0 { s } else { 0.0 })
}

/// Create and delete commands keep their exit code; other failures exit 1.
fn from_anyhow(e: anyhow::Error) -> CliError {
    match e.downcast::<CliError>() {
        Ok(c) => c,
        Err(e) => CliError::failed(format!("{e:#}")),
    }
}

async fn run(command: Command) -> CliResult<()> {
    match command {
        Command::Quickstart(Quickstart::Create(args)) => quickstart::run(*args).await,
        Command::Delete(d) => create::delete(d).await.map_err(from_anyhow),
        Command::Ca(Ca::Create(c)) => ca::run(c),
        Command::Lb(c) => zato_cli::lb::run(c).await,
        Command::Enmasse(a) => zato_cli::enmasse::run(a).await,
        Command::ChangePassword(a) => zato_cli::shortcuts::change_password(a).await,
        Command::CreateRestChannel(a) => zato_cli::shortcuts::create_rest_channel(a).await,
        Command::DeleteRestChannel(t) | Command::DeleteSoapChannel(t) => {
            zato_cli::shortcuts::delete_rest_channel(t).await
        }
        Command::CreateSoapChannel(a) => zato_cli::shortcuts::create_soap_channel(a).await,
        Command::CreateOutgoingRest(a) => zato_cli::shortcuts::create_outgoing_rest(a).await,
        Command::CreateOutgoingSoap(a) => zato_cli::shortcuts::create_outgoing_soap(a).await,
        Command::DeleteOutgoingRest(t) | Command::DeleteOutgoingSoap(t) => {
            zato_cli::shortcuts::delete_outgoing_http(t).await
        }
        Command::CreateOutgoingSql(a) => zato_cli::shortcuts::create_outgoing_sql(a).await,
        Command::DeleteOutgoingSql(t) => zato_cli::shortcuts::delete_outgoing_sql(t).await,
        Command::Service(Service::Deploy { path, file }) => {
            zato_cli::shortcuts::deploy_service(&path, &file).await
        }
        Command::Info { path, format } => info::run(&path, format),
        Command::CheckConfig { path } => check::run(&path).await,
        Command::Stats(args) => zato_cli::stats::run(args).await,
        Command::Cache(cmd) => zato_cli::cache::run(cmd).await,
        Command::SetAdminInvokePassword {
            path,
            username,
            password: pw,
            password_file,
        } => password::run(&path, &username, pw, password_file.as_deref()).await,
        Command::Update(Update::Password(a)) => zato_cli::web_admin::update_password(a),
        Command::ResetTotpKey {
            path,
            username,
            disable,
        } => zato_cli::web_admin::reset_totp_key(&path, &username, disable),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "zato", &mut std::io::stdout());
            Ok(())
        }
        Command::Crypto(Crypto::CreateSecretKey) => {
            println!("{}", zato_common::crypto::SecretKey::generate().as_text());
            Ok(())
        }
        Command::Create(c) => create::run(*c).await.map_err(from_anyhow),
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
                (None, None) => {
                    return Err(CliError::new(
                        zato_cli::exit::NO_OPTIONS,
                        "Give --path or --address",
                    ));
                }
            };
            process::wait(&address, &url_path, secs(timeout), secs(interval), silent).await
        }
        Command::Service(Service::Invoke(args)) => invoke::run(args).await,
        Command::Python(Python::Install(args)) => zato_cli::pyenv::install(args),
        Command::Encrypt(a) => {
            secrets::encrypt(&a.data, a.secret_key.as_deref(), a.path.as_deref())
        }
        Command::Decrypt(a) => {
            secrets::decrypt(&a.data, a.secret_key.as_deref(), a.path.as_deref())
        }
        Command::ComponentVersion { path } => secrets::component_version(&path),
    }
}

/// Upstream's shorthand `zato quickstart PATH` means `zato quickstart create PATH`.
fn legacy_argv(mut args: Vec<String>) -> Vec<String> {
    if args.get(1).is_some_and(|a| a == "quickstart")
        && args
            .get(2)
            .is_some_and(|a| a != "create" && !a.starts_with('-') && a != "help")
    {
        args.insert(2, "create".into());
    }
    args
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(legacy_argv(std::env::args().collect()));
    if cli.version {
        println!("{}", zato_cli::version::long());
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        let _ = Cli::command().print_help();
        return ExitCode::from(zato_cli::exit::NO_OPTIONS);
    };
    let result = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run(command)),
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

    /// Every `--help` example is a line of its own, ready to copy and paste.
    #[test]
    fn help_examples_are_one_per_line() {
        fn check(cmd: &mut clap::Command, path: &str, commands: &[String]) {
            let help = cmd.render_long_help().to_string();
            for line in help.lines() {
                let words: Vec<&str> = line.split_whitespace().collect();
                let examples = words
                    .windows(2)
                    .filter(|w| w[0] == "zato" && commands.iter().any(|c| c == w[1]))
                    .count();
                assert!(
                    examples <= 1,
                    "`{path} --help` runs two examples together: {line}"
                );
            }
            let names: Vec<String> = cmd
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .collect();
            for name in names {
                if let Some(sub) = cmd.find_subcommand_mut(&name) {
                    check(sub, &format!("{path} {name}"), commands);
                }
            }
        }
        use clap::CommandFactory;
        let mut cli = Cli::command();
        let commands: Vec<String> = cli
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        check(&mut cli, "zato", &commands);
    }

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
        let Some(Command::Create(c)) = cli.command else {
            panic!("not create");
        };
        let text = format!("{c:?}");
        assert!(
            text.contains("-SbTq0sHkq3Vd2vEo6oIuyUQ0VPvmQ7k-9p1Jm2x2Xk="),
            "{text}"
        );
        assert!(
            text.contains("admin_invoke_password: Some(\"-pw\")"),
            "{text}"
        );
    }
}
