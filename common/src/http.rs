//! reqwest clients. TLS is rustls with ring, the build's one crypto provider, installed before
//! the first client is built. Two kinds: clients for this product's own components, which
//! talk plain HTTP, and clients for other systems, which trust the platform's roots.
use std::sync::{Arc, OnceLock};

use reqwest::ClientBuilder;
use rustls::ClientConfig;

fn provider() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A TLS set-up that trusts nothing: built in microseconds (loading the platform's roots
/// takes ~15 ms and several MiB), and an https address is refused rather than trusted.
fn trusts_nothing() -> ClientConfig {
    provider();
    ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

/// For servers and load balancers of this product (admin API, readiness checks, tests): they
/// speak plain HTTP.
pub fn local_client_builder() -> ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(trusts_nothing())
}

/// [`local_client_builder`] with default settings.
pub fn local_client() -> reqwest::Client {
    // Building fails only on a TLS back-end error, which a preconfigured rustls does not have.
    local_client_builder().build().unwrap_or_default()
}

/// For calling other systems. `verify` false accepts any certificate (an outgoing connection
/// with TLS verification switched off); otherwise the platform's trusted roots, loaded once
/// per process and shared by every client.
pub fn remote_client_builder(verify: bool) -> Result<ClientBuilder, TrustRootsError> {
    provider();
    if !verify {
        return Ok(reqwest::Client::builder().tls_danger_accept_invalid_certs(true));
    }
    static VERIFIED: OnceLock<Result<Arc<ClientConfig>, rustls::Error>> = OnceLock::new();
    let config = VERIFIED.get_or_init(|| {
        use rustls_platform_verifier::ConfigVerifierExt;
        ClientConfig::with_platform_verifier().map(Arc::new)
    });
    config
        .as_ref()
        .map(|c| reqwest::Client::builder().tls_backend_preconfigured(ClientConfig::clone(c)))
        .map_err(|e| TrustRootsError(e.clone()))
}

/// The platform's trusted certificates could not be loaded (remembered: every later client
/// that verifies gets the same error).
#[derive(Debug, thiserror::Error)]
#[error("cannot load the platform's trusted certificates: {0}")]
pub struct TrustRootsError(rustls::Error);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_clients_are_cheap_and_remote_roots_load_once() {
        let t = std::time::Instant::now();
        for _ in 0..10 {
            let _ = local_client();
        }
        assert!(
            t.elapsed() < std::time::Duration::from_millis(50),
            "{:?}",
            t.elapsed()
        );
        remote_client_builder(true).unwrap().build().unwrap();
        let t = std::time::Instant::now();
        for _ in 0..10 {
            remote_client_builder(true).unwrap().build().unwrap();
        }
        assert!(
            t.elapsed() < std::time::Duration::from_millis(50),
            "{:?}",
            t.elapsed()
        );
    }
}
