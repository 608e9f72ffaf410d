//! Request decoding and response encoding per data format: json, xml, soap, form and plain,
//! for any transport. Malformed input is a bad-input error that says what is wrong.
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use serde_json::{Map, Value};

use super::soap::{SOAP11_NS, SOAP12_NS, SoapVersion, envelope, soap_ns};
use crate::core::{Body, ServiceError};

pub const JSON: &str = "application/json";

/// A decoded request body.
pub struct Decoded {
    pub payload: Value,
    pub raw: String,
    pub soap: Option<SoapVersion>,
}

/// serde_json's `raw_value` feature (which sqlx turns on for the whole build) reads an object
/// whose first key is this token as the JSON text in its value instead: what a client sent
/// would not be what a service gets, and JSON the server writes with it would not read back.
/// Request JSON holding it is refused.
const SERDE_RAW_VALUE_TOKEN: &[u8] = b"$serde_json::private::RawValue";

/// A 400 when `json` holds serde_json's reserved key (see [`SERDE_RAW_VALUE_TOKEN`]),
/// written plainly or with `\u` escapes. Without escapes in the body, one byte search does.
pub fn refuse_reserved_key(json: &[u8]) -> Result<(), ServiceError> {
    let reserved = || {
        ServiceError::bad_request(
            "Invalid JSON: `$serde_json::private::RawValue` is a reserved key",
        )
    };
    if memchr::memmem::find(json, SERDE_RAW_VALUE_TOKEN).is_some() {
        return Err(reserved());
    }
    if memchr::memmem::find(json, b"\\u").is_some()
        && let Err(e) = serde_json::from_slice::<NoReservedKey>(json)
        && e.to_string().starts_with(RESERVED)
    {
        return Err(reserved());
    }
    Ok(())
}

const RESERVED: &str = "reserved key";

/// Walks a JSON document's keys, unescaped, without building it; an error when one is
/// serde_json's reserved key (malformed JSON is the decoder's to report).
struct NoReservedKey;

impl<'de> serde::Deserialize<'de> for NoReservedKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoReservedKeyVisitor)
    }
}

struct NoReservedKeyVisitor;

impl<'de> serde::de::Visitor<'de> for NoReservedKeyVisitor {
    type Value = NoReservedKey;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key.as_bytes() == SERDE_RAW_VALUE_TOKEN {
                return Err(serde::de::Error::custom(RESERVED));
            }
            map.next_value::<NoReservedKey>()?;
        }
        Ok(NoReservedKey)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<NoReservedKey>()?.is_some() {}
        Ok(NoReservedKey)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(NoReservedKey)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(NoReservedKey)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(NoReservedKey)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(NoReservedKey)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(NoReservedKey)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(NoReservedKey)
    }
}

fn text(body: &[u8], what: &str) -> Result<String, ServiceError> {
    String::from_utf8(body.to_vec()).map_err(|e| {
        ServiceError::bad_request(format!("Invalid {what}: the body is not UTF-8 ({e})"))
    })
}

pub fn decode(data_format: &str, body: &[u8]) -> Result<Decoded, ServiceError> {
    match data_format {
        "json" => {
            refuse_reserved_key(body)?;
            let raw = text(body, "JSON")?;
            let payload = if raw.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&raw)
                    .map_err(|e| ServiceError::bad_request(format!("Invalid JSON: {e}")))?
            };
            Ok(Decoded {
                payload,
                raw,
                soap: None,
            })
        }
        "xml" => {
            let raw = text(body, "XML")?;
            if !raw.trim().is_empty() {
                check_xml(&raw)
                    .map_err(|e| ServiceError::bad_request(format!("Invalid XML: {e}")))?;
            }
            Ok(Decoded {
                payload: Value::String(raw.clone()),
                raw,
                soap: None,
            })
        }
        "soap" => {
            let raw = text(body, "SOAP")?;
            let (inner, version) = soap_body(&raw)
                .map_err(|e| ServiceError::bad_request(format!("Invalid SOAP: {e}")))?;
            Ok(Decoded {
                payload: Value::String(inner),
                raw,
                soap: Some(version),
            })
        }
        "form" => {
            let raw = text(body, "form data")?;
            let map: Map<String, Value> = form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
            Ok(Decoded {
                payload: Value::Object(map),
                raw,
                soap: None,
            })
        }
        _ => {
            let raw = String::from_utf8_lossy(body).into_owned();
            Ok(Decoded {
                payload: Value::String(raw.clone()),
                raw,
                soap: None,
            })
        }
    }
}

/// How deep XML may nest in a request: deeper documents are refused before anything else
/// reads them (real SOAP stays far below this; a hostile one can go on for megabytes).
pub const MAX_XML_DEPTH: usize = 128;

/// Why a request body is not the XML or SOAP its channel takes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("elements are nested deeper than {MAX_XML_DEPTH} levels")]
    TooDeep,
    #[error("text outside the root element")]
    TextOutsideRoot,
    #[error("a DOCTYPE is not allowed")]
    DocType,
    #[error("{message} at byte {position}")]
    Syntax { message: String, position: u64 },
    #[error("no root element")]
    NoRoot,
    #[error("the document ends inside an element")]
    Unclosed,
    #[error("more than one root element")]
    ManyRoots,
    #[error("the root element is not a SOAP Envelope")]
    NotEnvelope,
    #[error("the Envelope is in neither the SOAP 1.1 nor the SOAP 1.2 namespace")]
    UnknownSoapNamespace,
    #[error("the Envelope has no Body")]
    NoBody,
}

/// The next event, a syntax error saying where it is.
fn next_event<'a>(reader: &mut Reader<&'a [u8]>) -> Result<Event<'a>, XmlError> {
    reader.read_event().map_err(|e| XmlError::Syntax {
        message: e.to_string(),
        position: reader.error_position(),
    })
}

/// Well-formedness: one root element, matching tags, valid syntax, at most `MAX_XML_DEPTH`
/// levels and no DOCTYPE (no entity of a document's own is ever expanded).
fn check_xml(raw: &str) -> Result<(), XmlError> {
    let mut reader = Reader::from_str(raw);
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        match next_event(&mut reader)? {
            Event::Start(_) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
                if depth > MAX_XML_DEPTH {
                    return Err(XmlError::TooDeep);
                }
            }
            Event::Empty(_) if depth == 0 => roots += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(t) if depth == 0 && !t.clone().into_inner().trim().is_empty() => {
                return Err(XmlError::TextOutsideRoot);
            }
            Event::DocType(_) => return Err(XmlError::DocType),
            Event::Eof => break,
            _ => {}
        }
    }
    match (roots, depth) {
        (0, _) => Err(XmlError::NoRoot),
        (1, 0) => Ok(()),
        (1, _) => Err(XmlError::Unclosed),
        _ => Err(XmlError::ManyRoots),
    }
}

/// An XML name without its namespace prefix.
pub fn local(name: &[u8]) -> &[u8] {
    name.iter()
        .rposition(|b| *b == b':')
        .map_or(name, |i| &name[i + 1..])
}

/// The SOAP version an Envelope start tag declares for its own prefix (or default namespace):
/// the Envelope's namespace, not whatever namespace URI appears somewhere in the document.
fn envelope_version(e: &quick_xml::events::BytesStart<'_>) -> Result<SoapVersion, XmlError> {
    let qname = e.name();
    let key = match qname.prefix() {
        Some(p) => format!("xmlns:{}", p.into_inner()),
        None => "xmlns".to_string(),
    };
    let ns = e
        .attributes()
        .flatten()
        .find(|a| a.key.into_inner() == key.as_str())
        .map(|a| a.value.into_owned());
    match ns.as_deref() {
        Some(SOAP12_NS) => Ok(SoapVersion::V12),
        Some(SOAP11_NS) => Ok(SoapVersion::V11),
        _ => Err(XmlError::UnknownSoapNamespace),
    }
}

/// The inner XML of `Envelope/Body` and the SOAP version.
fn soap_body(raw: &str) -> Result<(String, SoapVersion), XmlError> {
    check_xml(raw)?;
    let mut version = None;
    let mut reader = Reader::from_str(raw);
    // check_xml bounded the depth; only level 1 (Envelope) and 2 (Body) matter here.
    let mut depth = 0usize;
    let mut start = None;
    let mut prev = 0u64;
    loop {
        // check_xml read the whole document already; an error here is the same one.
        match next_event(&mut reader)? {
            Event::Start(e) => {
                depth += 1;
                let name = local(e.name().into_inner().as_bytes());
                if depth == 1 {
                    if name != b"Envelope" {
                        return Err(XmlError::NotEnvelope);
                    }
                    version = Some(envelope_version(&e)?);
                }
                if depth == 2 && name == b"Body" {
                    start = Some(reader.buffer_position());
                }
            }
            Event::Empty(e) => {
                if depth == 0 {
                    return Err(XmlError::NotEnvelope);
                }
                if depth == 1
                    && local(e.name().into_inner().as_bytes()) == b"Body"
                    && let Some(v) = version
                {
                    return Ok((String::new(), v));
                }
            }
            Event::End(_) => {
                if depth == 2
                    && let (Some(s), Some(v)) = (start, version)
                {
                    let (s, e) = (s as usize, prev as usize);
                    return Ok((raw.get(s..e).unwrap_or("").trim().to_string(), v));
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => return Err(XmlError::NoBody),
            _ => {}
        }
        prev = reader.buffer_position();
    }
}

pub fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// A JSON value as simple XML elements (for dicts returned by services on XML/SOAP channels).
fn value_to_xml(name: &str, v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in m {
                value_to_xml(k, v, out);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Array(items) => {
            for item in items {
                value_to_xml(name, item, out);
            }
        }
        Value::Null => out.push_str(&format!("<{name}/>")),
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", escape(s))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

fn xml_body(body: &Body) -> String {
    match body {
        Body::Empty => String::new(),
        Body::Text(s) => s.clone(),
        Body::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Body::Json(v) => {
            let mut out = String::new();
            value_to_xml("response", v, &mut out);
            out
        }
    }
}

/// Encodes a service's output for a channel of `data_format`.
/// A response body in a channel's format, and that format's content type.
pub fn encode_body(
    data_format: &str,
    soap: Option<SoapVersion>,
    body: Body,
) -> (&'static str, Vec<u8>) {
    match (data_format, soap) {
        (_, Some(v)) => (soap_ns(v).1, envelope(v, &xml_body(&body)).into_bytes()),
        ("xml", None) => ("application/xml", xml_body(&body).into_bytes()),
        (fmt, None) => {
            let ct = if fmt == "json" { JSON } else { "text/plain" };
            let bytes = match body {
                Body::Empty => Vec::new(),
                Body::Json(v) => serde_json::to_vec(&v).unwrap_or_default(),
                Body::Text(s) => s.into_bytes(),
                Body::Bytes(b) => b,
            };
            (ct, bytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_well_formedness() {
        assert!(check_xml("<a><b>1</b></a>").is_ok());
        assert!(check_xml("<a><b>1</a>").is_err());
        assert!(check_xml("<a/><b/>").is_err());
        assert!(check_xml("<a>").is_err());
        assert!(check_xml("just text").is_err());
        let deep = |n| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        assert!(check_xml(&deep(MAX_XML_DEPTH)).is_ok());
        assert_eq!(check_xml(&deep(MAX_XML_DEPTH + 1)), Err(XmlError::TooDeep));
        let bomb = "<!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><l>&b;</l>";
        assert_eq!(check_xml(bomb), Err(XmlError::DocType));
        assert_eq!(
            decode("xml", bomb.as_bytes())
                .err()
                .map(|e| e.kind.http_status()),
            Some(400)
        );
    }

    #[test]
    fn soap_body_is_extracted() {
        let env = format!(
            "<soapenv:Envelope xmlns:soapenv=\"{SOAP11_NS}\"><soapenv:Header/><soapenv:Body><get><id>1</id></get></soapenv:Body></soapenv:Envelope>"
        );
        let (inner, v) = soap_body(&env).unwrap();
        assert_eq!(inner, "<get><id>1</id></get>");
        assert_eq!(v, SoapVersion::V11);
        // The version is the Envelope's namespace, not any namespace URI in the text.
        let mixed = env.replace("<id>1</id>", &format!("<id>{SOAP12_NS}</id>"));
        assert_eq!(soap_body(&mixed).unwrap().1, SoapVersion::V11);
        assert_eq!(soap_body("<a/>"), Err(XmlError::NotEnvelope));
        assert_eq!(
            soap_body(&format!(
                "<x:Envelope xmlns:x=\"{SOAP12_NS}\"></x:Envelope>"
            )),
            Err(XmlError::NoBody)
        );
    }

    #[test]
    fn serde_json_reserved_key_is_refused() {
        let body = br#"{"$serde_json::private::RawValue": "{\"a\": 1}"}"#;
        let e = decode("json", body)
            .err()
            .map(|e| (e.kind.http_status(), e.message));
        assert!(e.is_some_and(|(s, m)| s == 400 && m.contains("reserved")));
        assert!(decode("json", br#"{"a": "$serde_json"}"#).is_ok());
        // Escaped, it is the same key to serde_json.
        let escaped = br#"{"$serde_json::private::RawValu\u0065": "{}"}"#;
        assert!(decode("json", escaped).is_err());
        assert!(decode("json", br#"{"caf\u00e9": [1, {"b": null}]}"#).is_ok());
    }

    #[test]
    fn json_errors_are_400() {
        let e = decode("json", b"{\"a\":").err().unwrap();
        assert_eq!(e.kind.http_status(), 400);
        assert!(e.message.starts_with("Invalid JSON"));
        assert!(decode("json", b"").unwrap().payload.is_null());
    }
}
