//! The web admin from the command line: `zato create web-admin` (also what quickstart does),
//! `zato update password PATH USERNAME` and `zato reset-totp-key PATH USERNAME`.
use std::path::{Path, PathBuf};

use clap::Args;
use zato_common::setup::{self, WebAdminSpec};
use zato_web_admin::users;

use crate::component::{self, WEB_ADMIN};
use crate::exit::{CliError, CliResult, DIR_NOT_EMPTY, INVALID_INPUT, NOT_A_ZATO_COMPONENT};
use crate::prompt;

/// The web admin's port, as upstream's.
pub const PORT: u16 = 8183;
/// The user quickstart and `create web-admin` make.
pub const FIRST_USER: &str = "admin";

pub struct Options<'a> {
    pub cluster_name: &'a str,
    pub bind: &'a str,
    pub lb_address: &'a str,
    pub admin_invoke_password: &'a str,
    /// The cluster's CA: a certificate for the load balancer's agent (and for HTTPS).
    pub ca_dir: Option<&'a Path>,
    pub lb_agent: Option<&'a str>,
    pub tls: bool,
    pub marker_color: &'a str,
    pub marker_label: &'a str,
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::failed(e.to_string())
}

/// Creates the web admin in `dir` with user `admin` and a random password, which it returns.
pub fn create(dir: &Path, o: &Options<'_>) -> CliResult<String> {
    if o.tls && o.ca_dir.is_none() {
        return Err(CliError::new(
            INVALID_INPUT,
            "--tls needs --ca-path: the certificate comes from the cluster's CA",
        ));
    }
    setup::create_web_admin(
        dir,
        &WebAdminSpec {
            cluster_name: o.cluster_name,
            bind: o.bind,
            lb_address: o.lb_address,
            admin_invoke_password: o.admin_invoke_password,
            lb_agent: o.lb_agent.filter(|_| o.ca_dir.is_some()),
            tls: o.tls,
            marker_color: o.marker_color,
            marker_label: o.marker_label,
        },
    )
    .map_err(|e| match e {
        setup::SetupError::NotEmpty(_) => CliError::new(DIR_NOT_EMPTY, e.to_string()),
        other => failed(other),
    })?;
    if let Some(ca) = o.ca_dir {
        let subject = zato_ca::Subject {
            organizational_unit: "web-admin".into(),
            ..zato_ca::Subject::default()
        };
        let issued = zato_ca::issue(ca, zato_ca::Purpose::WebAdmin, &subject).map_err(failed)?;
        zato_ca::install(&issued, &zato_common::config::repo_dir(dir), "web-admin")
            .map_err(failed)?;
    }
    let password = users::generate_password().map_err(failed)?;
    users::set_password(dir, FIRST_USER, &password, true).map_err(failed)?;
    Ok(password)
}

/// The line upstream's quickstart prints.
pub fn credentials_line(password: &str) -> String {
    format!("Web admin user:[{FIRST_USER}], password:[{password}]")
}

fn web_admin_dir(path: &Path) -> CliResult<()> {
    if component::kind(path)? != WEB_ADMIN {
        return Err(CliError::new(
            NOT_A_ZATO_COMPONENT,
            format!("{} is not a web admin's directory", path.display()),
        ));
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct UpdatePasswordArgs {
    /// The web admin's directory.
    pub path: PathBuf,
    pub username: String,
    /// Prompted for on a terminal when not given.
    #[arg(long, allow_hyphen_values = true)]
    pub password: Option<String>,
    /// The password read from a file (- for standard input) instead.
    #[arg(long, conflicts_with = "password")]
    pub password_file: Option<PathBuf>,
    /// Add the user when there is none of that name.
    #[arg(long)]
    pub create: bool,
}

/// `zato update password`: a running web admin checks the new password at the next log-in.
pub fn update_password(a: UpdatePasswordArgs) -> CliResult<()> {
    web_admin_dir(&a.path)?;
    let password = prompt::secret(
        a.password,
        a.password_file.as_deref(),
        "--password",
        &format!("New password of web admin user {}", a.username),
    )?;
    users::set_password(&a.path, &a.username, &password, a.create).map_err(|e| match e {
        users::UsersError::NoUser(_) | users::UsersError::TooShort | users::UsersError::BadName => {
            CliError::new(INVALID_INPUT, e.to_string())
        }
        other => failed(other),
    })?;
    println!("Password of web admin user {} changed", a.username);
    Ok(())
}

/// `zato reset-totp-key PATH USERNAME [--disable]`: a new second-factor key, printed once for
/// the user's authenticator app; `--disable` removes it.
pub fn reset_totp_key(path: &Path, username: &str, disable: bool) -> CliResult<()> {
    web_admin_dir(path)?;
    let secret_key = zato_common::config::WebAdminConfig::load(path)
        .map_err(failed)?
        .secret_key;
    if disable {
        users::set_totp_key(path, username, None, &secret_key).map_err(failed)?;
        println!("Web admin user {username} logs in with a password only");
        return Ok(());
    }
    let key = zato_web_admin::totp::generate_key().map_err(failed)?;
    users::set_totp_key(path, username, Some(&key), &secret_key).map_err(|e| match e {
        users::UsersError::NoUser(_) => CliError::new(INVALID_INPUT, e.to_string()),
        other => failed(other),
    })?;
    println!("TOTP key of web admin user {username}: {key}");
    println!(
        "otpauth://totp/Zato:{username}?secret={key}&issuer=Zato (add it to an authenticator app)"
    );
    Ok(())
}
