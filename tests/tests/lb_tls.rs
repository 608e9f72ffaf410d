//! HTTPS on the load balancer's frontend: certificates chosen by SNI, the fast and the general
//! path through TLS, client certificates (optional and required) whose subject reaches the
//! service, and headers claiming one that a client cannot forge.
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use zato_ca::{Purpose, Subject};
use zato_lb::config::{CertFiles, ClientCerts, FrontendTls, LbConfig};
use zato_tests::lb::start_lb_with;
use zato_tests::{Backend, Options, TestCluster, eventually};

const WHO: &str = "from zato.server.service import Service\n\n\nclass Who(Service):\n    name = 'tlstest.who'\n\n    def handle(self):\n        env = self.wsgi_environ\n        self.response.payload = {'dn': env.get('HTTP_X_SSL_CLIENT_S_DN'), 'verify': env.get('HTTP_X_SSL_CLIENT_VERIFY'), 'proto': env.get('HTTP_X_FORWARDED_PROTO'), 'body': self.request.raw_request}\n";

/// Issues a certificate for `cn` from the CA in `ca` into `dir` as `<stem>-*.pem`.
fn issue(ca: &Path, dir: &Path, stem: &str, cn: &str, ou: &str) {
    let subject = Subject {
        common_name: cn.into(),
        organizational_unit: ou.into(),
        ..Subject::default()
    };
    let issued = zato_ca::issue(ca, Purpose::Server, &subject).unwrap_or_else(|e| panic!("{e}"));
    zato_ca::install(&issued, dir, stem).unwrap_or_else(|e| panic!("{e}"));
}

/// Two frontend certificates (alpha.test first, so it is the default, and beta.test), client
/// certificates from the same CA, as `client_certs` says.
fn tls_config(ca: &Path, repo: &Path, cfg: &mut LbConfig, client_certs: ClientCerts) {
    issue(ca, repo, "front-alpha", "alpha.test", "frontend");
    issue(ca, repo, "front-beta", "beta.test", "frontend");
    cfg.frontend.tls = Some(FrontendTls {
        certificates: ["front-alpha", "front-beta"]
            .iter()
            .map(|s| CertFiles {
                cert: format!("{s}-cert.pem"),
                key: format!("{s}-priv-key.pem"),
            })
            .collect(),
        client_certs,
        client_ca: "front-alpha-ca-certs.pem".into(),
    });
}

fn pem_certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap_or_else(|e| panic!("{e}"))
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A rustls client trusting the CA, presenting `identity` (a dir and stem) when given.
fn client_tls(ca_pem: &Path, identity: Option<(&Path, &str)>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for c in pem_certs(ca_pem) {
        roots.add(c).unwrap_or_else(|e| panic!("{e}"));
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap_or_else(|e| panic!("{e}"))
    .with_root_certificates(roots);
    match identity {
        None => b.with_no_client_auth(),
        Some((dir, stem)) => {
            let certs = pem_certs(&dir.join(format!("{stem}-cert.pem")));
            let key = PrivateKeyDer::from_pem_file(dir.join(format!("{stem}-priv-key.pem")))
                .unwrap_or_else(|e| panic!("{e}"));
            b.with_client_auth_cert(certs, key)
                .unwrap_or_else(|e| panic!("{e}"))
        }
    }
}

/// The host names of the certificate the frontend shows for SNI `name`.
async fn served_names(port: u16, cfg: rustls::ClientConfig, name: &str) -> Vec<String> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let server_name = ServerName::try_from(name.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let tls = connector
        .connect(server_name, tcp)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let leaf = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    zato_ca::dns_names(&leaf)
}

fn https(cfg: rustls::ClientConfig, port: u16) -> reqwest::Client {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    reqwest::Client::builder()
        .tls_backend_preconfigured(cfg)
        .resolve("alpha.test", addr)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn who(client: &reqwest::Client, port: u16, forged: bool) -> Value {
    let mut req = client.get(format!("https://alpha.test:{port}/tls/who"));
    if forged {
        req = req
            .header("X-SSL-Client-S-DN", "CN=forged")
            .header("X-SSL-Client-Verify", "SUCCESS");
    }
    let r = req.send().await.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(r.status(), 200);
    r.json().await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn https_frontend_with_sni_and_client_certificates() {
    let c = TestCluster::start(Backend::Sqlite, Options::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let admin = c.servers[0].admin();
    zato_tests::deploy(&admin, "who.py", WHO)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    zato_tests::create_channel(&admin, "who", "/tls/who", "tlstest.who", json!({}))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let port = c.servers[0].port;
    let lb = start_lb_with(&[("server1", port)], |ca, repo, cfg| {
        tls_config(ca, repo, cfg, ClientCerts::Optional);
        issue(ca, repo, "client1", "client1", "partners");
    })
    .await;
    let repo = zato_lb::config::config_dir(&lb.dir);
    let ca_pem = repo.join("front-alpha-ca-certs.pem");

    // SNI picks the certificate; no match (or an IP) gets the first.
    let plain_cfg = || client_tls(&ca_pem, None);
    assert!(
        served_names(lb.port, plain_cfg(), "beta.test")
            .await
            .contains(&"beta.test".into())
    );
    assert!(
        served_names(lb.port, plain_cfg(), "alpha.test")
            .await
            .contains(&"alpha.test".into())
    );
    assert!(
        served_names(lb.port, plain_cfg(), "localhost")
            .await
            .contains(&"alpha.test".into())
    );

    // Without a client certificate: served, nothing about one, and forged headers dropped.
    let anonymous = https(plain_cfg(), lb.port);
    let ready = eventually(std::time::Duration::from_secs(5), || async {
        anonymous
            .get(format!("https://alpha.test:{}/tls/who", lb.port))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
    })
    .await;
    assert!(ready.is_some(), "the channel never answered through HTTPS");
    let v = who(&anonymous, lb.port, true).await;
    assert_eq!(
        (v["dn"].clone(), v["verify"].clone(), v["proto"].clone()),
        (Value::Null, Value::Null, json!("https")),
        "{v}"
    );

    // With one: its subject reaches the service, on the fast path and on the general one
    // (a chunked body goes through hyper).
    let known = https(client_tls(&ca_pem, Some((&repo, "client1"))), lb.port);
    let v = who(&known, lb.port, true).await;
    let dn = v["dn"].as_str().unwrap_or_default().to_string();
    assert!(dn.contains("CN=client1") && !dn.contains("forged"), "{v}");
    assert_eq!(v["verify"], "SUCCESS");
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(b"{\"a\":".to_vec()), Ok(b" 1}".to_vec())];
    let r = known
        .post(format!("https://alpha.test:{}/tls/who", lb.port))
        .header("X-SSL-Client-S-DN", "CN=forged")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        v["dn"].as_str().unwrap_or_default().contains("CN=client1"),
        "{v}"
    );
    assert_eq!(v["body"], "{\"a\": 1}");
    drop(lb);

    // Required: no certificate, no service.
    let strict = start_lb_with(&[("server1", port)], |ca, repo, cfg| {
        tls_config(ca, repo, cfg, ClientCerts::Required);
    })
    .await;
    let strict_ca = zato_lb::config::config_dir(&strict.dir).join("front-alpha-ca-certs.pem");
    let r = https(client_tls(&strict_ca, None), strict.port)
        .get(format!("https://alpha.test:{}/tls/who", strict.port))
        .send()
        .await;
    assert!(r.is_err(), "served without a client certificate: {r:?}");
    drop(strict);
    c.finish().await;
}

/// `zato create load-balancer --tls-host` issues the frontend's certificate from the cluster's
/// CA; `zato start` waits for it, and `zato lb export-haproxy` carries the TLS over.
#[tokio::test(flavor = "multi_thread")]
async fn cli_creates_starts_and_exports_an_https_load_balancer() {
    use zato_tests::cli::ok;
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ca = tmp.path().join("ca");
    let lb = tmp.path().join("lb");
    let (port, agent) = (zato_tests::free_port(), zato_tests::free_port());
    ok(&["ca", "create", "ca", ca.to_str().unwrap_or_default()]);
    ok(&[
        "create",
        "load-balancer",
        lb.to_str().unwrap_or_default(),
        "--ca-path",
        ca.to_str().unwrap_or_default(),
        "--frontend-bind",
        &format!("127.0.0.1:{port}"),
        "--agent-bind",
        &format!("127.0.0.1:{agent}"),
        "--server",
        "server1=127.0.0.1:1",
        "--tls-host",
        "example.test",
    ]);
    let lb_path = lb.to_str().unwrap_or_default();
    ok(&["check-config", lb_path]);
    ok(&["start", lb_path]);
    // Stopped even when an assertion fails below.
    struct Stop(String);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = zato_tests::cli::zato(&["stop", &self.0]);
        }
    }
    let _stop = Stop(lb_path.to_string());
    let repo = zato_lb::config::config_dir(&lb);
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(client_tls(
            &repo.join("zato-lb-frontend-ca-certs.pem"),
            None,
        ))
        .resolve("example.test", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let r = client
        .get(format!("https://example.test:{port}/zato-lb-alive"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(r.status(), 200);
    let cfg = ok(&["lb", "export-haproxy", lb_path]);
    assert!(
        cfg.contains(" ssl crt ") && cfg.contains("X-Forwarded-Proto https"),
        "{cfg}"
    );
    let pem = repo.join(zato_lb::haproxy::HAPROXY_PEM);
    let text = std::fs::read_to_string(&pem).unwrap_or_default();
    assert!(text.contains("BEGIN CERTIFICATE") && text.contains("PRIVATE KEY"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&pem).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
}
