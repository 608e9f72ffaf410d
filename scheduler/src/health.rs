//! `GET /zato/ping` on the scheduler's port: `{"pong": "zato", "state": "active"|"standby"}`,
//! what `zato start` waits for and what operators ask.
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Whether this scheduler holds the lease (fires jobs).
#[derive(Default)]
pub struct State {
    pub active: AtomicBool,
}

fn answer(state: &State, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, body) = if req.uri().path() == "/zato/ping" {
        let s = if state.active.load(Ordering::Relaxed) {
            "active"
        } else {
            "standby"
        };
        (
            StatusCode::OK,
            serde_json::json!({"pong": "zato", "state": s}).to_string(),
        )
    } else {
        (
            StatusCode::NOT_FOUND,
            r#"{"error":"not found"}"#.to_string(),
        )
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Serves until the runtime stops; a connection that fails only ends itself.
pub async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let resp = answer(&state, &req);
                async move { Ok::<_, Infallible>(resp) }
            });
            let conn = http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc);
            let _ = conn.await;
        });
    }
}
