//! The HTTP front: accept, match a channel, check security, read the body within the limit,
//! then hand over to admin invoke, the public service invoker or a plain channel.
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::core::{Call, Origin};
use crate::invoke::invoke;
use crate::objects::routes::{Channel, Match};
use crate::proto::codec;
use crate::state::ServerState;
use respond::Resp;

pub mod admin;
pub mod auth;
pub mod metrics;
pub mod respond;
pub mod watchdog;

pub const ADMIN_INVOKE_SERVICE: &str = "zato.service.invoke";
pub const SERVICE_INVOKER: &str = "pub.zato.service.service-invoker";
/// The body limit of internal channels without security.
pub const UNAUTHENTICATED_BODY_LIMIT: usize = 64 * 1024;

/// Serves until `shutdown` turns true, then lets open connections finish their requests.
/// At most `[main] max_connections` clients (fitted to the file limit) are served at once;
/// the rest wait in the kernel's backlog. A head must come within `header_read_timeout`
/// (`watchdog.rs`), which is also how long an idle kept-alive connection stays.
pub async fn serve(
    state: Arc<ServerState>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let main = &state.cfg.main;
    let fd_limit = zato_common::net::raise_fd_limit();
    let max_conns = zato_common::net::fit_connections(main.max_connections, fd_limit, 1);
    if max_conns < main.max_connections {
        tracing::warn!(
            "[main] max_connections lowered from {} to {max_conns} to fit the open-file limit ({})",
            main.max_connections,
            fd_limit.unwrap_or(0)
        );
    }
    let limit = Arc::new(tokio::sync::Semaphore::new(max_conns));
    let watchdog =
        watchdog::Watchdog::start(std::time::Duration::from_secs_f64(main.header_read_timeout));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.changed() => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(zato_common::net::ACCEPT_ERROR_PAUSE).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let st = state.clone();
                let peer = peer.ip();
                let watch = watchdog.conn();
                let conn_watch = watch.clone();
                let svc = service_fn(move |req| {
                    let st = st.clone();
                    let busy = conn_watch.busy();
                    async move {
                        let resp = handle(st, req, peer).await;
                        drop(busy);
                        Ok::<_, Infallible>(resp)
                    }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc);
                let conn = graceful.watch(conn);
                let task = tokio::spawn(async move {
                    let _ = conn.await;
                    drop(permit);
                });
                watchdog.register(&watch, task.abort_handle());
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still busy after 5 s and were closed");
    }
}

/// How much of a refused body is still read (for at most a second) before the 413 goes out:
/// closing on unread bytes resets the connection, and the client would never see the 413.
const DRAIN_MAX: usize = 256 * 1024;

enum BodyError {
    TooBig,
    Read(hyper::Error),
}

/// The body's bytes, or TooBig as soon as they pass `limit`. A body that comes in one frame
/// (the usual case) is not copied.
async fn collect_limited(body: &mut Incoming, limit: usize) -> Result<Bytes, BodyError> {
    let mut first: Option<Bytes> = None;
    let mut more = bytes::BytesMut::new();
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        if let Ok(data) = frame.into_data() {
            len += data.len();
            if len > limit {
                return Err(BodyError::TooBig);
            }
            match first.take() {
                None if more.is_empty() => first = Some(data),
                Some(f) => {
                    more.extend_from_slice(&f);
                    more.extend_from_slice(&data);
                }
                None => more.extend_from_slice(&data),
            }
        }
    }
    Ok(first.unwrap_or_else(|| more.freeze()))
}

/// Reads and drops up to DRAIN_MAX more bytes of a refused body, for at most a second.
async fn drain(body: &mut Incoming) {
    let work = async {
        let mut seen = 0usize;
        while seen < DRAIN_MAX {
            match body.frame().await {
                Some(Ok(f)) => seen += f.data_ref().map_or(0, |d| d.len()),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), work).await;
}

/// Reads the body, refusing more than `limit` bytes with 413 and one slower than `deadline`
/// with 408.
async fn read_body(
    mut body: Incoming,
    headers: &HeaderMap,
    limit: usize,
    deadline: std::time::Duration,
    cid: &str,
) -> Result<Bytes, Box<Resp>> {
    let too_big = || {
        Box::new(respond::error_json(
            413,
            cid,
            &format!(
                "The request body is larger than the limit of {limit} bytes for this channel ([main] max_request_size; 64 KiB on internal channels without security)"
            ),
        ))
    };
    let declared = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        drain(&mut body).await;
        return Err(too_big());
    }
    // No body (most GETs): nothing to wait for, no timer to arm.
    if hyper::body::Body::is_end_stream(&body) {
        return Ok(Bytes::new());
    }
    // A small body is usually all there already: the timer is armed only when it is not.
    let read = {
        let mut read = std::pin::pin!(collect_limited(&mut body, limit));
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(read.as_mut().poll(cx))).await;
        match first {
            std::task::Poll::Ready(r) => r,
            std::task::Poll::Pending => match tokio::time::timeout(deadline, read).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(Box::new(respond::error_json(
                        408,
                        cid,
                        &format!(
                            "The request body did not arrive within {} s ([main] body_read_timeout)",
                            deadline.as_secs_f64()
                        ),
                    )));
                }
            },
        }
    };
    match read {
        Ok(b) => Ok(b),
        Err(BodyError::TooBig) => {
            drain(&mut body).await;
            Err(too_big())
        }
        Err(BodyError::Read(e)) => Err(Box::new(respond::error_json(
            400,
            cid,
            &format!("Cannot read the request body: {e}"),
        ))),
    }
}

pub async fn handle(
    state: Arc<ServerState>,
    req: Request<Incoming>,
    peer: std::net::IpAddr,
) -> Resp {
    let cid = zato_common::new_cid();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let method = parts.method.as_str();
    if path == metrics::PATH && state.cfg.stats.metrics {
        return match method {
            "GET" => metrics::serve(&state, &cid).await,
            _ => respond::error_json(
                405,
                &cid,
                &format!("Method `{method}` is not allowed for `{path}`; use GET"),
            ),
        };
    }
    let found = state.tables.channels.load().find(method, path);
    let (ch, params) = match found {
        Match::Found(ch, params) => (ch, params),
        Match::WrongMethod => {
            return respond::error_json(
                405,
                &cid,
                &format!("Method `{method}` is not allowed for `{path}`"),
            );
        }
        Match::None => return respond::url_not_found(&cid),
    };
    if let Err(resp) = auth::check(&state, &ch, &parts.headers, &cid) {
        return *resp;
    }
    let main = &state.cfg.main;
    let deadline = std::time::Duration::from_secs_f64(main.body_read_timeout);
    // Internal channels anyone may call (ping, JWT log-in/out) take small bodies only: a
    // stranger must not make the server buffer megabytes for nothing.
    let limit = if ch.is_internal && ch.security.is_none() {
        main.max_request_size.min(UNAUTHENTICATED_BODY_LIMIT)
    } else {
        main.max_request_size
    };
    let body = match read_body(body, &parts.headers, limit, deadline, &cid).await {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    if let Err(resp) = auth::check_body(&state, &ch, &body, &cid).await {
        return *resp;
    }
    let query = parts.uri.query().unwrap_or("");
    match ch.service.as_deref() {
        Some(ADMIN_INVOKE_SERVICE) => admin::admin_invoke(&state, &cid, &body).await,
        Some(SERVICE_INVOKER) => {
            admin::service_invoker(&state, &cid, &ch, method, &params, query, &body).await
        }
        Some(service) => {
            let http = HttpInfo {
                method,
                path,
                params: &params,
                query,
                headers: &parts.headers,
                client: crate::core::Client {
                    peer,
                    forwarded_for: parts.headers.get("x-forwarded-for").cloned(),
                },
            };
            run_channel(&state, &cid, &ch, service, &http, &body).await
        }
        None => respond::error(
            None,
            500,
            &cid,
            &format!("Channel `{}` has no service", ch.name),
        ),
    }
}

/// The HTTP facts a service sees as `self.request.http`.
pub struct HttpInfo<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub params: &'a [(String, String)],
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub client: crate::core::Client,
}

pub fn query_map(query: &str) -> Map<String, Value> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

impl HttpInfo<'_> {
    fn to_req(&self, post: Vec<(String, String)>) -> crate::core::HttpReq {
        crate::core::HttpReq {
            method: self.method.to_string(),
            path: self.path.to_string(),
            params: self.params.to_vec(),
            query: self.query.to_string(),
            post,
            headers: self
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
        }
    }
}

/// A REST/SOAP/plain channel in front of a service.
async fn run_channel(
    state: &Arc<ServerState>,
    cid: &str,
    ch: &Channel,
    service: &str,
    http: &HttpInfo<'_>,
    body: &Bytes,
) -> Resp {
    let soap_guess = (ch.data_format == "soap" || ch.transport == "soap")
        .then_some(crate::proto::soap::SoapVersion::V11);
    let format = if ch.transport == "soap" {
        "soap"
    } else {
        ch.data_format.as_str()
    };
    let decoded = match codec::decode(format, body) {
        Ok(d) => d,
        Err(e) => {
            return respond::error(
                soap_guess,
                respond::status(e.kind),
                cid,
                &format!("{} (CID {cid})", e.message),
            );
        }
    };
    if let (Some(expected), true) = (&ch.soap_action, decoded.soap.is_some()) {
        let given = http
            .headers
            .get("soapaction")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_matches('"'))
            .unwrap_or("");
        if given != expected {
            return respond::error(
                decoded.soap,
                400,
                cid,
                &format!("Unexpected SOAPAction `{given}`, expected `{expected}`"),
            );
        }
    }
    // Built-ins see only the payload; the channel and HTTP details are for Python services.
    let for_python = !state.builtins.contains_key(service);
    let post = match (&decoded.payload, format) {
        (Value::Object(m), "form") => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect(),
        _ => Vec::new(),
    };
    let call = Call {
        name: service.to_string(),
        cid: cid.to_string(),
        payload: decoded.payload,
        raw_request: decoded.raw,
        data_format: format.to_string(),
        channel: ch.info(),
        origin: Origin::Http {
            req: for_python.then(|| http.to_req(post)),
            client: Some(http.client.clone()),
        },
        environ: Value::Null,
    };
    match invoke(state, call).await {
        Ok(mut out) => {
            // Internal services on internal channels answer as upstream's AdminService does:
            // their fields plus `zato_env` (e.g. `GET /zato/ping`).
            if ch.is_internal
                && service.starts_with("zato.")
                && let crate::core::Body::Json(v @ Value::Object(_)) = &out.body
            {
                out.body = crate::core::Body::Bytes(with_zato_env(v, cid));
            }
            respond::encode(format, decoded.soap, ch.content_type.as_deref(), out, cid)
        }
        Err(e) => {
            let mut details = error_details(state, cid, service, &e);
            // Internal errors (the ODB's text among them) are for the log, not for strangers.
            if ch.is_internal && ch.security.is_none() && respond::status(e.kind) >= 500 {
                details = format!("{} (CID {cid})", state.cfg.misc.default_error_message);
            }
            let mut resp = respond::error(decoded.soap, respond::status(e.kind), cid, &details);
            for (k, v) in &e.headers {
                respond::add_header(&mut resp, k, v);
            }
            resp
        }
    }
}

/// `{..fields, "zato_env": {...}}` serialised directly, without rebuilding the object.
fn with_zato_env(v: &Value, cid: &str) -> Vec<u8> {
    let mut out = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec());
    out.pop(); // the closing brace of a serialised object
    if out.len() > 1 {
        out.push(b',');
    }
    out.extend_from_slice(b"\"zato_env\":{\"result\":\"ZATO_OK\",\"cid\":\"");
    out.extend_from_slice(cid.as_bytes());
    out.extend_from_slice(b"\",\"details\":\"\"}}");
    out
}

/// Logs a failed invocation and returns what the caller is told.
pub fn error_details(
    state: &ServerState,
    cid: &str,
    service: &str,
    e: &crate::core::ServiceError,
) -> String {
    if respond::status(e.kind) >= 500 {
        tracing::error!(
            cid,
            service,
            status = respond::status(e.kind),
            "{}",
            e.message
        );
    } else {
        tracing::info!(
            cid,
            service,
            status = respond::status(e.kind),
            "{}",
            e.message
        );
    }
    match &e.traceback {
        Some(tb) => {
            tracing::error!(cid, service, "{tb}");
            if state.cfg.misc.return_tracebacks {
                format!("{}\n\n{tb}", e.message)
            } else {
                format!("{} (CID {cid})", state.cfg.misc.default_error_message)
            }
        }
        None => e.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    #[test]
    fn zato_env_is_appended() {
        let out: Value =
            serde_json::from_slice(&super::with_zato_env(&json!({"pong": "zato"}), "c1")).unwrap();
        assert_eq!(
            out,
            json!({"pong": "zato", "zato_env": {"result": "ZATO_OK", "cid": "c1", "details": ""}})
        );
        let out: Value = serde_json::from_slice(&super::with_zato_env(&json!({}), "c2")).unwrap();
        assert_eq!(
            out,
            json!({"zato_env": {"result": "ZATO_OK", "cid": "c2", "details": ""}})
        );
    }
}
