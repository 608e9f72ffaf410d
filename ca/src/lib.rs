//! The cluster's certificate authority (`zato ca create ...`, quickstart step 1): a CA directory
//! laid out as upstream's (`.zato-ca-dir`, `ca-material/`, `out-{cert,priv,pub}/`) and
//! certificates for servers, the load balancer's agent, the web admin and the scheduler, signed
//! with rcgen. Private keys are written with mode 0600.
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use thiserror::Error;

pub const CA_MARKER: &str = ".zato-ca-dir";
const MATERIAL: &str = "ca-material";
const CA_CERT: &str = "ca-cert.pem";
const CA_KEY: &str = "ca-key.pem";
const CA_SERIAL: &str = "ca-serial";
/// Ten years, as upstream's `openssl ca -days 3650`.
const VALID_DAYS: i64 = 3650;

#[derive(Debug, Error)]
pub enum CaError {
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot read `{path}`: {source}; is `{dir}` a CA directory made by `zato ca create ca`?"
    )]
    Read {
        path: PathBuf,
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "`{0}` is not a certificate authority directory (no {CA_MARKER}); create one with `zato ca create ca PATH`"
    )]
    NotACa(PathBuf),
    #[error("directory `{0}` is not empty, please choose a different one or empty it out")]
    NotEmpty(PathBuf),
    #[error(
        "`{0}` does not hold a serial number; restore it (the next serial to use) or make a new CA"
    )]
    BadSerial(PathBuf),
    #[error("certificate error: {0}")]
    Rcgen(#[from] rcgen::Error),
}

/// The subject fields every `zato ca create` command takes (upstream's defaults).
#[derive(Clone, Debug)]
pub struct Subject {
    pub organization: String,
    pub organizational_unit: String,
    pub locality: String,
    pub state_or_province: String,
    pub country: String,
    pub common_name: String,
}

impl Default for Subject {
    fn default() -> Self {
        Self {
            organization: "My Company".into(),
            organizational_unit: String::new(),
            locality: "My Town".into(),
            state_or_province: "My State".into(),
            country: "US".into(),
            common_name: "localhost".into(),
        }
    }
}

impl Subject {
    fn distinguished_name(&self) -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        for (kind, value) in [
            (DnType::CountryName, &self.country),
            (DnType::StateOrProvinceName, &self.state_or_province),
            (DnType::LocalityName, &self.locality),
            (DnType::OrganizationName, &self.organization),
            (DnType::OrganizationalUnitName, &self.organizational_unit),
            (DnType::CommonName, &self.common_name),
        ] {
            if !value.is_empty() {
                dn.push(kind, value.as_str());
            }
        }
        dn
    }
}

const PURPOSE_URN: &str = "urn:zato:purpose:";

/// The purpose a certificate (DER) was issued for, from its `urn:zato:purpose:` name; None
/// for a certificate without one (issued elsewhere, or by an older version).
pub fn purpose_of(cert_der: &[u8]) -> Option<Purpose> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let (_, cert) = X509Certificate::from_der(cert_der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|n| match n {
        GeneralName::URI(uri) => {
            let rest = uri.strip_prefix(PURPOSE_URN)?;
            [
                Purpose::Server,
                Purpose::LbAgent,
                Purpose::WebAdmin,
                Purpose::Scheduler,
            ]
            .into_iter()
            .find(|p| p.prefix() == rest)
        }
        _ => None,
    })
}

/// The host names a certificate (DER) is for: its DNS subject alternative names, or its
/// common name when it has none.
pub fn dns_names(cert_der: &[u8]) -> Vec<String> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        names.extend(
            cert.subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok())
                .map(str::to_ascii_lowercase),
        );
    }
    names
}

/// A certificate's subject as an RFC 4514-style string (`CN=client1,O=Zato`), with anything
/// that is not printable replaced, so it can travel in an HTTP header.
pub fn subject(cert_der: &[u8]) -> Option<String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(cert_der).ok()?;
    let text = cert.subject().to_string();
    Some(
        text.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect(),
    )
}

/// What a certificate is for: decides its key usages and its files' prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Server,
    LbAgent,
    WebAdmin,
    Scheduler,
}

impl Purpose {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "server" => Self::Server,
            "lb_agent" | "lb-agent" => Self::LbAgent,
            "web_admin" | "web-admin" => Self::WebAdmin,
            "scheduler" => Self::Scheduler,
            _ => return None,
        })
    }

    /// The subject alternative name URI that marks a certificate as issued for this purpose
    /// (`urn:zato:purpose:lb-agent`), so a service can accept only the certificates meant for it.
    pub fn urn(self) -> String {
        format!("{PURPOSE_URN}{}", self.prefix())
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::LbAgent => "lb-agent",
            Self::WebAdmin => "web-admin",
            Self::Scheduler => "scheduler",
        }
    }
}

/// The PEM texts of one issued certificate and where they were written in the CA directory.
#[derive(Debug)]
pub struct Issued {
    pub cert_pem: String,
    pub priv_key_pem: String,
    pub pub_key_pem: String,
    pub ca_cert_pem: String,
    pub cert_path: PathBuf,
    pub priv_key_path: PathBuf,
    pub pub_key_path: PathBuf,
}

fn write(path: &Path, text: &str, private: bool) -> Result<(), CaError> {
    let err = |source| CaError::Write {
        path: path.to_path_buf(),
        source,
    };
    if private {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        // Created 0600 from the start: the key is never readable by others, not even briefly.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)
    } else {
        std::fs::write(path, text).map_err(err)
    }
}

fn mkdir(path: &Path) -> Result<(), CaError> {
    std::fs::create_dir_all(path).map_err(|source| CaError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn validity(params: &mut CertificateParams) {
    let now = rcgen::date_time_ymd(1970, 1, 1)
        + std::time::Duration::from_secs(chrono::Utc::now().timestamp().max(0) as u64);
    // A minute of slack for clocks that differ slightly between hosts.
    params.not_before = now - std::time::Duration::from_secs(60);
    params.not_after = now + std::time::Duration::from_secs(VALID_DAYS as u64 * 86_400);
}

/// Creates a CA in `dir` (missing or empty): a self-signed certificate and its key.
pub fn create_ca(dir: &Path, subject: &Subject) -> Result<(), CaError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|source| CaError::Read {
            path: dir.to_path_buf(),
            dir: dir.to_path_buf(),
            source,
        })?;
        if entries.next().is_some() {
            return Err(CaError::NotEmpty(dir.to_path_buf()));
        }
    }
    let material = dir.join(MATERIAL);
    for sub in [
        material.clone(),
        dir.join("out-cert"),
        dir.join("out-priv"),
        dir.join("out-pub"),
    ] {
        mkdir(&sub)?;
    }
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut ca_subject = subject.clone();
    if ca_subject.organizational_unit.is_empty() {
        ca_subject.organizational_unit = "Zato CA".into();
    }
    params.distinguished_name = ca_subject.distinguished_name();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(SerialNumber::from(1u64));
    validity(&mut params);
    let cert = params.self_signed(&key)?;
    write(&material.join(CA_CERT), &cert.pem(), false)?;
    write(&material.join(CA_KEY), &key.serialize_pem(), true)?;
    write(&material.join(CA_SERIAL), "2\n", false)?;
    write(&dir.join(CA_MARKER), "", false)
}

fn read(dir: &Path, path: PathBuf) -> Result<String, CaError> {
    std::fs::read_to_string(&path).map_err(|source| CaError::Read {
        path,
        dir: dir.to_path_buf(),
        source,
    })
}

/// The CA certificate (PEM) of a CA directory.
pub fn ca_cert_pem(ca_dir: &Path) -> Result<String, CaError> {
    if !ca_dir.join(CA_MARKER).exists() {
        return Err(CaError::NotACa(ca_dir.to_path_buf()));
    }
    read(ca_dir, ca_dir.join(MATERIAL).join(CA_CERT))
}

/// Issues a certificate signed by the CA in `ca_dir`; `subject.common_name` goes into the
/// subject alternative names too, with `localhost` and 127.0.0.1 so local TLS checks pass.
pub fn issue(ca_dir: &Path, purpose: Purpose, subject: &Subject) -> Result<Issued, CaError> {
    let ca_cert = ca_cert_pem(ca_dir)?;
    let material = ca_dir.join(MATERIAL);
    let ca_key = KeyPair::from_pem(&read(ca_dir, material.join(CA_KEY))?)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_cert, ca_key)?;
    let serial_path = material.join(CA_SERIAL);
    // A guessed serial could repeat one already issued, so a garbled file is an error.
    let serial: u64 = read(ca_dir, serial_path.clone())?
        .trim()
        .parse()
        .map_err(|_| CaError::BadSerial(serial_path.clone()))?;

    let mut params = CertificateParams::default();
    params.distinguished_name = subject.distinguished_name();
    let mut names = vec![SanType::DnsName("localhost".try_into()?)];
    if !subject.common_name.is_empty() && subject.common_name != "localhost" {
        match subject.common_name.parse::<std::net::IpAddr>() {
            Ok(ip) => names.push(SanType::IpAddress(ip)),
            Err(_) => {
                if let Ok(dns) = subject.common_name.as_str().try_into() {
                    names.push(SanType::DnsName(dns));
                }
            }
        }
    }
    names.push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    names.push(SanType::URI(purpose.urn().try_into()?));
    params.subject_alt_names = names;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    // Every component is both a TLS server (its API) and a client (of the others' APIs).
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.serial_number = Some(SerialNumber::from(serial));
    params.use_authority_key_identifier_extension = true;
    validity(&mut params);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    write(&serial_path, &format!("{}\n", serial + 1), false)?;

    let stamp = chrono::Local::now().format("%Y-%m-%d_%H-%M-%S");
    let prefix = purpose.prefix();
    let cn = subject.common_name.replace([':', '/', ' '], "-");
    let file = |kind: &str| {
        ca_dir
            .join(format!("out-{kind}"))
            .join(format!("{prefix}-{cn}-{serial}-{kind}-{stamp}.pem"))
    };
    let issued = Issued {
        cert_pem: cert.pem(),
        priv_key_pem: key.serialize_pem(),
        pub_key_pem: key.public_key_pem(),
        ca_cert_pem: ca_cert,
        cert_path: file("cert"),
        priv_key_path: file("priv"),
        pub_key_path: file("pub"),
    };
    write(&issued.cert_path, &issued.cert_pem, false)?;
    write(&issued.priv_key_path, &issued.priv_key_pem, true)?;
    write(&issued.pub_key_path, &issued.pub_key_pem, false)?;
    Ok(issued)
}

/// Writes an issued certificate into a component's config dir as `<stem>-{priv-key,pub-key,
/// cert,ca-certs}.pem` (e.g. stem `zato-server`), the private key with mode 0600.
pub fn install(issued: &Issued, dir: &Path, stem: &str) -> Result<(), CaError> {
    write(
        &dir.join(format!("{stem}-priv-key.pem")),
        &issued.priv_key_pem,
        true,
    )?;
    write(
        &dir.join(format!("{stem}-pub-key.pem")),
        &issued.pub_key_pem,
        false,
    )?;
    write(
        &dir.join(format!("{stem}-cert.pem")),
        &issued.cert_pem,
        false,
    )?;
    write(
        &dir.join(format!("{stem}-ca-certs.pem")),
        &issued.ca_cert_pem,
        false,
    )
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn ca_issues_certificates_that_chain_to_it() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ca = tmp.path().join("ca");
        create_ca(&ca, &Subject::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(ca.join(CA_MARKER).exists());
        assert_eq!(mode(&ca.join("ca-material/ca-key.pem")), 0o600);

        let subject = Subject {
            organizational_unit: "quickstart:server1".into(),
            ..Subject::default()
        };
        let one = issue(&ca, Purpose::Server, &subject).unwrap_or_else(|e| panic!("{e}"));
        let two =
            issue(&ca, Purpose::LbAgent, &Subject::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&one.priv_key_path), 0o600);
        assert_ne!(
            one.cert_path, two.cert_path,
            "serials keep file names apart"
        );
        assert!(one.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));

        // The issued certificate names the CA as issuer and verifies with its key.
        let ca_pem = ca_cert_pem(&ca).unwrap_or_else(|e| panic!("{e}"));
        let (_, ca_der) =
            x509_parser::pem::parse_x509_pem(ca_pem.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let ca_x509 = ca_der.parse_x509().unwrap_or_else(|e| panic!("{e}"));
        let (_, leaf_der) = x509_parser::pem::parse_x509_pem(one.cert_pem.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let leaf = leaf_der.parse_x509().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(leaf.issuer(), ca_x509.subject());
        leaf.verify_signature(Some(ca_x509.public_key()))
            .unwrap_or_else(|e| panic!("signature: {e}"));
        // Each certificate says what it was issued for.
        assert_eq!(purpose_of(&leaf_der.contents), Some(Purpose::Server));
        let (_, two_der) = x509_parser::pem::parse_x509_pem(two.cert_pem.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(purpose_of(&two_der.contents), Some(Purpose::LbAgent));
        assert_eq!(purpose_of(&ca_der.contents), None);
        assert_eq!(dns_names(&leaf_der.contents), vec!["localhost".to_string()]);
        let subj = super::subject(&leaf_der.contents).unwrap_or_default();
        assert!(subj.contains("CN=localhost"), "{subj}");

        let out = tmp.path().join("server1");
        std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
        install(&one, &out, "zato-server").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&out.join("zato-server-priv-key.pem")), 0o600);
        assert!(matches!(
            create_ca(&ca, &Subject::default()),
            Err(CaError::NotEmpty(_))
        ));
        assert!(matches!(
            issue(tmp.path(), Purpose::Server, &Subject::default()),
            Err(CaError::NotACa(_))
        ));
        std::fs::write(ca.join("ca-material/ca-serial"), "garbled")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            issue(&ca, Purpose::Server, &Subject::default()),
            Err(CaError::BadSerial(_))
        ));
    }
}
