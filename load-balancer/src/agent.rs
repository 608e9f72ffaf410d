//! The agent API (HTTPS with client certificates from the cluster's CA; JSON): configuration,
//! servers (add, remove, rename, weight, maintenance), their state and statistics, uptime and
//! version. Every change is validated, saved to `lb.conf` and applied without a restart.
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::{ConfigError, LbConfig, Server};
use crate::state::Lb;

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// A refused call: its status and JSON body.
struct ApiError {
    status: StatusCode,
    body: Value,
}

fn bad(status: StatusCode, msg: impl Into<String>) -> ApiError {
    ApiError {
        status,
        body: json!({"error": msg.into()}),
    }
}

fn config_error(e: ConfigError) -> ApiError {
    match e {
        ConfigError::Invalid(errors) => ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({"error": "invalid configuration", "errors": errors}),
        },
        other => bad(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

fn field<'a>(body: &'a Value, name: &str) -> Result<&'a Value, ApiError> {
    body.get(name)
        .ok_or_else(|| bad(StatusCode::BAD_REQUEST, format!("`{name}` is missing")))
}

fn text(body: &Value, name: &str) -> Result<String, ApiError> {
    field(body, name)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| {
            bad(
                StatusCode::BAD_REQUEST,
                format!("`{name}` must be a string"),
            )
        })
}

fn weight(body: &Value) -> Result<u32, ApiError> {
    match body.get("weight") {
        None => Ok(1),
        Some(v) => v
            .as_u64()
            .and_then(|w| u32::try_from(w).ok())
            .filter(|w| *w <= 256)
            .ok_or_else(|| {
                bad(
                    StatusCode::BAD_REQUEST,
                    "`weight` must be a whole number from 0 to 256",
                )
            }),
    }
}

/// Applies `change` to a copy of the configuration, then validates, saves and applies it.
async fn change(
    lb: &Lb,
    change: impl FnOnce(&mut LbConfig) -> Result<(), ApiError>,
) -> Result<Reply, ApiError> {
    let _guard = lb.changes.lock().await;
    let mut cfg = lb.config();
    change(&mut cfg)?;
    lb.apply(cfg).map_err(config_error)?;
    Ok(reply(StatusCode::OK, servers(lb)))
}

fn servers(lb: &Lb) -> Value {
    json!(lb.pool.load().states())
}

fn find<'a>(cfg: &'a mut LbConfig, name: &str) -> Result<&'a mut Server, ApiError> {
    cfg.servers
        .iter_mut()
        .find(|s| s.name == name)
        .ok_or_else(|| bad(StatusCode::NOT_FOUND, format!("no server named `{name}`")))
}

async fn route(lb: &Lb, method: &Method, path: &str, body: Value) -> Result<Reply, ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segs.as_slice()) {
        (&Method::GET, ["version"]) => Ok(reply(
            StatusCode::OK,
            json!({"version": env!("CARGO_PKG_VERSION")}),
        )),
        (&Method::GET, ["uptime"]) => {
            let up = lb.started.elapsed();
            Ok(reply(
                StatusCode::OK,
                json!({"uptime_seconds": up.as_secs_f64()}),
            ))
        }
        (&Method::GET, ["config"]) => Ok(reply(StatusCode::OK, json!(lb.config()))),
        (&Method::POST, ["config", "validate"]) => {
            let cfg: LbConfig = serde_json::from_value(body)
                .map_err(|e| bad(StatusCode::BAD_REQUEST, e.to_string()))?;
            cfg.validate().map_err(config_error)?;
            Ok(reply(StatusCode::OK, json!({"ok": true})))
        }
        (&Method::PUT, ["config"]) => {
            let new: LbConfig = serde_json::from_value(body)
                .map_err(|e| bad(StatusCode::BAD_REQUEST, e.to_string()))?;
            change(lb, |cfg| {
                *cfg = new;
                Ok(())
            })
            .await
        }
        (&Method::GET, ["servers"]) => Ok(reply(StatusCode::OK, servers(lb))),
        (&Method::GET, ["metrics"]) => {
            let mut r = Response::new(Full::new(Bytes::from(crate::metrics::render(lb))));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
            );
            Ok(r)
        }
        (&Method::GET, ["stats"]) => Ok(reply(
            StatusCode::OK,
            json!({
                "uptime_seconds": lb.started.elapsed().as_secs_f64(),
                "no_server_available": lb.no_server.load(Relaxed),
                "servers": servers(lb),
            }),
        )),
        (&Method::POST, ["servers"]) => {
            let server = Server {
                name: text(&body, "name")?,
                address: text(&body, "address")?,
                weight: weight(&body)?,
                maintenance: false,
            };
            change(lb, |cfg| {
                if cfg.servers.iter().any(|s| s.name == server.name) {
                    return Err(bad(
                        StatusCode::CONFLICT,
                        format!("a server named `{}` already exists", server.name),
                    ));
                }
                cfg.servers.push(server);
                Ok(())
            })
            .await
        }
        (&Method::DELETE, ["servers", name]) => {
            change(lb, |cfg| {
                find(cfg, name)?;
                cfg.servers.retain(|s| s.name != *name);
                Ok(())
            })
            .await
        }
        (&Method::POST, ["servers", name, "rename"]) => {
            let new_name = text(&body, "new_name")?;
            change(lb, |cfg| {
                if cfg.servers.iter().any(|s| s.name == new_name) {
                    return Err(bad(
                        StatusCode::CONFLICT,
                        format!("a server named `{new_name}` already exists"),
                    ));
                }
                find(cfg, name)?.name = new_name;
                Ok(())
            })
            .await
        }
        (&Method::PUT, ["servers", name, "weight"]) => {
            field(&body, "weight")?;
            let w = weight(&body)?;
            change(lb, |cfg| {
                find(cfg, name)?.weight = w;
                Ok(())
            })
            .await
        }
        (&Method::PUT, ["servers", name, "state"]) => {
            let maintenance = match text(&body, "state")?.to_ascii_lowercase().as_str() {
                "maint" | "maintenance" => true,
                "ready" | "up" => false,
                other => {
                    return Err(bad(
                        StatusCode::BAD_REQUEST,
                        format!("`state` must be MAINT or READY, not `{other}`"),
                    ));
                }
            };
            change(lb, |cfg| {
                find(cfg, name)?.maintenance = maintenance;
                Ok(())
            })
            .await
        }
        _ => Err(bad(
            StatusCode::NOT_FOUND,
            format!("no such agent call: {method} {path}"),
        )),
    }
}

async fn handle(lb: &'static Lb, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let result = async {
        let bytes = Limited::new(req.into_body(), 1024 * 1024)
            .collect()
            .await
            .map_err(|_| bad(StatusCode::BAD_REQUEST, "unreadable or too large body"))?
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| bad(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}")))?
        };
        route(lb, &method, &path, body).await
    }
    .await;
    Ok(result.unwrap_or_else(|e| reply(e.status, e.body)))
}

/// How long a client has for its TLS handshake; a silent one would hold a task forever.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Agent clients are the CLI and the web admin: a few at a time.
const MAX_AGENT_CONNECTIONS: usize = 64;

/// Whether a client may use the agent: its certificate (already checked to be from the
/// cluster's CA) must have been issued for the agent or for the web admin, not for a server
/// or a scheduler, which have no business reconfiguring the load balancer.
fn allowed(tls: &tokio_rustls::server::TlsStream<tokio::net::TcpStream>) -> bool {
    tls.get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| zato_ca::purpose_of(c))
        .is_some_and(|p| matches!(p, zato_ca::Purpose::LbAgent | zato_ca::Purpose::WebAdmin))
}

/// Serves the agent API until `shutdown` turns true.
pub async fn serve(
    lb: &'static Lb,
    listener: TcpListener,
    tls: rustls::ServerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_AGENT_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("agent accept failed: {e}");
                    tokio::time::sleep(zato_common::net::ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            // Clients without a certificate from the cluster's CA fail here, in the handshake.
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::warn!("agent: TLS handshake with {peer} refused: {e}");
                    return;
                }
                Err(_) => {
                    tracing::warn!("agent: no TLS handshake from {peer} within 10 s");
                    return;
                }
            };
            let may = allowed(&tls);
            if !may {
                tracing::warn!(
                    "agent: {peer}'s certificate was not issued for the agent or the web admin; refusing its calls"
                );
            }
            let svc = hyper::service::service_fn(move |req| async move {
                if may {
                    handle(lb, req).await
                } else {
                    Ok(reply(
                        StatusCode::FORBIDDEN,
                        json!({"error": "the client certificate was not issued for the load balancer's agent or the web admin (zato ca create lb_agent)"}),
                    ))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT)
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        });
    }
}
