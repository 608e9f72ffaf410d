//! A local HTTP server standing in for the remote systems services call (market data APIs,
//! CRMs): each test gives it a function from request to response.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// What the stand-in saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// (status, content type, body)
pub type Reply = (u16, &'static str, String);

/// Answers one connection's requests with `handler`.
async fn serve<S>(stream: S, handler: Arc<fn(&Seen) -> Reply>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req: Request<Incoming>| {
        let handler = handler.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .unwrap_or_default();
            let seen = Seen {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
                query: parts.uri.query().unwrap_or("").to_string(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                    .collect(),
                body,
            };
            // `/delay/<ms>/rest`: a slow remote system, answering as for `/rest`.
            let mut seen = seen;
            if let Some((ms, rest)) = seen
                .path
                .strip_prefix("/delay/")
                .and_then(|p| p.split_once('/'))
                .and_then(|(ms, rest)| Some((ms.parse::<u64>().ok()?, format!("/{rest}"))))
            {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                seen.path = rest;
            }
            let (status, ct, text) = handler(&seen);
            let mut resp = Response::new(Full::new(Bytes::from(text)));
            *resp.status_mut() = hyper::StatusCode::from_u16(status)
                .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
            resp.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(ct),
            );
            Ok::<_, Infallible>(resp)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

async fn listen() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the stand-in server");
    let addr = listener.local_addr().expect("local address");
    (listener, addr)
}

/// Serves `handler` on a free local port until the test ends; returns its base address.
pub async fn start(handler: fn(&Seen) -> Reply) -> String {
    let (listener, addr) = listen().await;
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, handler.clone()));
        }
    });
    format!("http://{addr}")
}

/// As [`start`], over HTTPS with a certificate for `localhost` from a throwaway CA that no
/// system trusts; returns `https://localhost:PORT`.
pub async fn start_tls(handler: fn(&Seen) -> Reply, ca_dir: &std::path::Path) -> String {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let subject = zato_ca::Subject::default();
    zato_ca::create_ca(ca_dir, &subject).expect("create a CA");
    let issued = zato_ca::issue(ca_dir, zato_ca::Purpose::Server, &subject).expect("issue");
    let certs = CertificateDer::pem_slice_iter(issued.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(issued.priv_key_pem.as_bytes()).expect("key PEM");
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (listener, addr) = listen().await;
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, handler) = (acceptor.clone(), handler.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(stream).await {
                    serve(tls, handler).await;
                }
            });
        }
    });
    format!("https://localhost:{}", addr.port())
}
