//! The vocabulary every part of the server shares: a [`Call`] to a service and where it came
//! from, what a service answers ([`Output`], [`Body`]) and how it fails ([`ServiceError`]), and
//! the [`Service`] trait built-ins implement. This module imports nothing else of the crate, so
//! channels, connectors, the invoker and the Python host can all speak it without knowing each
//! other.
pub mod deferred;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};

/// Upstream's ChannelInfo for a call (`id name type data_format ...`) plus a slot where a
/// runtime may keep its own form of it (the Python host keeps the dict it made), reused as
/// channels are long-lived.
#[derive(Debug, Default)]
pub struct ChannelInfo {
    pub value: Value,
    pub cache: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl ChannelInfo {
    pub fn new(value: Value) -> Arc<Self> {
        Arc::new(Self {
            value,
            cache: OnceLock::new(),
        })
    }
}

/// What a Python service sees as `self.request.http`.
#[derive(Debug, Default)]
pub struct HttpReq {
    pub method: String,
    pub path: String,
    /// URL path params.
    pub params: Vec<(String, String)>,
    /// The raw query string (parsed when handed to Python).
    pub query: String,
    /// Form fields of `form` channels.
    pub post: Vec<(String, String)>,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
}

/// The caller of a channel: the peer's address and the `X-Forwarded-For` it sent, kept as
/// they came (no work per request); [`Client::key`] makes them one string when needed.
#[derive(Debug, Clone)]
pub struct Client {
    pub peer: std::net::IpAddr,
    pub forwarded_for: Option<hyper::header::HeaderValue>,
}

impl Client {
    /// The peer's address and, when a proxy added one, the last `X-Forwarded-For` entry (our
    /// load balancer appends the client it saw). A client talking to the server directly can
    /// invent the latter, which only ever splits its own budget further.
    pub fn key(&self) -> String {
        let forwarded = self
            .forwarded_for
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|f| !f.is_empty());
        match forwarded {
            Some(f) => format!("{}|{f}", self.peer),
            None => self.peer.to_string(),
        }
    }
}

/// Where a call came from. Each transport that starts calls has its variant; what a service
/// sees of it (`self.channel`, `self.request.http`, ...) is built from this.
// Boxing the HTTP variant would cost an allocation per request; a Call is built once and moved.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Default)]
pub enum Origin {
    /// An HTTP channel (REST, SOAP, the admin API); `req` is made only for services that
    /// look at it (Python ones).
    Http {
        req: Option<HttpReq>,
        client: Option<Client>,
    },
    /// A message from a broker (`transport` is `amqp`, ...): its headers, properties and
    /// delivery details as the transport describes them (a JSON document, or its text when
    /// the runtime should parse it only on use), which the service sees as
    /// `self.request.<transport>`.
    Message {
        transport: &'static str,
        meta: Value,
    },
    /// `self.invoke`, admin invoke with no HTTP metadata, async invocations.
    #[default]
    Internal,
}

/// One invocation.
pub struct Call {
    pub name: String,
    pub cid: String,
    pub payload: Value,
    pub raw_request: String,
    pub data_format: String,
    /// Upstream's ChannelInfo (`id name type data_format ...`).
    pub channel: Arc<ChannelInfo>,
    pub origin: Origin,
    /// Upstream's per-call `self.environ`.
    pub environ: Value,
}

impl Call {
    /// An in-process call with no transport behind it.
    pub fn internal(name: &str, cid: &str, payload: Value, channel_type: &str) -> Self {
        Self {
            name: name.to_string(),
            cid: cid.to_string(),
            payload,
            raw_request: String::new(),
            data_format: "dict".into(),
            channel: ChannelInfo::new(
                json!({"id": null, "name": channel_type, "type": channel_type, "data_format": "dict", "is_internal": true}),
            ),
            origin: Origin::Internal,
            environ: json!({}),
        }
    }

    /// Who called over a channel, for throttling.
    pub fn client(&self) -> Option<&Client> {
        match &self.origin {
            Origin::Http { client, .. } => client.as_ref(),
            Origin::Message { .. } | Origin::Internal => None,
        }
    }
}

/// A response body as a service produced it.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Json(Value),
    Text(String),
    Bytes(Vec<u8>),
}

impl Body {
    /// The body as a JSON value (what admin invoke and `self.invoke` hand on).
    pub fn to_value(&self) -> Value {
        match self {
            Body::Empty => Value::Null,
            Body::Json(v) => v.clone(),
            Body::Text(s) => Value::String(s.clone()),
            Body::Bytes(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        }
    }
}

/// What a service decided about the broker message that started it
/// (`self.request.amqp.ack()` / `.reject()`); None leaves it to the channel's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Ack,
    Reject,
}

#[derive(Debug, Clone)]
pub struct Output {
    pub status: u16,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub disposition: Option<Disposition>,
}

impl Output {
    pub fn json(v: Value) -> Self {
        Self {
            status: 200,
            content_type: None,
            headers: Vec::new(),
            body: if v.is_null() {
                Body::Empty
            } else {
                Body::Json(v)
            },
            disposition: None,
        }
    }
}

/// Why a call failed, as every transport needs to tell it: an HTTP channel makes a status
/// code of it, an AMQP channel decides between redelivery and rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input was wrong; sending it again will not help.
    BadInput,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    TooManyRequests,
    /// The service did not finish in time.
    Timeout,
    /// The server cannot take the call now (queue full, shutting down).
    Unavailable,
    /// A remote system the service called failed.
    Upstream,
    /// Service code raised an exception.
    Raised,
    Internal,
    /// A status code a Python service chose that has no kind of its own here.
    Other(u16),
}

impl ErrorKind {
    /// A short name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadInput => "bad_input",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::TooManyRequests => "too_many_requests",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::Upstream => "upstream",
            Self::Raised => "raised",
            Self::Internal => "internal",
            Self::Other(_) => "other",
        }
    }
}

impl ErrorKind {
    /// Upstream's Python exceptions carry HTTP status codes; this reads one back.
    pub fn from_status(status: u16) -> Self {
        match status {
            400 => Self::BadInput,
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            409 => Self::Conflict,
            429 => Self::TooManyRequests,
            500 => Self::Internal,
            502 => Self::Upstream,
            503 => Self::Unavailable,
            504 => Self::Timeout,
            other => Self::Other(other),
        }
    }

    /// The HTTP status upstream's exceptions use for this kind (also what an HTTP channel
    /// answers with).
    pub fn http_status(self) -> u16 {
        match self {
            Self::BadInput => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::TooManyRequests => 429,
            Self::Raised | Self::Internal => 500,
            Self::Upstream => 502,
            Self::Unavailable => 503,
            Self::Timeout => 504,
            Self::Other(s) if (400..600).contains(&s) => s,
            Self::Other(_) => 500,
        }
    }
}

/// A failed invocation: what kind of failure, a message for the caller and, for errors raised
/// by service code, the traceback (logged; in the answer when configured).
#[derive(Debug, Clone)]
pub struct ServiceError {
    pub kind: ErrorKind,
    pub message: String,
    pub traceback: Option<String>,
    /// Headers a service asked to send with the error (`Allow`, a `WWW-Authenticate`
    /// challenge); transports without headers ignore them.
    pub headers: Vec<(String, String)>,
}

impl ServiceError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            traceback: None,
            headers: Vec::new(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadInput, message)
    }
    pub fn not_found(service: &str) -> Self {
        Self::new(
            ErrorKind::NotFound,
            format!("Service `{service}` not found"),
        )
    }
    pub fn internal(message: &str) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    pub fn timeout(service: &str, after: Duration) -> Self {
        Self::new(
            ErrorKind::Timeout,
            format!(
                "Service `{service}` did not finish within {:.3}s",
                after.as_secs_f64()
            ),
        )
    }
    pub fn raised(service: &str, traceback: String) -> Self {
        let last = traceback.lines().last().unwrap_or("").to_string();
        Self {
            kind: ErrorKind::Raised,
            message: format!("Service `{service}` raised an exception: {last}"),
            traceback: Some(traceback),
            headers: Vec::new(),
        }
    }
}

impl From<zato_common::odb::OdbError> for ServiceError {
    fn from(e: zato_common::odb::OdbError) -> Self {
        use zato_common::odb::OdbError;
        match e {
            OdbError::NotFound(m) => Self::new(ErrorKind::NotFound, m),
            OdbError::Conflict(m) => Self::new(ErrorKind::Conflict, m),
            other => Self::new(ErrorKind::Internal, other.to_string()),
        }
    }
}

pub type ServiceResult = Result<Value, ServiceError>;
pub type BoxFut<'a> = Pin<Box<dyn Future<Output = ServiceResult> + Send + 'a>>;

/// Per-call context of a built-in service; `S` is the server's state, which this module does
/// not know.
pub struct Ctx<S> {
    pub state: Arc<S>,
    pub cid: String,
    /// The caller over a channel; None for internal calls.
    pub client: Option<Client>,
}

/// A service implemented in Rust.
pub trait Service<S>: Send + Sync {
    fn name(&self) -> &'static str;
    /// What it takes and returns: checked before each call and published as the reference.
    fn io(&self) -> &Io;
    fn handle<'a>(&'a self, ctx: &'a Ctx<S>, input: Value) -> BoxFut<'a>;
}

/// A Rust service's input and output, declared next to it. Input keys outside these lists are
/// refused before the service runs (a misspelt `security_name` must not leave a channel
/// unsecured); the admin-service reference in `docs/` is generated from the same lists.
#[derive(Debug, Clone, Copy)]
pub struct Io {
    /// One line on what the service does.
    pub doc: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
    /// Keys upstream's clients and export files send that are accepted and have no effect.
    pub ignored: &'static [&'static str],
    /// Upstream features this server does not have: accepted only when empty (null, false,
    /// "", 0, [] or {}), as upstream's clients send them; a value is refused, never dropped.
    pub unsupported: &'static [&'static str],
    /// Takes any input and ignores it (health checks post whatever they have).
    pub any_input: bool,
    pub output: &'static [&'static str],
}

/// Accepted by every Rust service: upstream's clients send it everywhere.
pub const ALWAYS_KNOWN: &[&str] = &["cluster_id"];

impl Io {
    /// Whether `key` is one of the inputs.
    pub fn knows(&self, key: &str) -> bool {
        ALWAYS_KNOWN.contains(&key)
            || self.required.contains(&key)
            || self.optional.contains(&key)
            || self.ignored.contains(&key)
            || self.unsupported.contains(&key)
    }

    /// Refuses an input object with keys the service does not know, naming the closest known
    /// key of each.
    pub fn refuse_unknown(&self, service: &str, input: &Value) -> Result<(), ServiceError> {
        // The common case, checked without allocating.
        let Some(map) = input.as_object().filter(|_| !self.any_input) else {
            return Ok(());
        };
        if map.keys().all(|k| self.knows(k))
            && self
                .unsupported
                .iter()
                .all(|k| map.get(*k).is_none_or(is_empty))
        {
            return Ok(());
        }
        refuse_unknown_keys(
            &format!("`{service}`"),
            input,
            &[self.required, self.optional, self.ignored, self.unsupported],
            self.unsupported,
        )
    }
}

/// Refuses an input object with a key outside `known` (each named with the closest known
/// one), or with a value for one of `unsupported`. `what` names the taker in the message.
pub fn refuse_unknown_keys(
    what: &str,
    input: &Value,
    known: &[&[&str]],
    unsupported: &[&str],
) -> Result<(), ServiceError> {
    let Some(map) = input.as_object() else {
        return Ok(());
    };
    for key in unsupported {
        if map.get(*key).is_some_and(|v| !is_empty(v)) {
            return Err(ServiceError::bad_request(format!(
                "`{key}` is an upstream feature this server does not have; leave it out or \
                 empty ({what})"
            )));
        }
    }
    let known: Vec<&str> = known.iter().flat_map(|k| k.iter().copied()).collect();
    let unknown = unknown_keys(map.keys().map(String::as_str), &known);
    if unknown.is_empty() {
        return Ok(());
    }
    let takes = if known.is_empty() {
        "no input".to_string()
    } else {
        known.join(", ")
    };
    Err(ServiceError::bad_request(format!(
        "{unknown}; {what} takes {takes}"
    )))
}

/// Null, false, "", 0, [] or {}.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// "unknown field `x`; did you mean `y`?" for each of `keys` not in `known`, joined by "; ".
pub fn unknown_keys<'a>(keys: impl Iterator<Item = &'a str>, known: &[&str]) -> String {
    keys.filter(|k| !known.contains(k) && !ALWAYS_KNOWN.contains(k))
        .map(|k| {
            let closest = known
                .iter()
                .map(|n| (strsim::levenshtein(k, n), *n))
                .min()
                .filter(|(d, n)| *d <= 3 && *d < n.len());
            match closest {
                Some((_, n)) => format!("unknown field `{k}`; did you mean `{n}`?"),
                None => format!("unknown field `{k}`"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What an [`Observer`] is told about a call once it ran (or was refused).
pub struct Ran<'a> {
    pub name: &'a str,
    /// The name of the channel it came through (`ChannelInfo`'s `name`; empty when none).
    pub channel: &'a str,
    /// Kept only when an observer asked for details ([`Observer::keeps_request`]); else empty.
    pub cid: &'a str,
    /// The request as text, kept only when an observer asked for details.
    pub request: Option<&'a str>,
    pub took: Duration,
    /// When it ended (wall clock), read from the same clock reading as `took`.
    pub ended: std::time::SystemTime,
    pub result: Result<&'a Output, &'a ServiceError>,
}

impl Ran<'_> {
    /// Logs this call when it took longer than `limit` ms; whether it did (the slow-response
    /// observer and the statistics one, which replaces it when statistics are on, both log so).
    pub fn log_if_slow(&self, limit: u64) -> bool {
        let ms = self.took.as_millis();
        let slow = ms > u128::from(limit);
        if slow {
            tracing::warn!(
                cid = self.cid,
                service = self.name,
                "slow response: {ms} ms, above the service's slow_threshold of {limit} ms"
            );
        }
        slow
    }
}

/// Told about every call the invoker runs: statistics, slow-response logs and rate limits plug
/// in here.
pub trait Observer: Send + Sync {
    /// Whether this observer looks at calls of `service` at all: a call no observer wants
    /// runs without being timed or having its name kept.
    fn wants(&self, _service: &str) -> bool {
        true
    }
    /// Whether calls of `service` need their details ([`Ran::cid`], [`Ran::request`]), which
    /// otherwise are not copied.
    fn keeps_request(&self, _service: &str) -> bool {
        false
    }
    /// Before the call runs; an error refuses it (a rate limit, say).
    fn before(&self, _call: &Call) -> Result<(), ServiceError> {
        Ok(())
    }
    /// After it ran (or was refused).
    fn after(&self, ran: &Ran<'_>);
}

/// Rows of config kinds declared as data (`zato_common::odb::kinds`), by kind name, each row
/// a JSON map typed by its kind's descriptor.
pub type KindRows = rustc_hash::FxHashMap<&'static str, Arc<Vec<serde_json::Map<String, Value>>>>;

/// Keeps something live in step with the rows of some kinds: connectors and channels of a
/// transport. Called with every kind's rows whenever one of its kinds changed.
pub trait ConfigListener: Send + Sync {
    fn kinds(&self) -> &'static [&'static str];
    fn apply(&self, rows: &KindRows);
    /// The server is stopping: stop what runs (consumers), letting running work finish.
    fn stop(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}

/// Looked up on every request: FxHash, not SipHash (the keys are our own names).
pub type Registry<S> = rustc_hash::FxHashMap<&'static str, Arc<dyn Service<S>>>;
