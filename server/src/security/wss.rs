//! WS-Security UsernameToken on SOAP channels: PasswordText and PasswordDigest
//! (Base64(SHA-1(nonce + created + password))), `Created` freshness, and nonces remembered
//! cluster-wide (`kv_data`) so a replayed token is refused by every server.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use sha1::{Digest, Sha1};
use zato_common::odb::security::{WSS_DIGEST, WssOpts};

use crate::proto::codec::{MAX_XML_DEPTH, local};
use zato_common::odb::Odb;

/// Why a request's token is refused (logged; the caller is told only 401).
#[derive(Debug, thiserror::Error)]
pub enum WssRefusal {
    #[error("the definition is not active")]
    Inactive,
    #[error("the body is not UTF-8")]
    NotUtf8,
    #[error("invalid XML: {0}")]
    Xml(#[from] quick_xml::Error),
    #[error("invalid XML: {0}")]
    Entity(#[from] quick_xml::escape::EscapeError),
    #[error("the XML is nested deeper than {MAX_XML_DEPTH} levels")]
    TooDeep,
    #[error("a DOCTYPE is not allowed")]
    DocType,
    #[error("no wsse:Security/UsernameToken in the SOAP Header")]
    NoToken,
    #[error("unknown user `{0}`")]
    UnknownUser(String),
    #[error("the definition expects {0}")]
    PasswordType(&'static str),
    #[error("the token has no Nonce or no Created")]
    NoNonceOrCreated,
    #[error("wrong password")]
    WrongPassword,
    #[error("Created `{0}` is not an ISO-8601 time")]
    BadCreated(String),
    #[error("the token was created {age}s ago, more than {limit}s")]
    Stale { age: i64, limit: i64 },
    #[error(
        "the token was created {age}s ago, longer than its nonce is remembered ({remembered}s)"
    )]
    OlderThanNonce { age: i64, remembered: i64 },
    #[error("the token was created in the future")]
    InFuture,
    #[error("cannot record the nonce: {0}")]
    NonceStore(#[from] zato_common::odb::OdbError),
    #[error("the nonce was already used (a replayed token)")]
    Replayed,
}

/// Tokens created this far in the future (clock skew) are still accepted.
const MAX_SKEW_SECONDS: i64 = 300;

#[derive(Debug, Default, PartialEq)]
pub struct UsernameToken {
    pub username: String,
    pub password: String,
    /// The `Type` attribute of `Password` (a URI ending in `#PasswordText` or `#PasswordDigest`).
    pub password_type: String,
    pub nonce: Option<String>,
    pub created: Option<String>,
}

/// The UsernameToken of `Envelope/Header/Security`, if there is one. Runs before the password
/// is checked, so it keeps no more than the token: depth is a counter, not a stack of names, a
/// document deeper than the codec's limit or with a DOCTYPE is refused, and a UsernameToken
/// anywhere but in the Header's Security does not count.
pub fn parse(body: &[u8]) -> Result<Option<UsernameToken>, WssRefusal> {
    let text = std::str::from_utf8(body).map_err(|_| WssRefusal::NotUtf8)?;
    let mut reader = Reader::from_str(text);
    // 1 Envelope, 2 Header, 3 Security, 4 UsernameToken, 5 its fields.
    let mut depth = 0usize;
    let (mut in_header, mut in_security) = (false, false);
    let mut token: Option<UsernameToken> = None;
    let mut text = String::new();
    loop {
        match reader.read_event()? {
            Event::Start(e) => {
                depth += 1;
                if depth > MAX_XML_DEPTH {
                    return Err(WssRefusal::TooDeep);
                }
                let name = local(e.name().into_inner().as_bytes());
                match (depth, name) {
                    (1, b"Envelope") => {}
                    (1, _) => return Ok(None),
                    (2, b"Header") => in_header = true,
                    (3, b"Security") if in_header => in_security = true,
                    (4, b"UsernameToken") if in_security && token.is_none() => {
                        token = Some(UsernameToken::default());
                    }
                    (5, b"Password") => {
                        if let Some(t) = token.as_mut() {
                            for a in e.attributes().flatten() {
                                if local(a.key.into_inner().as_bytes()) == b"Type" {
                                    t.password_type = a.value.to_string();
                                }
                            }
                        }
                    }
                    _ => {}
                }
                text.clear();
            }
            Event::Text(t) if token.is_some() && depth == 5 => {
                text.push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0));
            }
            // Entities (`&amp;` in a password) come as events of their own.
            Event::GeneralRef(r) if token.is_some() && depth == 5 => {
                let entity = format!("&{};", r.into_inner());
                text.push_str(&quick_xml::escape::unescape(&entity)?);
            }
            Event::End(e) => {
                let name = local(e.name().into_inner().as_bytes());
                match (depth, token.as_mut()) {
                    (5, Some(tok)) => {
                        let value = text.trim().to_string();
                        match name {
                            b"Username" => tok.username = value,
                            b"Password" => tok.password = value,
                            b"Nonce" => tok.nonce = Some(value),
                            b"Created" => tok.created = Some(value),
                            _ => {}
                        }
                    }
                    (4, Some(_)) => return Ok(token),
                    (3, _) => in_security = false,
                    (2, _) => in_header = false,
                    _ => {}
                }
                depth = depth.saturating_sub(1);
                text.clear();
            }
            Event::DocType(_) => return Err(WssRefusal::DocType),
            Event::Eof => return Ok(None),
            _ => {}
        }
    }
}

/// The definition a channel is secured with, as the check needs it.
#[derive(Debug, Clone)]
pub struct WssDef {
    pub id: i64,
    pub username: String,
    pub password: String,
    pub password_type: String,
    pub opts: WssOpts,
}

const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const PROFILE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0";

/// A `wsse:Security` header with a fresh UsernameToken, for outgoing SOAP calls: the password
/// as a PasswordDigest (`digest`) or as PasswordText.
pub fn security_header(username: &str, password: &str, digest_it: bool) -> String {
    let nonce = B64.encode(uuid::Uuid::new_v4().as_bytes());
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (kind, pw) = if digest_it {
        (
            "PasswordDigest",
            digest(&nonce, &created, password).unwrap_or_default(),
        )
    } else {
        ("PasswordText", password.to_string())
    };
    let esc = |t: &str| quick_xml::escape::escape(t).into_owned();
    format!(
        "<wsse:Security xmlns:wsse=\"{WSSE_NS}\" xmlns:wsu=\"{WSU_NS}\"><wsse:UsernameToken><wsse:Username>{}</wsse:Username><wsse:Password Type=\"{PROFILE}#{kind}\">{}</wsse:Password><wsse:Nonce EncodingType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary\">{nonce}</wsse:Nonce><wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>",
        esc(username),
        esc(&pw)
    )
}

fn digest(nonce_b64: &str, created: &str, password: &str) -> Option<String> {
    let nonce = B64.decode(nonce_b64).ok()?;
    let mut h = Sha1::new();
    h.update(&nonce);
    h.update(created.as_bytes());
    h.update(password.as_bytes());
    Some(B64.encode(h.finalize()))
}

/// Seconds a nonce is remembered (see `check`).
fn nonce_ttl(opts: &WssOpts) -> i64 {
    let window = if opts.reject_stale_tokens {
        opts.nonce_freshness_time.max(opts.reject_expiry_limit)
    } else {
        opts.nonce_freshness_time
    };
    window.max(1).saturating_add(MAX_SKEW_SECONDS)
}

fn same(a: &str, b: &str) -> bool {
    crate::security::same(a.as_bytes(), b.as_bytes())
}

/// Ok when the body carries a valid token for `def`; Err says why not (for the log only).
pub async fn check(
    odb: &Odb,
    cluster_id: i64,
    def: &WssDef,
    body: &[u8],
) -> Result<(), WssRefusal> {
    let tok = parse(body)?.ok_or(WssRefusal::NoToken)?;
    if !same(&tok.username, &def.username) {
        return Err(WssRefusal::UnknownUser(tok.username));
    }
    let wants_digest = def.password_type == WSS_DIGEST;
    let sent_digest = tok.password_type.ends_with("#PasswordDigest");
    if wants_digest != sent_digest {
        return Err(WssRefusal::PasswordType(if wants_digest {
            "PasswordDigest"
        } else {
            "PasswordText"
        }));
    }
    let nonce = tok.nonce.as_deref().filter(|n| !n.is_empty());
    let created = tok.created.as_deref().filter(|c| !c.is_empty());
    if (def.opts.reject_empty_nonce_creat || wants_digest) && (nonce.is_none() || created.is_none())
    {
        return Err(WssRefusal::NoNonceOrCreated);
    }
    let ok = if wants_digest {
        match (nonce, created) {
            (Some(n), Some(c)) => {
                digest(n, c, &def.password).is_some_and(|d| same(&d, &tok.password))
            }
            _ => false,
        }
    } else {
        same(&tok.password, &def.password)
    };
    if !ok {
        return Err(WssRefusal::WrongPassword);
    }
    // A nonce is remembered as long as a token carrying it can be accepted: its freshness
    // time, or the expiry limit when that is longer, plus the clock skew allowed. A token
    // older than that could be replayed unnoticed, so it is refused even when stale tokens
    // are otherwise accepted.
    let nonce_ttl = nonce_ttl(&def.opts);
    if let Some(c) = created {
        let when = chrono::DateTime::parse_from_rfc3339(c)
            .map_err(|_| WssRefusal::BadCreated(c.to_string()))?;
        let age = chrono::Utc::now().timestamp() - when.timestamp();
        if def.opts.reject_stale_tokens && age > def.opts.reject_expiry_limit {
            return Err(WssRefusal::Stale {
                age,
                limit: def.opts.reject_expiry_limit,
            });
        }
        if nonce.is_some() && age > nonce_ttl - MAX_SKEW_SECONDS {
            return Err(WssRefusal::OlderThanNonce {
                age,
                remembered: nonce_ttl - MAX_SKEW_SECONDS,
            });
        }
        if age < -MAX_SKEW_SECONDS {
            return Err(WssRefusal::InFuture);
        }
    }
    if let Some(n) = nonce {
        let key = format!("zato.wss.nonce.{}.{n}", def.id);
        let fresh = odb.kv_insert_new(cluster_id, &key, "", nonce_ttl).await?;
        if !fresh {
            return Err(WssRefusal::Replayed);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
<soapenv:Header><wsse:Security><wsse:UsernameToken>
<wsse:Username>u1</wsse:Username>
<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">D</wsse:Password>
<wsse:Nonce>bm9uY2U=</wsse:Nonce><wsu:Created>2026-01-01T00:00:00Z</wsu:Created>
</wsse:UsernameToken></wsse:Security></soapenv:Header><soapenv:Body><a/></soapenv:Body></soapenv:Envelope>"#;

    #[test]
    fn token_is_read_from_the_header() {
        let t = parse(ENV.as_bytes()).unwrap().unwrap();
        assert_eq!(t.username, "u1");
        assert_eq!(t.password, "D");
        assert!(t.password_type.ends_with("#PasswordDigest"));
        assert_eq!(t.nonce.as_deref(), Some("bm9uY2U="));
        assert_eq!(t.created.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(parse(b"<a><b/></a>").unwrap(), None);
    }

    #[test]
    fn a_token_outside_the_header_does_not_count() {
        let in_body = ENV
            .replace(
                "<soapenv:Header>",
                "<soapenv:Header></soapenv:Header><soapenv:Body>",
            )
            .replace("</soapenv:Header><soapenv:Body><a/>", "<a/>");
        assert_eq!(parse(in_body.as_bytes()).unwrap(), None, "{in_body}");
        let bare = ENV
            .replace("<wsse:Security>", "<x>")
            .replace("</wsse:Security>", "</x>");
        assert_eq!(parse(bare.as_bytes()).unwrap(), None);
    }

    #[test]
    fn deep_or_doctype_documents_are_refused() {
        let deep = format!(
            "<e:Envelope xmlns:e=\"x\"><e:Header>{}{}</e:Header></e:Envelope>",
            "<a>".repeat(MAX_XML_DEPTH),
            "</a>".repeat(MAX_XML_DEPTH)
        );
        assert!(matches!(parse(deep.as_bytes()), Err(WssRefusal::TooDeep)));
        let dtd = format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{ENV}");
        assert!(matches!(parse(dtd.as_bytes()), Err(WssRefusal::DocType)));
    }

    #[test]
    fn digest_matches_the_oasis_formula() {
        // Base64(SHA-1("nonce" + created + "secret")), computed independently with Python's hashlib.
        let d = digest("bm9uY2U=", "2026-01-01T00:00:00Z", "secret").unwrap();
        assert_eq!(d, "pnjj9YytzZmPCimFk6SD59iS/Q4=");
        assert_ne!(
            d,
            digest("bm9uY2U=", "2026-01-01T00:00:01Z", "secret").unwrap()
        );
    }
}
