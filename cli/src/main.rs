//! `zato`: the command line of the Zato-compatible server.
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zato_cli::create::{self, Create};

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
}

#[derive(Subcommand)]
enum Crypto {
    /// Print a new Fernet key, e.g. for --secret-key.
    CreateSecretKey,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crypto(Crypto::CreateSecretKey) => {
            println!("{}", zato_common::crypto::SecretKey::generate().as_text());
            Ok(())
        }
        Command::Create(c) => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(create::run(*c)),
            Err(e) => Err(e.into()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(1)
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
