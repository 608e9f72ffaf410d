//! rustls configurations (ring provider): the agent API's (the server side requires a client
//! certificate signed by the cluster's CA; the client side presents one) and the frontend's
//! (certificates chosen by SNI, optional or required client certificates).
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot read PEM file `{path}`: {detail}")]
    Pem { path: PathBuf, detail: String },
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS client verifier: {0}")]
    Verifier(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_err(path: &Path) -> impl Fn(rustls_pki_types::pem::Error) -> TlsError + '_ {
    move |e| TlsError::Pem {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let out = CertificateDer::pem_file_iter(path)
        .map_err(pem_err(path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err(path))?;
    if out.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_path_buf(),
            detail: "no certificate in it".into(),
        });
    }
    Ok(out)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(pem_err(path))
}

fn roots(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = RootCertStore::empty();
    for c in certs(path)? {
        store.add(c)?;
    }
    Ok(Arc::new(store))
}

/// The agent's server config: its certificate, and only clients with one from `ca`.
pub fn server_config(
    cert: &Path,
    key_path: &Path,
    ca: &Path,
) -> Result<rustls::ServerConfig, TlsError> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider())
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    Ok(rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(cert)?, key(key_path)?)?)
}

/// A server config presenting `cert` and asking for no client certificate (the web admin's
/// HTTPS).
pub fn single_cert_config(cert: &Path, key_path: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs(cert)?, key(key_path)?)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A client config trusting `ca` and presenting `cert`.
pub fn client_config(
    cert: &Path,
    key_path: &Path,
    ca: &Path,
) -> Result<rustls::ClientConfig, TlsError> {
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca)?)
        .with_client_auth_cert(certs(cert)?, key(key_path)?)?)
}

/// Picks the frontend's certificate by the host name a client asks for (SNI): an exact name,
/// then a `*.` wildcard one level up, then the first certificate.
#[derive(Debug)]
struct SniResolver {
    by_name: std::collections::HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = hello.server_name().map(str::to_ascii_lowercase) else {
            return Some(self.default.clone());
        };
        let wildcard = name.split_once('.').map(|(_, rest)| format!("*.{rest}"));
        self.by_name
            .get(&name)
            .or_else(|| wildcard.and_then(|w| self.by_name.get(&w)))
            .cloned()
            .or_else(|| Some(self.default.clone()))
    }
}

/// The frontend's server config from `lb.conf`'s `[frontend.tls]` (paths under `repo`).
pub fn frontend_config(
    repo: &Path,
    t: &crate::config::FrontendTls,
) -> Result<rustls::ServerConfig, TlsError> {
    use crate::config::ClientCerts;
    let provider = provider();
    let mut by_name = std::collections::HashMap::new();
    let mut default = None;
    for files in &t.certificates {
        let chain = certs(&repo.join(&files.cert))?;
        let names = chain
            .first()
            .map(|c| zato_ca::dns_names(c))
            .unwrap_or_default();
        let ck = Arc::new(CertifiedKey::from_der(
            chain,
            key(&repo.join(&files.key))?,
            &provider,
        )?);
        for n in names {
            by_name.entry(n).or_insert_with(|| ck.clone());
        }
        default.get_or_insert(ck);
    }
    let default = default.ok_or_else(|| TlsError::Verifier("no frontend certificate".into()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match t.client_certs {
        ClientCerts::None => builder.with_no_client_auth(),
        mode => {
            let roots = roots(&repo.join(&t.client_ca))?;
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            let verifier = if mode == ClientCerts::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|e| TlsError::Verifier(e.to_string()))?,
            )
        }
    };
    let mut cfg = builder.with_cert_resolver(Arc::new(SniResolver { by_name, default }));
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}
