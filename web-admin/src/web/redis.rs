//! The Redis console: one command line at a time on the cluster's Redis, through
//! `zato.kvdb.remote-command.execute`, the reply as redis-cli shows it.
use axum::Extension;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::render::page;
use super::{App, Sess, Shared};

/// The cluster's Redis connection as the servers describe it (None: none configured).
async fn connection(app: &App) -> Result<Option<Value>, String> {
    let rows = app
        .backend
        .list("zato.outgoing.redis.get-list", json!({}))
        .await
        .map_err(|e| e.message())?;
    Ok(rows
        .into_iter()
        .find(|r| r.get("is_active").and_then(Value::as_bool) == Some(true)))
}

async fn render(app: &App, sess: &Sess, status: StatusCode, extra: Value) -> Response {
    let mut ctx = json!({"title": "Redis console", "command": ""});
    match connection(app).await {
        Ok(conn) => ctx["redis"] = json!(conn),
        Err(e) => ctx["error"] = json!(e),
    }
    if let (Value::Object(m), Value::Object(e)) = (&mut ctx, extra) {
        m.extend(e);
    }
    page(app, Some(sess), status, "redis.html", ctx)
}

pub async fn page_get(State(app): State<Shared>, Extension(sess): Extension<Sess>) -> Response {
    render(&app, &sess, StatusCode::OK, json!({})).await
}

#[derive(Deserialize)]
pub struct CommandForm {
    #[serde(default)]
    command: String,
}

pub async fn run(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Form(form): Form<CommandForm>,
) -> Response {
    let answer = app
        .backend
        .call(
            "zato.kvdb.remote-command.execute",
            json!({"command": form.command}),
        )
        .await;
    let (status, extra) = match answer {
        Ok(v) => (
            StatusCode::OK,
            json!({"command": form.command, "result": v.get("result").and_then(Value::as_str).unwrap_or("")}),
        ),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"command": form.command, "command_error": e.message()}),
        ),
    };
    render(&app, &sess, status, extra).await
}
