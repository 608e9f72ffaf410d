//! The frontend's accept loop and its general path: hyper's HTTP/1 server and client for the
//! requests the fast path (fast.rs) leaves to it. Requests go to the next server in the
//! weighted schedule and are retried on another server after a failed connect (any method) or
//! a failure once sent (idempotent methods only).
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::balancer::Backend;
use crate::health;
use crate::state::Lb;

pub type Body = UnsyncBoxBody<Bytes, hyper::Error>;
type Sender = SendRequest<Full<Bytes>>;

pub const MONITOR_URI: &str = "/zato-lb-alive";

fn full(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|never: Infallible| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn error_json(details: &str) -> String {
    serde_json::json!({"zato_env": {
        "details": details,
        "result": "ZATO_ERROR",
        "cid": zato_common::new_cid(),
    }})
    .to_string()
}

/// Upstream's body for "no server" (its 503.http), also used for 502 and 504 with their text.
fn zato_error(status: StatusCode, details: &str) -> Response<Body> {
    full(status, "application/json", error_json(details))
}

/// The same as a complete HTTP/1.1 response that closes the connection (the fast path's).
pub fn error_bytes(status: u16, details: &str) -> Vec<u8> {
    let body = error_json(details);
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

fn strip_hop_by_hop(h: &mut HeaderMap) {
    // Headers named in Connection are hop-by-hop too.
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .filter(|n| !crate::fast::is_framing(n.as_str()))
        .collect();
    for n in HOP_BY_HOP.iter().chain(&named) {
        h.remove(n);
    }
    h.remove(header::TRANSFER_ENCODING);
}

fn idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

async fn connect(b: &Arc<Backend>, timeout: Duration) -> Option<Sender> {
    let work = async {
        let stream = TcpStream::connect(b.addr).await.ok()?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        b.stats.connections.fetch_add(1, Relaxed);
        b.stats.opened.fetch_add(1, Relaxed);
        let b = b.clone();
        tokio::spawn(async move {
            let _ = conn.await;
            b.stats.connections.fetch_sub(1, Relaxed);
        });
        Some(sender)
    };
    tokio::time::timeout(timeout, work).await.ok().flatten()
}

type Req = Request<Full<Bytes>>;

/// A copy of a request, kept only when it may have to be sent again after a failure.
fn copy(r: &Req) -> Req {
    let mut c = Request::new(r.body().clone());
    *c.method_mut() = r.method().clone();
    *c.uri_mut() = r.uri().clone();
    *c.headers_mut() = r.headers().clone();
    c
}

enum Attempt {
    Answered(Response<Incoming>),
    /// Nothing reached the server: safe to try another one, with the request given back.
    NotSent(Req),
    /// Sent, then failed: only idempotent requests may be retried.
    Failed,
    TimedOut,
}

/// One try on server `b`, over a new connection: this path carries the rare requests the
/// fast path leaves to it, so it keeps no idle connections of its own.
async fn attempt(lb: &Lb, b: &Arc<Backend>, req: Req) -> Attempt {
    let (connect_timeout, server_timeout) = lb.pool.load().cfg.backend.timeouts();
    let Some(mut sender) = connect(b, connect_timeout).await else {
        health::connect_failed(b);
        b.stats.error();
        return Attempt::NotSent(req);
    };
    b.stats.sent();
    let t0 = Instant::now();
    let result = tokio::time::timeout(server_timeout, sender.try_send_request(req)).await;
    b.stats.done();
    let outcome = match result {
        Err(_) => Attempt::TimedOut,
        Ok(Ok(resp)) => {
            b.stats.answered(t0.elapsed());
            return Attempt::Answered(resp);
        }
        Ok(Err(mut e)) => match e.take_message() {
            Some(unsent) => Attempt::NotSent(unsent),
            None => Attempt::Failed,
        },
    };
    b.stats.error();
    outcome
}

async fn handle(
    lb: &'static Lb,
    peer: SocketAddr,
    secure: &crate::fast::Secure,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if req.uri().path() == MONITOR_URI {
        return Ok(full(StatusCode::OK, "text/plain", "Service ready.\n"));
    }
    if req.uri().path() == crate::metrics::METRICS_URI {
        let text = crate::metrics::render(lb);
        return Ok(full(StatusCode::OK, crate::metrics::CONTENT_TYPE, text));
    }
    let (max_body, retries) = {
        let pool = lb.pool.load();
        (pool.cfg.frontend.max_body_size, pool.cfg.backend.retries)
    };
    let (parts, body) = req.into_parts();
    // Buffered, so that the request can be sent again to another server.
    let body = match if hyper::body::Body::is_end_stream(&body) {
        // No body (most GETs): nothing to read.
        Ok(Bytes::new())
    } else {
        Limited::new(body, max_body)
            .collect()
            .await
            .map(|c| c.to_bytes())
    } {
        Ok(b) => b,
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Ok(zato_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "The request body is larger than the load balancer's frontend.max_body_size ({max_body} bytes)"
                ),
            ));
        }
        Err(_) => {
            return Ok(zato_error(
                StatusCode::BAD_REQUEST,
                "The request body could not be read",
            ));
        }
    };
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    let forged: Vec<HeaderName> = headers
        .keys()
        .filter(|n| crate::fast::Secure::is_ours(n.as_str()))
        .cloned()
        .collect();
    for n in forged {
        headers.remove(n);
    }
    for (name, value) in secure.headers() {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    // The body is buffered now, so it goes with a Content-Length whatever framing it came in.
    if !body.is_empty() || headers.contains_key(header::CONTENT_LENGTH) {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let ip = peer.ip().to_string();
    let xff = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {ip}"),
        None => ip,
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), v);
    }
    let retry_after_send = idempotent(&parts.method);
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = parts.method;
    *req.uri_mut() = parts.uri;
    *req.headers_mut() = headers;
    // A guard, not a clone: no shared reference count is touched per request.
    let pool = lb.pool.load();
    let may_resend = retry_after_send && retries > 0 && pool.backends.len() > 1;
    let mut tried = Vec::new();
    let mut sent_and_failed = false;
    // Connect failures move on to the next server as long as there is one; `retries` bounds
    // only the tries after a request was sent and failed.
    let mut retries_left = retries;
    let mut next = Some(req);
    while let Some(i) = pool.pick(&tried) {
        let b = &pool.backends[i];
        tried.push(i);
        let Some(req) = next.take() else {
            break;
        };
        // Once sent, a request is gone; a copy is kept only when it may go again.
        let spare = may_resend.then(|| copy(&req));
        match attempt(lb, b, req).await {
            Attempt::Answered(resp) => {
                let (mut parts, body) = resp.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                return Ok(Response::from_parts(parts, body.boxed_unsync()));
            }
            Attempt::NotSent(unsent) => next = Some(unsent),
            Attempt::TimedOut => {
                return Ok(zato_error(
                    StatusCode::GATEWAY_TIMEOUT,
                    &format!("Server {} did not answer in time", b.name),
                ));
            }
            Attempt::Failed => {
                sent_and_failed = true;
                if !retry_after_send || retries_left == 0 {
                    break;
                }
                retries_left -= 1;
                next = spare;
            }
        }
    }
    if sent_and_failed {
        return Ok(zato_error(
            StatusCode::BAD_GATEWAY,
            "The server closed the connection before answering",
        ));
    }
    lb.no_server.fetch_add(1, Relaxed);
    Ok(zato_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "No server is available to handle the request",
    ))
}

/// Serves clients until `shutdown` turns true, then lets open requests finish (up to 10 s).
/// Each connection starts on the fast path (fast.rs), which hands it to hyper when needed;
/// with `tls`, after a handshake that must end within the client timeout.
pub async fn serve(
    lb: &'static Lb,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let configured = lb.pool.load().cfg.frontend.max_connections;
    // Each client connection holds a second descriptor: its connection to a server.
    let fd_limit = zato_common::net::raise_fd_limit();
    let max_conns = zato_common::net::fit_connections(configured, fd_limit, 2);
    if max_conns < configured {
        tracing::warn!(
            "frontend.max_connections lowered from {configured} to {max_conns} to fit the open-file limit ({})",
            fd_limit.unwrap_or(0)
        );
    }
    let limit = Arc::new(Semaphore::new(max_conns));
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(zato_common::net::ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let stop = shutdown.clone();
        let open = open.clone();
        open.fetch_add(1, Relaxed);
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => crate::fast::connection(lb, stream, peer, stop, Default::default()).await,
                Some(acceptor) => {
                    let timeout =
                        Duration::from_secs_f64(lb.pool.load().cfg.frontend.client_timeout);
                    if let Ok(Ok(s)) = tokio::time::timeout(timeout, acceptor.accept(stream)).await
                    {
                        let client_subject = s
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .and_then(|c| zato_ca::subject(c))
                            .map(Arc::from);
                        let secure = crate::fast::Secure {
                            tls: true,
                            client_subject,
                        };
                        crate::fast::connection(lb, s, peer, stop, secure).await;
                    }
                }
            }
            open.fetch_sub(1, Relaxed);
            drop(permit);
        });
    }
    // Open connections finish their current request (at most 10 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    while open.load(Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The general path for one client connection: hyper's HTTP/1 server, for what the fast path
/// leaves to it (HTTP/1.0, chunked request bodies, Upgrade, Expect, ...).
pub async fn serve_hyper<T>(
    lb: &'static Lb,
    io: T,
    peer: SocketAddr,
    client_timeout: Duration,
    secure: crate::fast::Secure,
) where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let secure = Arc::new(secure);
    let svc = hyper::service::service_fn(move |req| {
        let secure = secure.clone();
        async move { handle(lb, peer, &secure, req).await }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(client_timeout)
        .serve_connection(TokioIo::new(io), svc)
        .await;
}
