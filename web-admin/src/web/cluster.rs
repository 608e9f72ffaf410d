//! The cluster overview: its servers (as the ODB records them, and what each says of itself)
//! and the load balancer (servers with weight, state and traffic; add, remove, drain,
//! maintenance; its configuration in HAProxy's format), the latter through the agent.
use std::time::Duration;

use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::render::{back, page};
use super::{App, Sess, Shared};

/// How long a server may take to say what it is before it is shown as not answering.
const SERVER_INFO_WAIT: Duration = Duration::from_secs(2);

/// Where the web admin reaches a server: its bind address, or the host it runs on when it
/// binds every address.
fn address_of(row: &Value) -> Option<String> {
    let bind_host = row.get("bind_host").and_then(Value::as_str).unwrap_or("");
    let host = match bind_host {
        "" | "0.0.0.0" | "::" | "[::]" => row.get("host").and_then(Value::as_str).unwrap_or(""),
        h => h,
    };
    let port = row.get("bind_port").and_then(Value::as_i64)?;
    Some(zato_common::locate::bind_address(host, &port.to_string()))
}

/// The cluster's servers, each with what it answered about itself (or why not).
pub async fn servers(app: &App) -> Result<Vec<Value>, String> {
    let rows = app
        .backend
        .list("zato.server.get-list", json!({}))
        .await
        .map_err(|e| e.message())?;
    let asks = rows.into_iter().map(|row| async move {
        let address = address_of(&row);
        let info = match &address {
            Some(a) => match tokio::time::timeout(
                SERVER_INFO_WAIT,
                app.backend
                    .call_server(a, "zato.info.get-server-info", json!({})),
            )
            .await
            {
                Ok(Ok(info)) => json!({"ok": true, "info": info}),
                Ok(Err(e)) => json!({"ok": false, "why": e.message()}),
                Err(_) => json!({"ok": false, "why": "no answer within 2 s"}),
            },
            None => json!({"ok": false, "why": "no address recorded"}),
        };
        json!({"row": row, "address": address, "state": info})
    });
    Ok(futures_util::future::join_all(asks).await)
}

async fn render(app: &Shared, sess: &Sess) -> Response {
    let (servers, servers_error) = match servers(app).await {
        Ok(s) => (s, None),
        Err(e) => (vec![], Some(e)),
    };
    let (lb, lb_error, haproxy) = if app.backend.has_agent() {
        let stats = app.backend.agent(Method::GET, "/stats", None).await;
        let cfg = app.backend.agent(Method::GET, "/config", None).await;
        let haproxy = cfg.ok().and_then(|c| {
            serde_json::from_value::<zato_lb::config::LbConfig>(c)
                .ok()
                .map(|c| {
                    // The web admin does not see the load balancer's directory: TLS files
                    // are named as they lie in a quickstart cluster's.
                    zato_lb::haproxy::export(
                        &c,
                        None,
                        std::path::Path::new("load-balancer/config/repo"),
                    )
                })
        });
        match stats {
            Ok(s) => (Some(s), None, haproxy),
            Err(e) => (None, Some(e.message()), haproxy),
        }
    } else {
        (
            None,
            Some("Not configured: add [lb_agent] to web-admin.conf.".to_string()),
            None,
        )
    };
    page(
        app,
        Some(sess),
        StatusCode::OK,
        "cluster.html",
        json!({
            "title": "Cluster", "servers": servers, "servers_error": servers_error,
            "lb": lb, "lb_error": lb_error, "haproxy": haproxy,
        }),
    )
}

pub async fn page_get(State(app): State<Shared>, Extension(sess): Extension<Sess>) -> Response {
    render(&app, &sess).await
}

#[derive(serde::Deserialize)]
pub struct LbForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    weight: String,
    #[serde(default)]
    state: String,
}

/// `add`, `remove`, `weight` (0 drains), `state` (maint / ready).
pub async fn lb_action(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Path(action): Path<String>,
    Form(form): Form<LbForm>,
) -> Response {
    let name = form.name.trim();
    let seg: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    let weight = || {
        form.weight.trim().parse::<u32>().map_err(|_| {
            format!(
                "The weight must be a whole number from 0 up, not `{}`.",
                form.weight
            )
        })
    };
    let call = match action.as_str() {
        "add" => weight().map(|w| {
            (
                Method::POST,
                "/servers".to_string(),
                Some(json!({"name": name, "address": form.address.trim(), "weight": w})),
                format!("Added {name}."),
            )
        }),
        "remove" => Ok((
            Method::DELETE,
            format!("/servers/{seg}"),
            None,
            format!("Removed {name}."),
        )),
        "weight" => weight().map(|w| {
            let what = if w == 0 {
                format!("{name} drained: no new requests go to it.")
            } else {
                format!("{name}'s weight is {w}.")
            };
            (
                Method::PUT,
                format!("/servers/{seg}/weight"),
                Some(json!({"weight": w})),
                what,
            )
        }),
        "state" => Ok((
            Method::PUT,
            format!("/servers/{seg}/state"),
            Some(json!({"state": form.state})),
            format!("{name} is {}.", form.state.to_uppercase()),
        )),
        other => Err(format!("There is no load balancer action `{other}`.")),
    };
    let (method, path, body, done) = match call {
        Ok(c) => c,
        Err(e) => return back(&app, &sess, "/cluster", false, &e),
    };
    match app.backend.agent(method, &path, body).await {
        Ok(_) => back(&app, &sess, "/cluster", true, &done),
        Err(e) => back(&app, &sess, "/cluster", false, &e.message()),
    }
}
