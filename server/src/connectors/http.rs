//! Outgoing REST and SOAP connections: one reqwest client (with its own keep-alive pool) per
//! connection, the connection's security added to every request.
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use zato_common::crypto::SecretKey;
use zato_common::odb::channels::HttpSoap;
use zato_common::odb::security::{APIKEY, BASIC_AUTH, SecDef, WSS, WSS_DIGEST};

use super::error::{ConnError, ConnErrorKind};
use crate::proto::soap::{self, SoapVersion};

/// Upstream's default timeout of outgoing connections, in seconds.
const DEFAULT_TIMEOUT: i64 = 10;

/// A request a service makes through a connection.
#[derive(Debug, Default)]
pub struct HttpCall {
    /// None: the connection's method (GET when it has none).
    pub method: Option<String>,
    pub cid: String,
    pub data: Option<Vec<u8>>,
    /// Values whose names appear as `{name}` in the url path fill it; the rest go to the
    /// query string.
    pub params: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug)]
enum OutAuth {
    None,
    Basic(String),
    Header(String, String),
    /// WS-Security UsernameToken in the SOAP Header (SOAP connections only).
    Wss {
        username: String,
        password: String,
        digest: bool,
    },
}

#[derive(Debug)]
pub struct HttpConn {
    pub name: String,
    pub transport: String,
    pub data_format: Option<String>,
    pub soap_version: String,
    host: String,
    url_path: String,
    method: Option<String>,
    soap_action: Option<String>,
    content_type: Option<String>,
    auth: OutAuth,
    client: reqwest::Client,
    /// The address parsed once, when its path has no `{param}`s to fill per call.
    fixed_url: Option<reqwest::Url>,
    /// What the connection was built from; an unchanged one is kept across reloads.
    pub fingerprint: String,
    /// The ODB row (no secrets in it), for Python's `.config`.
    pub config: serde_json::Value,
}

/// Everything that, when changed, needs a new client.
pub fn fingerprint(row: &HttpSoap, sec: Option<&SecDef>) -> String {
    let mut f = serde_json::to_string(row).unwrap_or_default();
    if let Some(s) = sec {
        f.push_str(&serde_json::to_string(s).unwrap_or_default());
        f.push_str(s.password.as_deref().unwrap_or_default());
    }
    f
}

/// `host` (a trailing slash or not) joined with `path`, parsed.
fn parse_address(host: &str, path: &str) -> Result<reqwest::Url, ConnError> {
    let base = format!("{}{}", host.trim_end_matches('/'), path);
    reqwest::Url::parse(&base)
        .map_err(|e| ConnError::config(format!("invalid address `{base}`: {e}")))
}

fn secret(def: &SecDef, key: &SecretKey) -> Result<String, ConnError> {
    match def.password.as_deref() {
        None => Ok(String::new()),
        Some(p) => key.decrypt_from_odb(p).map_err(|e| {
            ConnError::config(format!("cannot decrypt the secret of `{}`: {e}", def.name))
        }),
    }
}

impl HttpConn {
    pub fn new(
        row: &HttpSoap,
        sec: Option<&SecDef>,
        key: &SecretKey,
        fingerprint: String,
    ) -> Result<Self, ConnError> {
        let auth = match sec {
            None => OutAuth::None,
            Some(def) if def.sec_type == BASIC_AUTH => {
                let token = B64.encode(format!("{}:{}", def.username, secret(def, key)?));
                OutAuth::Basic(format!("Basic {token}"))
            }
            Some(def) if def.sec_type == APIKEY => OutAuth::Header(
                def.header
                    .clone()
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "X-API-Key".into()),
                secret(def, key)?,
            ),
            Some(def) if def.sec_type == WSS && row.transport == "soap" => OutAuth::Wss {
                username: def.username.clone(),
                password: secret(def, key)?,
                digest: def.password_type.as_deref() == Some(WSS_DIGEST),
            },
            Some(def) => {
                return Err(ConnError::config(format!(
                    "security type `{}` cannot be used by this outgoing connection; use basic_auth or apikey (or wss on SOAP)",
                    def.sec_type
                )));
            }
        };
        let timeout = row.timeout.filter(|t| *t > 0).unwrap_or(DEFAULT_TIMEOUT);
        let client = zato_common::http::remote_client_builder(row.validate_tls)
            .map_err(|e| ConnError::config(e.to_string()))?
            .timeout(Duration::from_secs(timeout as u64))
            .connect_timeout(Duration::from_secs(timeout as u64))
            .pool_max_idle_per_host(row.pool_size.filter(|p| *p > 0).unwrap_or(20) as usize)
            .build()
            .map_err(|e| ConnError::config(format!("cannot build an HTTP client: {e}")))?;
        let host = row.host.clone().unwrap_or_default();
        // An unparsable address is reported at call time, by the same parse.
        let fixed_url = if row.url_path.contains('{') {
            None
        } else {
            parse_address(&host, &row.url_path).ok()
        };
        Ok(Self {
            name: row.name.clone(),
            transport: row.transport.clone(),
            data_format: row.data_format.clone().filter(|d| !d.is_empty()),
            soap_version: row
                .soap_version
                .clone()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "1.1".into()),
            host,
            url_path: row.url_path.clone(),
            method: row.method.clone().filter(|m| !m.is_empty()),
            soap_action: row.soap_action.clone(),
            content_type: row.content_type.clone().filter(|c| !c.is_empty()),
            auth,
            client,
            fixed_url,
            fingerprint,
            config: serde_json::to_value(row).unwrap_or_default(),
        })
    }

    /// The address of one call: `{param}`s in the path filled, other params in the query.
    pub fn address(&self, params: &[(String, String)]) -> Result<reqwest::Url, ConnError> {
        if let Some(url) = &self.fixed_url {
            let mut url = url.clone();
            if !params.is_empty() {
                let mut pairs = url.query_pairs_mut();
                for (k, v) in params {
                    pairs.append_pair(k, v);
                }
            }
            return Ok(url);
        }
        let mut path = self.url_path.clone();
        let mut query = Vec::new();
        for (k, v) in params {
            let marker = format!("{{{k}}}");
            if path.contains(&marker) {
                let enc: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
                path = path.replace(&marker, &enc.replace('+', "%20"));
            } else {
                query.push((k, v));
            }
        }
        if let Some(start) = path.find('{')
            && let Some(len) = path[start..].find('}')
        {
            return Err(ConnError::input(format!(
                "the url path `{}` needs the parameter `{}`; pass it in params",
                self.url_path,
                &path[start + 1..start + len]
            )));
        }
        let mut url = parse_address(&self.host, &path)?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    fn default_content_type(&self) -> Option<String> {
        if let Some(ct) = &self.content_type {
            return Some(ct.clone());
        }
        if self.transport == "soap" {
            return Some(if self.soap_version == "1.2" {
                match &self.soap_action {
                    Some(a) if !a.is_empty() => {
                        format!("application/soap+xml; charset=utf-8; action=\"{a}\"")
                    }
                    _ => "application/soap+xml; charset=utf-8".into(),
                }
            } else {
                "text/xml; charset=utf-8".into()
            });
        }
        match self.data_format.as_deref() {
            Some("json") => Some("application/json".into()),
            Some("xml") => Some("application/xml".into()),
            Some("form") => Some("application/x-www-form-urlencoded".into()),
            _ => None,
        }
    }

    /// Adds the connection's credentials.
    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            OutAuth::None | OutAuth::Wss { .. } => req,
            OutAuth::Basic(v) => req.header("Authorization", v),
            OutAuth::Header(h, v) => req.header(h.as_str(), v),
        }
    }

    /// On SOAP connections a body that is not an Envelope yet is wrapped into one of the
    /// connection's SOAP version, with a WS-Security header when the connection has one.
    fn soap_envelope(&self, data: Vec<u8>) -> Vec<u8> {
        if self.transport != "soap" || data.windows(8).any(|w| w == b"Envelope") {
            return data;
        }
        let header = match &self.auth {
            OutAuth::Wss {
                username,
                password,
                digest,
            } => crate::security::wss::security_header(username, password, *digest),
            _ => String::new(),
        };
        let version = if self.soap_version == "1.2" {
            SoapVersion::V12
        } else {
            SoapVersion::V11
        };
        let (open, close) = soap::envelope_parts(version, &header);
        let mut out = open.into_bytes();
        out.extend_from_slice(&data);
        out.extend_from_slice(close.as_bytes());
        out
    }

    /// Sends one request and reads the whole response. Any HTTP status is a reply; only
    /// transport failures (refused, timeout, TLS) are errors.
    pub async fn send(&self, call: HttpCall, limit: usize) -> Result<HttpReply, ConnError> {
        let method = call
            .method
            .as_deref()
            .or(self.method.as_deref())
            .unwrap_or(if self.transport == "soap" {
                "POST"
            } else {
                "GET"
            })
            .to_ascii_uppercase();
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| ConnError::input(format!("invalid HTTP method `{method}`")))?;
        let url = self.address(&call.params)?;
        let mut req = self.client.request(method, url.clone());
        let has = |name: &str| {
            call.headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        if !call.cid.is_empty() {
            req = req.header("X-Zato-CID", &call.cid);
        }
        req = self.authorize(req);
        if call.data.is_some()
            && !has("content-type")
            && let Some(ct) = self.default_content_type()
        {
            req = req.header("Content-Type", ct);
        }
        if self.transport == "soap" && self.soap_version != "1.2" && !has("soapaction") {
            let action = self.soap_action.clone().unwrap_or_default();
            req = req.header("SOAPAction", format!("\"{action}\""));
        }
        for (k, v) in &call.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(data) = call.data {
            req = req.body(self.soap_envelope(data));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ConnError::from_reqwest(&e, &url))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        // Read into memory only up to the limit: a remote end is not trusted with the heap.
        let too_big = || {
            ConnError::new(
                ConnErrorKind::Protocol,
                format!(
                    "{url}: the response is larger than {limit} bytes ([main] max_response_size)"
                ),
            )
        };
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_big());
        }
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| ConnError::from_reqwest(&e, &url))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpReply {
            status,
            headers,
            body,
        })
    }

    /// Sends a HEAD (upstream's default ping method) to `path`, or to the connection's url
    /// path when it has no `{params}`, else to the host; the status and how long it took.
    pub async fn ping(&self, path: Option<&str>) -> Result<(u16, std::time::Duration), ConnError> {
        let path = path.unwrap_or(if self.url_path.contains('{') {
            ""
        } else {
            &self.url_path
        });
        let base = format!("{}{}", self.host.trim_end_matches('/'), path);
        let url = reqwest::Url::parse(&base)
            .map_err(|e| ConnError::config(format!("invalid address `{base}`: {e}")))?;
        let started = std::time::Instant::now();
        let req = self.authorize(self.client.head(url.clone()));
        let resp = req
            .send()
            .await
            .map_err(|e| ConnError::from_reqwest(&e, &url))?;
        Ok((resp.status().as_u16(), started.elapsed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(host: &str, path: &str) -> HttpConn {
        let mut row = crate::fuzzing::http_row(1, path, None);
        row.connection = "outgoing".into();
        row.host = Some(host.into());
        let key = SecretKey::generate();
        HttpConn::new(&row, None, &key, String::new()).expect("a valid connection")
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_fixed_address_is_parsed_once_and_params_go_to_its_query() {
        let c = conn("http://example.com:8080/", "/api/items");
        assert!(c.fixed_url.is_some());
        assert_eq!(
            c.address(&[]).unwrap().as_str(),
            "http://example.com:8080/api/items"
        );
        assert_eq!(
            c.address(&pairs(&[("q", "a b"), ("n", "1")]))
                .unwrap()
                .as_str(),
            "http://example.com:8080/api/items?q=a+b&n=1"
        );
        // Each call starts from the parsed address, not from the previous call's.
        assert_eq!(
            c.address(&[]).unwrap().as_str(),
            "http://example.com:8080/api/items"
        );
    }

    #[test]
    fn path_params_are_filled_per_call() {
        let c = conn("http://example.com", "/api/{id}/x");
        assert!(c.fixed_url.is_none());
        assert_eq!(
            c.address(&pairs(&[("id", "a/b c"), ("n", "1")]))
                .unwrap()
                .as_str(),
            "http://example.com/api/a%2Fb%20c/x?n=1"
        );
        let missing = c.address(&[]).unwrap_err();
        assert!(
            missing.to_string().contains("needs the parameter `id`"),
            "{missing}"
        );
    }

    #[test]
    fn a_bad_host_is_reported_at_call_time() {
        let c = conn("not a url", "/x");
        assert!(c.fixed_url.is_none());
        let e = c.address(&[]).unwrap_err();
        assert!(e.to_string().contains("invalid address"), "{e}");
    }
}
