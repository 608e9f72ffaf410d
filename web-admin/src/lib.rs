//! `zato-web-admin`: the cluster run from a browser. Server-rendered pages (minijinja) over the
//! admin API, reached through the load balancer with the one admin client in `zato-common`;
//! the load balancer's page goes through its agent. Log-ins are checked against argon2id
//! hashes in `users.conf`, sessions live in memory, every state-changing request carries the
//! session's CSRF token.
pub mod backend;
pub mod highlight;
pub mod run;
pub mod session;
pub mod throttle;
pub mod totp;
pub mod users;
pub mod web;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum WebAdminError {
    #[error(transparent)]
    Config(#[from] zato_common::config::ConfigError),
    #[error(transparent)]
    Users(#[from] users::UsersError),
    #[error("cannot use the load balancer agent's certificates: {0}")]
    Agent(#[from] zato_lb::client::AgentError),
    #[error("cannot use the web admin's certificate: {0}")]
    Tls(#[from] zato_lb::tls::TlsError),
    #[error("cannot listen on {bind}: {source}")]
    Listen {
        bind: String,
        source: std::io::Error,
    },
    #[error("template error: {0}")]
    Template(#[from] minijinja::Error),
}
