//! Entry points for the `cargo fuzz` targets in `fuzz/` (not an API): request decoding per data
//! format, WS-Security parsing, channel matching, the admin invoke request and the enmasse
//! import check. Each runs on arbitrary bytes without a running server and asserts what must
//! hold, so that a broken invariant is a crash the fuzzer reports.
use std::future::Future;
use std::sync::OnceLock;

use std::task::{Context, Poll, Waker};
use zato_common::fuzzing::allowed;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http_body_util::BodyExt;
use serde_json::Value;
use zato_common::admin::{InvokeRequest, encode_response};
use zato_common::crypto::SecretKey;
use zato_common::odb::channels::HttpSoap;
use zato_common::odb::security::{APIKEY, BASIC_AUTH, SecDef, WSS, WSS_DIGEST, WssOpts};
use zato_common::odb::sql_pool::SqlPool;

use crate::admin::enmasse::plan::{Current, Plan};
use crate::channels::http::respond::{self, Resp};
use crate::core::{Body, Output};
use crate::invoke::request as admin;
use crate::objects::routes::{Match, Routes};
use crate::proto::codec;
use crate::proto::soap::{self, SoapVersion};
use crate::security::wss;

/// The body of a response built in memory (always ready at once).
fn body_of(resp: Resp) -> Vec<u8> {
    let mut collect = std::pin::pin!(resp.into_body().collect());
    match collect
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(Ok(c)) => c.to_bytes().to_vec(),
        Poll::Ready(Err(e)) => match e {},
        Poll::Pending => panic!("an in-memory body is not ready"),
    }
}

/// A SOAP Fault with `details` must be a SOAP envelope the codec reads back, as the version
/// it is.
fn fault_reads_back(details: &str, v: SoapVersion) {
    let fault = body_of(respond::error(Some(v), 400, "cid", details));
    match codec::decode("soap", &fault) {
        Ok(d) if d.soap != Some(v) && allowed("soap-version-sniff") => {}
        Ok(d) => assert_eq!(
            d.soap,
            Some(v),
            "{v:?} read back as {:?}: {}",
            d.soap,
            String::from_utf8_lossy(&fault)
        ),
        Err(e) => panic!(
            "a Fault the server sends does not read back ({}): {}",
            e.message,
            String::from_utf8_lossy(&fault)
        ),
    }
}

const FORMATS: [&str; 5] = ["json", "xml", "soap", "form", "plain"];

/// `codec::decode`: the first byte picks the data format, the rest is the body. Ok or a 400,
/// never a panic; what decodes is encoded back for the channel's format.
pub fn server_decode(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(sel) % FORMATS.len()];
    match codec::decode(format, body) {
        Ok(d) => {
            match format {
                "json" => {
                    let text = std::str::from_utf8(body).unwrap_or_else(|_| panic!("not UTF-8"));
                    assert_eq!(d.raw, text);
                    // A JSON object is an object to the service, as to any other reader.
                    if text.trim_start().starts_with('{')
                        && !d.payload.is_object()
                        // (the token may be written with \u escapes)
                        && !((text.contains(RAW_VALUE_TOKEN) || text.contains("\\u"))
                            && allowed("json-rawvalue-key"))
                    {
                        panic!("the object {text} decoded as {}", d.payload);
                    }
                    if text.trim().is_empty() {
                        assert!(d.payload.is_null());
                    }
                }
                "xml" => assert_eq!(d.payload, Value::String(d.raw.clone())),
                "soap" => {
                    assert!(d.soap.is_some());
                    let inner = d.payload.as_str().unwrap_or_else(|| panic!("not a string"));
                    assert!(d.raw.contains(inner));
                }
                "form" => assert!(d.payload.is_object()),
                _ => {
                    assert_eq!(d.raw, String::from_utf8_lossy(body));
                    let v = if sel & 0x80 == 0 {
                        SoapVersion::V11
                    } else {
                        SoapVersion::V12
                    };
                    fault_reads_back(&d.raw, v);
                }
            }
            if format != "soap" {
                assert!(d.soap.is_none());
            }
            let out = Output {
                status: 200,
                content_type: None,
                headers: Vec::new(),
                body: Body::Json(d.payload),
                disposition: None,
            };
            let _ = body_of(respond::encode(format, d.soap, None, out, "cid"));
        }
        Err(e) => {
            assert_eq!(e.kind, crate::core::ErrorKind::BadInput, "{}", e.message);
            assert_ne!(format, "plain");
        }
    }
}

/// `wss::parse` on a body (first byte even), or (odd) a Security header the server builds for
/// outgoing calls from the input's user name and password read back.
pub fn wss_parse(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel & 1 == 0 {
        if let Ok(Some(t)) = wss::parse(rest) {
            assert_eq!(t.username, t.username.trim());
            assert_eq!(t.password, t.password.trim());
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // XML turns \r\n and \r into \n: such names cannot come back as they were.
    if text.contains('\r') {
        return;
    }
    let (username, password) = text.split_once('\0').unwrap_or((text, ""));
    let digest = sel & 2 != 0;
    let header = wss::security_header(username, password, digest);
    let env = format!(
        "<s:Envelope xmlns:s=\"{}\"><s:Header>{header}</s:Header><s:Body/></s:Envelope>",
        soap::SOAP11_NS
    );
    let tok = match wss::parse(env.as_bytes()) {
        Ok(Some(t)) => t,
        other => panic!("the header the server sends does not read back: {other:?}\n{env}"),
    };
    assert_eq!(tok.username, username.trim(), "{env}");
    assert!(tok.nonce.is_some() && tok.created.is_some(), "{env}");
    if digest {
        assert!(tok.password_type.ends_with("#PasswordDigest"), "{env}");
    } else {
        assert!(tok.password_type.ends_with("#PasswordText"), "{env}");
        assert_eq!(tok.password, password.trim(), "{env}");
    }
}

pub(crate) fn http_row(id: i64, path: &str, method: Option<&str>) -> HttpSoap {
    HttpSoap {
        id,
        name: format!("ch{id}"),
        is_active: true,
        is_internal: false,
        connection: "channel".into(),
        transport: "plain_http".into(),
        host: None,
        url_path: path.into(),
        method: method.map(str::to_string),
        soap_action: None,
        soap_version: None,
        data_format: Some("json".into()),
        content_type: None,
        timeout: None,
        pool_size: None,
        validate_tls: true,
        merge_url_params_req: true,
        url_params_pri: None,
        params_pri: None,
        security_id: None,
        security_name: None,
        sec_type: None,
        service_id: None,
        service_name: Some("svc".into()),
        cluster_id: 1,
    }
}

fn sec_def(id: i64, name: &str, sec_type: &str, password: Option<String>) -> SecDef {
    SecDef {
        id,
        name: name.into(),
        username: format!("{name}.user"),
        password,
        password_type: (sec_type == WSS).then(|| WSS_DIGEST.to_string()),
        is_active: true,
        sec_type: sec_type.into(),
        realm: None,
        header: None,
        wss: (sec_type == WSS).then(WssOpts::default),
        ttl: None,
    }
}

/// Channels with exact paths, `{params}`, methods, security and rows that must not match.
fn routes() -> &'static Routes {
    static ROUTES: OnceLock<Routes> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let key = SecretKey::generate();
        let secs = [
            sec_def(1, "basic", BASIC_AUTH, Some(key.encrypt_for_odb("secret"))),
            sec_def(2, "key", APIKEY, Some("not-encrypted".into())),
            sec_def(3, "wss", WSS, None),
        ];
        let mut rows = vec![
            http_row(1, "/zato/ping", None),
            http_row(2, "/zato/api/invoke/{service_name}", None),
            http_row(3, "/users/{id}/orders/{order}", Some("GET")),
            http_row(4, "/users/{id}", Some("POST")),
            http_row(5, "/users/{id}", Some("delete")),
            http_row(6, "/", None),
            http_row(7, "/{a}/{b}/{c}/{d}", Some("PUT")),
            http_row(8, "/files/{}/x", None),
            http_row(9, "/exact", Some("GET")),
            http_row(10, "/exact", Some("POST")),
            http_row(11, "/a//b/{x}", None),
            http_row(12, "/\u{fc}/{na\u{ef}ve}", Some("")),
            http_row(13, "/inactive/{x}", None),
            http_row(14, "/outgoing/{x}", None),
            http_row(15, "/soap", None),
            http_row(16, "", None),
            http_row(17, "/{x}}/{{y}", None),
        ];
        rows[2].security_id = Some(1);
        rows[3].security_id = Some(2);
        rows[4].security_id = Some(99);
        rows[14].security_id = Some(3);
        rows[14].transport = "soap".into();
        rows[14].data_format = None;
        rows[12].is_active = false;
        rows[13].connection = "outgoing".into();
        Routes::build(&rows, &secs, &key)
    })
}

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get",
];

fn split(path: &str) -> Vec<&str> {
    path.trim_start_matches('/').split('/').collect()
}

fn is_param(seg: &str) -> bool {
    seg.starts_with('{') && seg.ends_with('}') && seg.len() >= 2
}

fn check_match(method: &str, path: &str) {
    let found = routes().find(method, path);
    let Match::Found(ch, params) = found else {
        return;
    };
    assert!(
        !matches!(ch.id, 13 | 14),
        "an inactive or outgoing row matched"
    );
    assert!(
        ch.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method)),
        "{method} {path} matched {}",
        ch.url_path
    );
    let want = split(&ch.url_path);
    let given = split(path);
    let names: Vec<&str> = want
        .iter()
        .filter(|s| is_param(s))
        .map(|s| &s[1..s.len() - 1])
        .collect();
    assert_eq!(
        params.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        names,
        "{path} against {}",
        ch.url_path
    );
    for (_, v) in &params {
        assert!(!v.chars().any(char::is_control), "{v:?} from {path}");
    }
    if names.is_empty() {
        assert_eq!(path, ch.url_path);
    } else {
        assert_eq!(want.len(), given.len(), "{path} against {}", ch.url_path);
        for (w, g) in want.iter().zip(&given) {
            if is_param(w) {
                assert!(!g.is_empty(), "{path} against {}", ch.url_path);
            } else {
                assert_eq!(w, g, "{path} against {}", ch.url_path);
            }
        }
    }
}

/// `Routes::find`: the first byte picks the method, the rest is the path, as given and as
/// hyper reads it from a request target.
pub fn path_match(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let method = METHODS[usize::from(sel) % METHODS.len()];
    if let Ok(path) = std::str::from_utf8(rest) {
        check_match(method, path);
    }
    if let Ok(uri) = hyper::Uri::try_from(rest) {
        check_match(method, uri.path());
    }
}

/// Equal JSON, numbers as floats within a rounding error (serde_json's default float parsing
/// is not exact to the last bit).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y
                || match (x.as_f64(), y.as_f64()) {
                    (Some(x), Some(y)) => (x - y).abs() <= x.abs().max(y.abs()) * 1e-15,
                    _ => false,
                }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| ka == kb && same_json(a, b))
        }
        _ => a == b,
    }
}

/// serde_json's `raw_value` feature (turned on by sqlx) makes a JSON object whose first key is
/// this token read as the JSON text in its value instead.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

fn has_raw_value_key(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.contains_key(RAW_VALUE_TOKEN) || m.values().any(has_raw_value_key),
        Value::Array(items) => items.iter().any(has_raw_value_key),
        _ => false,
    }
}

/// The payload text as `admin::parse_payload` reads it, and the reply carrying it.
fn payload_round_trip(text: &str) {
    match admin::parse_payload(text) {
        Ok(v) => {
            let reply = encode_response("cid", Some(&v));
            assert_eq!(reply["zato_env"]["result"], "ZATO_OK");
            if v.is_null() {
                assert!(reply.get("response").is_none());
                return;
            }
            let b64 = reply["response"]
                .as_str()
                .unwrap_or_else(|| panic!("no response in {reply}"));
            let json = B64
                .decode(b64)
                .unwrap_or_else(|e| panic!("bad base64 ({e}) in {reply}"));
            let back = serde_json::from_slice::<Value>(&json);
            if !back.as_ref().is_ok_and(|b| same_json(&v, b))
                && has_raw_value_key(&v)
                && allowed("json-rawvalue-key")
            {
                return;
            }
            let back = back.unwrap_or_else(|e| panic!("the reply is not JSON ({e}): {v}"));
            assert!(same_json(&v, &back), "{v} came back as {back}");
        }
        Err(e) => assert_eq!(e.kind, crate::core::ErrorKind::BadInput, "{}", e.message),
    }
}

/// `POST /zato/admin/invoke`: (first byte even) the request body as `admin_invoke` reads it and
/// its payload as `invoke_from_request` decodes it before a service runs; (odd) the payload
/// text alone.
pub fn admin_invoke(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel & 1 == 1 {
        if let Ok(text) = std::str::from_utf8(rest) {
            payload_round_trip(text);
        }
        return;
    }
    let Ok(req) = serde_json::from_slice::<InvokeRequest>(rest) else {
        return;
    };
    // As the CLI, web admin and scheduler send it.
    let again = serde_json::to_vec(&req).unwrap_or_else(|e| panic!("{e}"));
    let back: InvokeRequest = serde_json::from_slice(&again)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&again)));
    assert_eq!(back.name, req.name);
    assert_eq!(back.payload, req.payload);
    let text = match req.payload.as_deref() {
        None | Some("") => String::new(),
        Some(p) => match B64.decode(p.trim()).map(String::from_utf8) {
            Ok(Ok(t)) => t,
            _ => return,
        },
    };
    let Ok(payload) = admin::parse_payload(&text) else {
        return;
    };
    // XML and SOAP payloads are decoded as an XML or SOAP channel does (invoke_from_request).
    let xml_format = match (req.transport.as_deref(), req.data_format.as_deref()) {
        (Some("soap"), _) => Some("soap"),
        (_, Some("xml")) => Some("xml"),
        _ => None,
    };
    if let (Some(format), Value::String(doc)) = (xml_format, &payload) {
        match codec::decode(format, doc.as_bytes()) {
            Ok(d) => {
                let (_, bytes) = codec::encode_body(format, d.soap, Body::Json(d.payload));
                let _ = String::from_utf8_lossy(&bytes);
            }
            Err(e) => assert_eq!(e.kind, crate::core::ErrorKind::BadInput, "{}", e.message),
        }
    }
    payload_round_trip(&text);
}

/// What the enmasse check runs against: a few objects of each type, one internal channel,
/// deployed services.
fn current() -> &'static Current {
    static CURRENT: OnceLock<Current> = OnceLock::new();
    CURRENT.get_or_init(|| {
        let mut internal = http_row(3, "/zato/ping", None);
        internal.name = "zato.ping".into();
        internal.is_internal = true;
        let mut outgoing = http_row(4, "/out", None);
        outgoing.name = "out1".into();
        outgoing.connection = "outgoing".into();
        outgoing.host = Some("http://localhost".into());
        let mut soap = http_row(5, "/soap", None);
        soap.name = "soap1".into();
        soap.transport = "soap".into();
        let mut ch1 = http_row(1, "/api/ch1", Some("GET"));
        ch1.name = "ch1".into();
        Current {
            secs: vec![
                sec_def(1, "s1", BASIC_AUTH, None),
                sec_def(2, "k1", APIKEY, None),
                sec_def(3, "w1", WSS, None),
            ],
            rows: vec![ch1, internal, outgoing, soap],
            jobs: Vec::new(),
            pools: vec![SqlPool {
                id: 1,
                name: "pool1".into(),
                is_active: true,
                engine: "postgresql".into(),
                host: "localhost".into(),
                port: 5432,
                db_name: "db".into(),
                username: "u".into(),
                password: None,
                pool_size: 1,
                extra: None,
            }],
            services: [("svc", 1), ("pub.zato.ping", 2), ("zato.ping", 3)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            kind_rows: Default::default(),
        }
    })
}

/// `Plan::build`, the server's check of an enmasse file (type name → list of objects) against
/// a fixed cluster: every problem is reported, nothing panics, and what would be written is
/// consistent with the file and the cluster.
pub fn enmasse_plan(objects: &Value, replace: bool, ignore_missing_defs: bool) {
    let current = current();
    let plan = Plan::build(objects, current, replace, ignore_missing_defs);
    for p in &plan.problems {
        let j = p.to_json();
        assert!(j.is_object());
    }
    if !ignore_missing_defs {
        assert!(plan.skipped.is_empty());
    }
    if !objects.is_object() {
        assert_eq!(plan.problems.len(), 1);
    }
    let known: Vec<&str> = plan
        .security
        .iter()
        .map(|s| s.input.name.as_str())
        .chain(current.secs.iter().map(|d| d.name.as_str()))
        .collect();
    for h in &plan.http {
        if let Some(sec) = &h.security_name {
            assert!(
                known.contains(&sec.as_str()),
                "unknown security `{sec}` kept"
            );
        }
        assert!(!h.input.name.is_empty());
        if h.input.connection == "channel" {
            assert!(h.input.url_path.starts_with('/'));
            assert!(h.service.is_some());
        }
        if h.id.is_some() {
            assert!(replace, "an existing object updated without --replace");
        }
    }
    let mut names = std::collections::HashSet::new();
    for s in &plan.security {
        assert!(!s.input.name.is_empty());
        assert!(
            names.insert(s.input.name.as_str()),
            "`{}` twice",
            s.input.name
        );
        if s.id.is_some() {
            assert!(replace, "an existing object updated without --replace");
        }
    }
    for p in &plan.sql {
        assert!(!p.input.name.is_empty());
        if p.id.is_some() {
            assert!(replace, "an existing object updated without --replace");
        }
    }
}

/// The enmasse check on one document given as JSON text (for inputs not from the CLI).
pub fn enmasse_json(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    if let Ok(v) = serde_json::from_slice::<Value>(rest) {
        enmasse_plan(&v, flags & 1 != 0, flags & 2 != 0);
    }
}
