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
