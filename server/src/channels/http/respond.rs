//! Building responses: every one carries `X-Zato-CID`; errors are upstream's JSON shape
//! `{"result":"Error","cid":..,"details":..}` (SOAP channels answer with a Fault instead).
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::json;

use crate::core::{ErrorKind, Output};
use crate::proto::codec::{encode_body, escape};
use crate::proto::soap::{SoapVersion, envelope, soap_ns};

pub type Resp = Response<Full<Bytes>>;

pub use crate::proto::codec::JSON;

pub fn build(status: u16, content_type: Option<&str>, cid: &str, body: impl Into<Bytes>) -> Resp {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    // The common content types are static: no allocation per response.
    let ct = content_type.and_then(|ct| match ct {
        JSON => Some(HeaderValue::from_static(JSON)),
        "text/plain" => Some(HeaderValue::from_static("text/plain")),
        other => HeaderValue::from_str(other).ok(),
    });
    if let Some(v) = ct {
        h.insert(CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(cid) {
        h.insert(HeaderName::from_static("x-zato-cid"), v);
    }
    h.insert(hyper::header::SERVER, HeaderValue::from_static("Zato"));
    resp
}

pub fn add_header(resp: &mut Resp, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        resp.headers_mut().append(n, v);
    }
}

pub fn error_json(status: u16, cid: &str, details: &str) -> Resp {
    let body = json!({"result": "Error", "cid": cid, "details": details}).to_string();
    build(status, Some(JSON), cid, body)
}

pub fn url_not_found(cid: &str) -> Resp {
    build(404, None, cid, format!("URL not found (CID:{cid})"))
}

/// 401 as the channel answers errors: JSON, or a SOAP Fault on SOAP channels.
pub fn unauthorized(soap: Option<SoapVersion>, cid: &str, realm: Option<&str>) -> Resp {
    let mut resp = error(soap, 401, cid, &format!("Unauthorized; cid={cid}"));
    if let Some(realm) = realm {
        add_header(
            &mut resp,
            "www-authenticate",
            &format!("Basic realm=\"{realm}\""),
        );
    }
    resp
}

/// A service's output as a channel of `data_format` answers it.
pub fn encode(
    data_format: &str,
    soap: Option<SoapVersion>,
    channel_ct: Option<&str>,
    out: Output,
    cid: &str,
) -> Resp {
    let (default_ct, bytes) = encode_body(data_format, soap, out.body);
    let ct = out
        .content_type
        .as_deref()
        .or(channel_ct)
        .unwrap_or(default_ct);
    let mut resp = build(out.status, Some(ct), cid, bytes);
    for (k, v) in &out.headers {
        add_header(&mut resp, k, v);
    }
    resp
}

/// An error for a channel: a SOAP Fault on SOAP channels, upstream's JSON shape elsewhere.
pub fn error(soap: Option<SoapVersion>, status: u16, cid: &str, details: &str) -> Resp {
    let Some(v) = soap else {
        return error_json(status, cid, details);
    };
    let client = status < 500;
    let fault = match v {
        SoapVersion::V11 => format!(
            "<soapenv:Fault><faultcode>soapenv:{}</faultcode><faultstring>{}</faultstring><detail><cid>{cid}</cid></detail></soapenv:Fault>",
            if client { "Client" } else { "Server" },
            escape(details)
        ),
        SoapVersion::V12 => format!(
            "<soapenv:Fault><soapenv:Code><soapenv:Value>soapenv:{}</soapenv:Value></soapenv:Code><soapenv:Reason><soapenv:Text xml:lang=\"en\">{}</soapenv:Text></soapenv:Reason><soapenv:Detail><cid>{cid}</cid></soapenv:Detail></soapenv:Fault>",
            if client { "Sender" } else { "Receiver" },
            escape(details)
        ),
    };
    build(status, Some(soap_ns(v).1), cid, envelope(v, &fault))
}

/// The HTTP status of a failed call.
pub fn status(kind: ErrorKind) -> u16 {
    kind.http_status()
}
