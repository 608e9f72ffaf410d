//! SOAP 1.1 and 1.2: namespaces, content types and envelopes, for channels and outgoing
//! connections alike.

pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SoapVersion {
    V11,
    V12,
}

/// The envelope namespace and content type of a SOAP version.
pub fn soap_ns(v: SoapVersion) -> (&'static str, &'static str) {
    match v {
        SoapVersion::V11 => (SOAP11_NS, "text/xml; charset=utf-8"),
        SoapVersion::V12 => (SOAP12_NS, "application/soap+xml; charset=utf-8"),
    }
}

/// `inner` in an Envelope's Body, with `header` (WS-Security, say) in its Header when given.
pub fn envelope(v: SoapVersion, inner: &str) -> String {
    envelope_with_header(v, "", inner)
}

pub fn envelope_with_header(v: SoapVersion, header: &str, inner: &str) -> String {
    let (open, close) = envelope_parts(v, header);
    format!("{open}{inner}{close}")
}

/// The text before and after an Envelope's Body content, for callers that hold bytes.
pub fn envelope_parts(v: SoapVersion, header: &str) -> (String, &'static str) {
    let head = if header.is_empty() {
        String::new()
    } else {
        format!("<soapenv:Header>{header}</soapenv:Header>")
    };
    (
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<soapenv:Envelope xmlns:soapenv=\"{}\">{head}<soapenv:Body>",
            soap_ns(v).0
        ),
        "</soapenv:Body></soapenv:Envelope>",
    )
}
