//! Shared library of every Zato component: config file models, ODB access and migrations,
//! the admin-API wire types and client, CIDs and secrets.
pub mod admin;
pub mod cid;
pub mod config;
pub mod crypto;
pub mod kvdb;
pub mod locate;
pub mod logging;
pub mod net;
pub mod odb;
pub mod setup;
pub mod signals;
pub mod time;

pub use cid::new_cid;

/// A reqwest client builder. reqwest's TLS is rustls with ring, the build's one crypto
/// provider, which has to be installed before the first client is built.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// A reqwest client with default settings (see [`http_client_builder`]).
pub fn http_client() -> reqwest::Client {
    // Building fails only on a TLS back-end error, which ring with default settings does not have.
    http_client_builder()
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}
