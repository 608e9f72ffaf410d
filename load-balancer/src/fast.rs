//! The fast path: plain HTTP/1.1 requests (no body or a Content-Length one; no Upgrade, no
//! Expect, no chunked request body) are forwarded by this purpose-built loop, which parses
//! heads with httparse and copies bodies as bytes, framed by Content-Length, chunked encoding
//! or the server closing. Anything else on a connection hands it, with what was read so far,
//! to the general hyper path in `proxy.rs`. Same balancing, retries, health, statistics and
//! error bodies as there.
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::balancer::Backend;
use crate::health;
use crate::proxy::{self, MONITOR_URI};
use crate::rewind::Rewind;
use crate::state::Lb;

const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;
/// Idle connections kept per server and proxy thread; more are closed.
const MAX_IDLE: usize = 256;

/// A client connection: plain TCP, or TLS over it.
pub trait ClientIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {
    /// Writes what fits the socket at once, without waiting (WouldBlock when nothing does).
    fn try_write_now(&mut self, bytes: &[u8]) -> std::io::Result<usize>;
}

impl ClientIo for TcpStream {
    fn try_write_now(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.try_write(bytes)
    }
}

impl ClientIo for tokio_rustls::server::TlsStream<TcpStream> {
    /// TLS records are written by the stream's own writer: always through the timed path.
    fn try_write_now(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::WouldBlock.into())
    }
}

/// What the frontend knows of a client's transport, told to the servers in headers that only
/// the load balancer writes: `X-Forwarded-Proto: https`, and for a client certificate
/// `X-SSL-Client-Verify: SUCCESS` and `X-SSL-Client-S-DN` (its subject).
#[derive(Clone, Debug, Default)]
pub struct Secure {
    pub tls: bool,
    pub client_subject: Option<Arc<str>>,
}

impl Secure {
    /// The headers this proxy sets; clients' own copies of them are dropped.
    pub fn is_ours(name: &str) -> bool {
        name.eq_ignore_ascii_case("x-forwarded-proto")
            || name
                .get(..13)
                .is_some_and(|p| p.eq_ignore_ascii_case("x-ssl-client-"))
    }

    /// (name, value) pairs to add to a request; names in lower case, as hyper wants them.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let proto = self.tls.then_some(("x-forwarded-proto", "https"));
        let subject = self
            .client_subject
            .as_deref()
            .into_iter()
            .flat_map(|s| [("x-ssl-client-verify", "SUCCESS"), ("x-ssl-client-s-dn", s)]);
        proto.into_iter().chain(subject)
    }
}

/// A keep-alive connection to a server, with bytes read past the last response (none, when
/// the server is well-behaved). Counted in the server's open connections while it exists.
struct ServerConn {
    stream: TcpStream,
    buf: BytesMut,
    backend: Arc<Backend>,
}

impl Drop for ServerConn {
    fn drop(&mut self) {
        self.backend.stats.connections.fetch_sub(1, Relaxed);
    }
}

thread_local! {
    static IDLE: RefCell<HashMap<SocketAddr, Vec<ServerConn>>> = RefCell::new(HashMap::new());
}

/// An idle connection to `addr` the server has not closed meanwhile.
fn take_idle(addr: SocketAddr) -> Option<ServerConn> {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let list = idle.get_mut(&addr)?;
        while let Some(c) = list.pop() {
            let mut probe = [0u8; 1];
            // Readable now means EOF or stray bytes: either way not reusable.
            if matches!(c.stream.try_read(&mut probe), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock)
            {
                return Some(c);
            }
        }
        None
    })
}

fn give_back(addr: SocketAddr, conn: ServerConn) {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let list = idle.entry(addr).or_default();
        if list.len() < MAX_IDLE {
            list.push(conn);
        }
    });
}

async fn connect(b: &Arc<Backend>, timeout: Duration) -> Option<ServerConn> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(b.addr))
        .await
        .ok()?
        .ok()?;
    let _ = stream.set_nodelay(true);
    b.stats.opened.fetch_add(1, Relaxed);
    b.stats.connections.fetch_add(1, Relaxed);
    Some(ServerConn {
        stream,
        buf: BytesMut::with_capacity(8 * 1024),
        backend: b.clone(),
    })
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Headers that frame a message or name its target: a `Connection` header listing them must
/// never make a proxy drop them (that is how a body becomes a second, unseen request).
pub(crate) fn is_framing(name: &str) -> bool {
    ["content-length", "transfer-encoding", "host"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

fn is_hop_by_hop(name: &str, listed: &[String]) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "transfer-encoding",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
        || (!is_framing(name) && listed.iter().any(|l| name.eq_ignore_ascii_case(l)))
}

/// A Content-Length value as RFC 9110 has it: ASCII digits only (no sign, no inner spaces,
/// no list); None for anything else.
fn content_length(value: &[u8]) -> Option<usize> {
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Names listed in Connection headers, and whether one of them is `close`.
fn connection_tokens(headers: &[httparse::Header<'_>]) -> (Vec<String>, bool) {
    let mut listed = Vec::new();
    let mut close = false;
    for h in headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
    {
        for t in String::from_utf8_lossy(h.value).split(',') {
            let t = t.trim();
            if t.eq_ignore_ascii_case("close") {
                close = true;
            } else if !t.is_empty() {
                listed.push(t.to_string());
            }
        }
    }
    (listed, close)
}

/// What `connection` does with a client's request.
pub(crate) enum Parsed {
    /// Forward it: the server-bound bytes, whether the method is idempotent, whether it is
    /// HEAD, whether the client wants the connection closed after it, bytes consumed.
    Forward {
        out: Vec<u8>,
        idempotent: bool,
        head: bool,
        close: bool,
        consumed: usize,
    },
    Monitor {
        consumed: usize,
        close: bool,
    },
    /// `GET /zato/metrics`: the load balancer's own, never forwarded.
    Metrics {
        consumed: usize,
        close: bool,
    },
    /// Needs more bytes: of the head (`body` None) or of a body of `body` bytes.
    Partial {
        body: Option<usize>,
    },
    /// Not for the fast path: hyper takes the connection.
    Fallback,
    /// Answer this and close.
    Refuse(u16, &'static str),
}

pub(crate) fn parse_request(
    buf: &[u8],
    peer: SocketAddr,
    max_body: usize,
    secure: &Secure,
) -> Parsed {
    let head_end = match find_head_end(buf) {
        Some(end) if end <= MAX_HEAD => end,
        None if buf.len() <= MAX_HEAD => return Parsed::Partial { body: None },
        _ => return Parsed::Refuse(431, "The request's headers are too large"),
    };
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&buf[..head_end]) {
        // httparse also ends a head at a bare-LF blank line; the head is where the first CRLF
        // CRLF is, for every reader alike, or the request is refused.
        Ok(httparse::Status::Complete(n)) if n == head_end => {}
        Ok(httparse::Status::Complete(_)) => {
            return Parsed::Refuse(400, "The request's head must end lines with CRLF");
        }
        // More headers than the fast path keeps room for: hyper decides.
        Err(httparse::Error::TooManyHeaders) => return Parsed::Fallback,
        // Whitespace before a colon, obs-fold, bare CR, bad tokens...: what one parser reads
        // one way and another another way is refused, never passed on.
        _ => return Parsed::Refuse(400, "The request's head is malformed"),
    }
    let (Some(method), Some(path), Some(version)) = (req.method, req.path, req.version) else {
        return Parsed::Refuse(400, "The request's head is malformed");
    };
    let mut content_len: Option<usize> = None;
    let mut chunked = false;
    let mut forwarded_for: Option<String> = None;
    for h in req.headers.iter() {
        let n = h.name;
        if n.eq_ignore_ascii_case("transfer-encoding") {
            // Exactly one `chunked`; anything else cannot be framed the same way by everyone.
            if chunked || !h.value.eq_ignore_ascii_case(b"chunked") {
                return Parsed::Refuse(
                    400,
                    "Transfer-Encoding must be exactly `chunked`, given once",
                );
            }
            chunked = true;
        } else if n.eq_ignore_ascii_case("content-length") {
            match (content_length(h.value), content_len) {
                (Some(v), None) => content_len = Some(v),
                (Some(v), Some(prev)) if v == prev => {}
                (None, _) => {
                    return Parsed::Refuse(400, "Content-Length must be a plain decimal number");
                }
                (Some(_), Some(_)) => {
                    return Parsed::Refuse(400, "The request has two different Content-Lengths");
                }
            }
        } else if n.eq_ignore_ascii_case("x-forwarded-for") {
            forwarded_for = Some(String::from_utf8_lossy(h.value).into_owned());
        }
    }
    if chunked && content_len.is_some() {
        return Parsed::Refuse(
            400,
            "The request has both Content-Length and Transfer-Encoding",
        );
    }
    let hands_over = req
        .headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("upgrade") || h.name.eq_ignore_ascii_case("expect"));
    if chunked || hands_over || version != 1 || method == "CONNECT" {
        return Parsed::Fallback;
    }
    let (listed, close) = connection_tokens(req.headers);
    let body_len = content_len.unwrap_or(0);
    if body_len > max_body {
        return Parsed::Refuse(
            413,
            "The request body is larger than the load balancer's frontend.max_body_size",
        );
    }
    if buf.len() < head_end + body_len {
        return Parsed::Partial {
            body: Some(body_len),
        };
    }
    if path == MONITOR_URI {
        return Parsed::Monitor {
            consumed: head_end + body_len,
            close,
        };
    }
    if crate::metrics::is_metrics(path) {
        return Parsed::Metrics {
            consumed: head_end + body_len,
            close,
        };
    }
    let mut out = Vec::with_capacity(head_end + body_len + 64);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for h in req.headers.iter() {
        if is_hop_by_hop(h.name, &listed)
            || h.name.eq_ignore_ascii_case("x-forwarded-for")
            || h.name.eq_ignore_ascii_case("content-length")
            || Secure::is_ours(h.name)
        {
            continue;
        }
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in secure.headers() {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // The length this proxy framed the body by, whatever the client wrote.
    if content_len.is_some() {
        out.extend_from_slice(format!("Content-Length: {body_len}\r\n").as_bytes());
    }
    out.extend_from_slice(b"X-Forwarded-For: ");
    if let Some(prev) = forwarded_for {
        out.extend_from_slice(prev.as_bytes());
        out.extend_from_slice(b", ");
    }
    out.extend_from_slice(peer.ip().to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&buf[head_end..head_end + body_len]);
    Parsed::Forward {
        out,
        idempotent: matches!(
            method,
            "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE"
        ),
        head: method == "HEAD",
        close,
        consumed: head_end + body_len,
    }
}

/// How a response body ends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Framing {
    Length(usize),
    Chunked(Chunked),
    UntilClose,
}

/// Finds the end of a chunked body in the bytes going by.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Chunked {
    Size { size: usize, digits: bool },
    Extension { size: usize },
    SizeLf { size: usize },
    Data(usize),
    DataCr,
    DataLf,
    TrailerLineStart,
    TrailerLine,
    TrailerLf { empty: bool },
    Done,
}

impl Chunked {
    pub(crate) fn start() -> Self {
        Chunked::Size {
            size: 0,
            digits: false,
        }
    }

    /// Advances over `bytes`; returns how many were part of the body (all, unless it ends),
    /// or None on a malformed body.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < bytes.len() {
            if let Chunked::Done = self {
                return Some(i);
            }
            let b = bytes[i];
            *self = match *self {
                Chunked::Size { size, digits } => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        let d = (b as char).to_digit(16)? as usize;
                        Chunked::Size {
                            size: size.checked_mul(16)?.checked_add(d)?,
                            digits: true,
                        }
                    }
                    b';' | b' ' | b'\t' if digits => Chunked::Extension { size },
                    b'\r' if digits => Chunked::SizeLf { size },
                    _ => return None,
                },
                Chunked::Extension { size } => match b {
                    b'\r' => Chunked::SizeLf { size },
                    _ => Chunked::Extension { size },
                },
                Chunked::SizeLf { size } => match (b, size) {
                    (b'\n', 0) => Chunked::TrailerLineStart,
                    (b'\n', n) => Chunked::Data(n),
                    _ => return None,
                },
                Chunked::Data(n) => {
                    let take = n.min(bytes.len() - i);
                    i += take;
                    *self = if take == n {
                        Chunked::DataCr
                    } else {
                        Chunked::Data(n - take)
                    };
                    continue;
                }
                Chunked::DataCr => match b {
                    b'\r' => Chunked::DataLf,
                    _ => return None,
                },
                Chunked::DataLf => match b {
                    b'\n' => Chunked::start(),
                    _ => return None,
                },
                Chunked::TrailerLineStart => match b {
                    b'\r' => Chunked::TrailerLf { empty: true },
                    _ => Chunked::TrailerLine,
                },
                Chunked::TrailerLine => match b {
                    b'\r' => Chunked::TrailerLf { empty: false },
                    _ => Chunked::TrailerLine,
                },
                Chunked::TrailerLf { empty } => match (b, empty) {
                    (b'\n', true) => Chunked::Done,
                    (b'\n', false) => Chunked::TrailerLineStart,
                    _ => return None,
                },
                Chunked::Done => Chunked::Done,
            };
            i += 1;
        }
        Some(i)
    }

    pub(crate) fn done(&self) -> bool {
        matches!(self, Chunked::Done)
    }
}

/// The response head rewritten for the client, its framing and whether the server keeps the
/// connection open.
pub(crate) struct ResponseHead {
    pub(crate) out: Vec<u8>,
    pub(crate) framing: Framing,
    pub(crate) server_close: bool,
    pub(crate) head_len: usize,
}

pub(crate) enum HeadParse {
    Done(ResponseHead),
    Partial,
    Bad,
}

pub(crate) fn parse_response(buf: &[u8], head_request: bool, client_close: bool) -> HeadParse {
    let head_end = match find_head_end(buf) {
        Some(end) if end <= MAX_HEAD => end,
        None if buf.len() <= MAX_HEAD => return HeadParse::Partial,
        _ => return HeadParse::Bad,
    };
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    if !matches!(
        resp.parse(&buf[..head_end]),
        Ok(httparse::Status::Complete(_))
    ) {
        return HeadParse::Bad;
    }
    let (Some(code), Some(version)) = (resp.code, resp.version) else {
        return HeadParse::Bad;
    };
    // 1xx is never expected (no Expect, no Upgrade is forwarded here).
    if code < 200 {
        return HeadParse::Bad;
    }
    let (listed, mut server_close) = connection_tokens(resp.headers);
    if version == 0 {
        server_close = true;
    }
    let mut length = None;
    let mut chunked = false;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_none() {
                return HeadParse::Bad;
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = String::from_utf8_lossy(h.value)
                .rsplit(',')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"));
            if !chunked {
                return HeadParse::Bad;
            }
        }
    }
    let framing = if head_request || code == 204 || code == 304 {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked(Chunked::start())
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    let mut out = Vec::with_capacity(head_end + 32);
    out.extend_from_slice(format!("HTTP/1.1 {code} {}\r\n", resp.reason.unwrap_or("")).as_bytes());
    for h in resp.headers.iter() {
        // Transfer-Encoding stays: the body is copied as it came, chunks and all.
        if h.name.eq_ignore_ascii_case("transfer-encoding") || !is_hop_by_hop(h.name, &listed) {
            out.extend_from_slice(h.name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.value);
            out.extend_from_slice(b"\r\n");
        }
    }
    if client_close || matches!(framing, Framing::UntilClose) {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    HeadParse::Done(ResponseHead {
        out,
        framing,
        server_close,
        head_len: head_end,
    })
}

enum Outcome {
    /// The response went to the client; keep serving it unless told to close.
    Done {
        close: bool,
    },
    /// Nothing reached the server (or it cannot have acted on it): another may take it.
    NotSent,
    /// Sent and failed before the response began.
    Failed,
    TimedOut,
    /// The server's answer is not HTTP this proxy can forward (nothing went to the client).
    BadResponse,
    /// The client or server broke off mid-response: close the client connection.
    Broken,
}

async fn read_more<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    timeout: Duration,
) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(8192);
    }
    match tokio::time::timeout(timeout, stream.read_buf(buf)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// One try of `out` on server `b`, the response copied to `client`.
#[allow(clippy::too_many_arguments)]
async fn attempt<C: ClientIo>(
    lb: &Lb,
    b: &Arc<Backend>,
    out: &[u8],
    head_request: bool,
    idempotent: bool,
    client_close: bool,
    client: &mut C,
) -> Outcome {
    let (connect_timeout, server_timeout) = lb.pool.load().cfg.backend.timeouts();
    let mut reused = take_idle(b.addr);
    loop {
        let was_reused = reused.is_some();
        let mut conn = match reused.take() {
            Some(c) => c,
            None => match connect(b, connect_timeout).await {
                Some(c) => c,
                None => {
                    health::connect_failed(b);
                    b.stats.error();
                    return Outcome::NotSent;
                }
            },
        };
        let result = exchange(
            b,
            &mut conn,
            out,
            head_request,
            client_close,
            client,
            server_timeout,
        )
        .await;
        let outcome = match result {
            Exchange::Complete { reusable, close } => {
                if reusable {
                    give_back(b.addr, conn);
                }
                return Outcome::Done { close };
            }
            // A kept-alive connection the server had closed: the write failed, so nothing was
            // sent, or no answer came, which only an idempotent request may safely repeat.
            // Either way once more on a fresh connection.
            Exchange::WriteFailed | Exchange::NoResponse
                if was_reused && (idempotent || matches!(result, Exchange::WriteFailed)) =>
            {
                continue;
            }
            Exchange::WriteFailed => Outcome::NotSent,
            Exchange::NoResponse => Outcome::Failed,
            Exchange::TimedOut => Outcome::TimedOut,
            Exchange::BadResponse => Outcome::BadResponse,
            Exchange::Broken => Outcome::Broken,
        };
        b.stats.error();
        return outcome;
    }
}

enum Exchange {
    Complete { reusable: bool, close: bool },
    WriteFailed,
    NoResponse,
    TimedOut,
    BadResponse,
    Broken,
}

async fn exchange<C: ClientIo>(
    b: &Backend,
    conn: &mut ServerConn,
    out: &[u8],
    head_request: bool,
    client_close: bool,
    client: &mut C,
    timeout: Duration,
) -> Exchange {
    if conn.stream.write_all(out).await.is_err() {
        return Exchange::WriteFailed;
    }
    b.stats.sent();
    let t0 = Instant::now();
    let head = loop {
        match parse_response(&conn.buf, head_request, client_close) {
            HeadParse::Done(h) => break h,
            HeadParse::Bad => {
                b.stats.done();
                return Exchange::BadResponse;
            }
            HeadParse::Partial => match read_more(&mut conn.stream, &mut conn.buf, timeout).await {
                Ok(0) | Err(_) if conn.buf.is_empty() => {
                    b.stats.done();
                    return if t0.elapsed() >= timeout {
                        Exchange::TimedOut
                    } else {
                        Exchange::NoResponse
                    };
                }
                Ok(0) | Err(_) => {
                    b.stats.done();
                    return Exchange::Broken;
                }
                Ok(_) => {}
            },
        }
    };
    b.stats.done();
    b.stats.answered(t0.elapsed());
    conn.buf.advance(head.head_len);
    let mut framing = head.framing;
    // The head and whatever body bytes came with it, in one write when the body is complete.
    let mut pending = head.out;
    loop {
        let (take, finished) = match &mut framing {
            Framing::Length(n) => {
                let take = (*n).min(conn.buf.len());
                *n -= take;
                (take, *n == 0)
            }
            Framing::Chunked(c) => match c.feed(&conn.buf) {
                Some(take) => (take, c.done()),
                None => return Exchange::Broken,
            },
            Framing::UntilClose => (conn.buf.len(), false),
        };
        pending.extend_from_slice(&conn.buf[..take]);
        conn.buf.advance(take);
        if finished {
            if !write_within(client, &pending, timeout).await {
                return Exchange::Broken;
            }
            let close = client_close;
            // Bytes past the response mean the server misbehaves; do not reuse it then.
            let reusable = !head.server_close && conn.buf.is_empty();
            return Exchange::Complete { reusable, close };
        }
        if !pending.is_empty() {
            if !write_within(client, &pending, timeout).await {
                return Exchange::Broken;
            }
            pending.clear();
        }
        match read_more(&mut conn.stream, &mut conn.buf, timeout).await {
            Ok(0) if matches!(framing, Framing::UntilClose) => {
                return Exchange::Complete {
                    reusable: false,
                    close: true,
                };
            }
            Ok(0) | Err(_) => return Exchange::Broken,
            Ok(_) => {}
        }
    }
}

/// A client that stops reading is dropped after `timeout` rather than held forever. Most
/// writes fit the socket buffer at once; only the rest waits, under a timer.
async fn write_within<C: ClientIo>(client: &mut C, bytes: &[u8], timeout: Duration) -> bool {
    let mut done = 0;
    while done < bytes.len() {
        match client.try_write_now(&bytes[done..]) {
            Ok(0) => return false,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(_) => return false,
        }
    }
    done == bytes.len()
        || matches!(
            tokio::time::timeout(timeout, send_all(client, &bytes[done..])).await,
            Ok(Ok(()))
        )
}

/// `bytes`, written and flushed (TLS keeps records until flushed).
async fn send_all<C: ClientIo>(client: &mut C, bytes: &[u8]) -> std::io::Result<()> {
    client.write_all(bytes).await?;
    client.flush().await
}

async fn write_error<C: ClientIo>(client: &mut C, status: u16, details: &str) {
    let resp = proxy::error_bytes(status, details);
    let _ = send_all(client, &resp).await;
}

/// The body arrives at no less than this rate, or the client is cut off.
const MIN_BODY_RATE: u64 = 64 * 1024;

/// Serves one client connection until it closes, falling back to hyper when a request needs it.
pub async fn connection<C: ClientIo>(
    lb: &'static Lb,
    mut client: C,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
    secure: Secure,
) {
    let (client_timeout, max_body, retries) = {
        let pool = lb.pool.load();
        (
            Duration::from_secs_f64(pool.cfg.frontend.client_timeout),
            pool.cfg.frontend.max_body_size,
            pool.cfg.backend.retries,
        )
    };
    let mut buf = BytesMut::with_capacity(8 * 1024);
    loop {
        // Where the search for the end of the head goes on from: a client sending its head a
        // byte at a time must not make every read rescan all of it.
        let mut scanned: usize = 0;
        let mut head_found = false;
        // The head must come within client_timeout of its first byte, however it trickles in;
        // the body gets a second more per 64 KiB it declared.
        let mut started = (!buf.is_empty()).then(Instant::now);
        let mut body_allowance = Duration::ZERO;
        let parsed = loop {
            if !head_found {
                head_found = find_head_end(&buf[scanned.saturating_sub(3)..]).is_some();
                scanned = buf.len();
            }
            if head_found || buf.len() > MAX_HEAD {
                match parse_request(&buf, peer, max_body, &secure) {
                    Parsed::Partial { body } => {
                        let len = body.unwrap_or(0) as u64;
                        body_allowance = Duration::from_secs(len / MIN_BODY_RATE);
                    }
                    other => break other,
                }
            }
            let read = async {
                match started {
                    // Idle between requests: a stop ends the connection here, cleanly.
                    None => tokio::select! {
                        r = read_more(&mut client, &mut buf, client_timeout * 8) => r,
                        _ = shutdown.changed() => Ok(0),
                    },
                    Some(t0) => {
                        let left = (t0 + client_timeout + body_allowance)
                            .saturating_duration_since(Instant::now());
                        read_more(&mut client, &mut buf, left).await
                    }
                }
            };
            match read.await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            started.get_or_insert_with(Instant::now);
        };
        match parsed {
            Parsed::Partial { .. } => return,
            Parsed::Fallback => {
                let io = Rewind::new(buf.freeze(), client);
                proxy::serve_hyper(lb, io, peer, client_timeout, secure).await;
                return;
            }
            Parsed::Refuse(status, details) => {
                write_error(&mut client, status, details).await;
                return;
            }
            Parsed::Monitor { consumed, close } => {
                buf.advance(consumed);
                let text = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n\r\nService ready.\n";
                if send_all(&mut client, text.as_bytes()).await.is_err() || close {
                    return;
                }
            }
            Parsed::Metrics { consumed, close } => {
                buf.advance(consumed);
                let text = crate::metrics::render(lb);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
                    crate::metrics::CONTENT_TYPE,
                    text.len()
                );
                if send_all(&mut client, head.as_bytes()).await.is_err()
                    || send_all(&mut client, text.as_bytes()).await.is_err()
                    || close
                {
                    return;
                }
            }
            Parsed::Forward {
                out,
                idempotent,
                head,
                close,
                consumed,
            } => {
                buf.advance(consumed);
                let pool = lb.pool.load();
                let mut tried = Vec::new();
                let mut retries_left = retries;
                let mut answered = None;
                let mut sent_and_failed = false;
                while let Some(i) = pool.pick(&tried) {
                    tried.push(i);
                    let b = &pool.backends[i];
                    match attempt(lb, b, &out, head, idempotent, close, &mut client).await {
                        Outcome::Done { close } => {
                            answered = Some(close);
                            break;
                        }
                        Outcome::NotSent => {}
                        Outcome::Failed => {
                            sent_and_failed = true;
                            if !idempotent || retries_left == 0 {
                                break;
                            }
                            retries_left -= 1;
                        }
                        Outcome::TimedOut => {
                            write_error(
                                &mut client,
                                504,
                                &format!("Server {} did not answer in time", b.name),
                            )
                            .await;
                            return;
                        }
                        Outcome::BadResponse => {
                            write_error(
                                &mut client,
                                502,
                                &format!(
                                    "Server {} sent a response that cannot be forwarded",
                                    b.name
                                ),
                            )
                            .await;
                            return;
                        }
                        Outcome::Broken => return,
                    }
                }
                match answered {
                    Some(false) => {}
                    Some(true) => return,
                    None if sent_and_failed => {
                        write_error(
                            &mut client,
                            502,
                            "The server closed the connection before answering",
                        )
                        .await;
                        return;
                    }
                    None => {
                        lb.no_server.fetch_add(1, Relaxed);
                        write_error(
                            &mut client,
                            503,
                            "No server is available to handle the request",
                        )
                        .await;
                        if close {
                            return;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_end_where_they_should() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let mut c = Chunked::start();
        assert_eq!(c.feed(body), Some(body.len() - 4));
        assert!(c.done());
        // Byte by byte gives the same.
        let mut c = Chunked::start();
        let mut total = 0;
        for b in body.iter() {
            if c.done() {
                break;
            }
            total += c.feed(std::slice::from_ref(b)).unwrap_or(0);
        }
        assert_eq!(total, body.len() - 4);
        assert!(Chunked::start().feed(b"zz\r\n").is_none());
    }

    #[test]
    fn only_the_proxy_sets_tls_headers() {
        let peer: SocketAddr = "10.0.0.9:5000".parse().unwrap_or_else(|e| panic!("{e}"));
        let req = b"GET /a HTTP/1.1\r\nHost: x\r\nX-SSL-Client-S-DN: CN=forged\r\nX-Forwarded-Proto: https\r\n\r\n";
        let text = |secure: &Secure| match parse_request(req, peer, 100, secure) {
            Parsed::Forward { out, .. } => String::from_utf8_lossy(&out).into_owned(),
            _ => panic!("not forwarded"),
        };
        let plain = text(&Secure::default());
        assert!(
            !plain.contains("forged") && !plain.contains("orwarded-Proto"),
            "{plain}"
        );
        let tls = text(&Secure {
            tls: true,
            client_subject: Some("CN=client1,O=Zato".into()),
        });
        assert!(!tls.contains("forged"), "{tls}");
        assert!(tls.contains("x-forwarded-proto: https\r\n"), "{tls}");
        assert!(
            tls.contains(
                "x-ssl-client-verify: SUCCESS\r\nx-ssl-client-s-dn: CN=client1,O=Zato\r\n"
            ),
            "{tls}"
        );
    }

    #[test]
    fn connection_never_strips_framing() {
        let peer: SocketAddr = "10.0.0.9:5000".parse().unwrap_or_else(|e| panic!("{e}"));
        let req = b"POST /zato/ping HTTP/1.1\r\nHost: x\r\nConnection: content-length, host, x-gone\r\nX-Gone: 1\r\ncontent-length: 10\r\n\r\nGET /a\r\n\r\n";
        let Parsed::Forward { out, consumed, .. } =
            parse_request(req, peer, 100, &Secure::default())
        else {
            panic!("not forwarded");
        };
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("Host: x\r\n"), "{text}");
        assert!(!text.contains("X-Gone"), "{text}");
        assert_eq!(text.matches("Content-Length: 10\r\n").count(), 1, "{text}");
        assert!(text.ends_with("\r\n\r\nGET /a\r\n\r\n"), "{text}");
        assert_eq!(consumed, req.len());
    }

    #[test]
    fn requests_are_rewritten_or_left_to_hyper() {
        let peer: SocketAddr = "10.0.0.9:5000".parse().unwrap_or_else(|e| panic!("{e}"));
        let req = b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n";
        let Parsed::Forward {
            out,
            idempotent,
            close,
            consumed,
            ..
        } = parse_request(req, peer, 100, &Secure::default())
        else {
            panic!("not forwarded");
        };
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("GET /a HTTP/1.1\r\nHost: x\r\n"), "{text}");
        assert!(
            !text.contains("X-Drop") && !text.contains("keep-alive"),
            "{text}"
        );
        assert!(
            text.contains("X-Forwarded-For: 1.2.3.4, 10.0.0.9\r\n\r\n"),
            "{text}"
        );
        assert!(idempotent && !close);
        assert_eq!(consumed, req.len());
        for fallback in [
            &b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"GET / HTTP/1.0\r\n\r\n",
            b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        ] {
            assert!(matches!(
                parse_request(fallback, peer, 100, &Secure::default()),
                Parsed::Fallback
            ));
        }
        assert!(matches!(
            parse_request(
                b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab",
                peer,
                100,
                &Secure::default()
            ),
            Parsed::Partial { body: Some(5) }
        ));
        // Ambiguous framing is refused, never forwarded or handed on.
        for bad in [
            &b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length : 3\r\n\r\nabc",
            b"GET / HTTP/1.1\nHost: x\n\nGET /b HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(
                    parse_request(bad, peer, 100, &Secure::default()),
                    Parsed::Refuse(400, _)
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // Identical Content-Lengths are one.
        assert!(matches!(
            parse_request(
                b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
                peer,
                100,
                &Secure::default()
            ),
            Parsed::Forward { .. }
        ));
        assert!(matches!(
            parse_request(
                b"POST / HTTP/1.1\r\nContent-Length: 500\r\n\r\n",
                peer,
                100,
                &Secure::default()
            ),
            Parsed::Refuse(413, _)
        ));
    }
}
