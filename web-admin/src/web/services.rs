//! Services: the list (search, internal ones hidden unless asked for, paging, usage and mean
//! time of the last 24 hours with a chart), one service's page (where it is exposed, whether
//! each server has it, its source highlighted, the invoker, sampled and slow calls), and the
//! upload of a `.py` file that hot-deploys it.
use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::crud::ListQuery;
use super::render::{back, page, problem};
use super::{App, Sess, Shared};

/// Usage and mean time per service over the last day.
async fn day_stats(app: &App) -> HashMap<String, Value> {
    let now = chrono::Utc::now().naive_utc();
    let input = json!({
        "start": super::stats::text(now - chrono::Duration::days(1)),
        "stop": super::stats::text(now + chrono::Duration::minutes(1)),
    });
    match app
        .backend
        .list("zato.service.get-stats-table", input)
        .await
    {
        Ok(rows) => rows
            .into_iter()
            .filter_map(|r| Some((r.get("name")?.as_str()?.to_string(), r)))
            .collect(),
        Err(e) => {
            tracing::warn!("no statistics for the services page: {}", e.message());
            HashMap::new()
        }
    }
}

/// A horizontal bar chart of `(label, value)` as SVG data for the template.
fn bars(items: &[(String, f64)]) -> Value {
    let max = items.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let rows: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, (label, v))| {
            let width = if max > 0.0 {
                (v / max * 300.0).round()
            } else {
                0.0
            };
            json!({"y": i * 22, "width": width, "label": label, "value": v})
        })
        .collect();
    json!({"rows": rows, "height": items.len() * 22})
}

pub async fn list(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Query(q): Query<ListQuery>,
) -> Response {
    let (rows, list_error) = match app
        .backend
        .list("zato.service.get-list", json!({"query": q.q}))
        .await
    {
        Ok(r) => (r, None),
        Err(e) => (vec![], Some(e.message())),
    };
    let with_internal = q.with_internal();
    let matching: Vec<Value> = rows
        .into_iter()
        .filter(|r| with_internal || r.get("is_internal").and_then(Value::as_bool) != Some(true))
        .collect();
    let (on_page, current, pages) = q.page_of(&matching);
    let stats = day_stats(&app).await;
    let shown: Vec<Value> = on_page
        .iter()
        .map(|r| {
            let name = r.get("name").and_then(Value::as_str).unwrap_or("");
            let s = stats.get(name);
            json!({
                "row": r, "name": name,
                "usage": s.and_then(|s| s.get("item_total_usage")).cloned(),
                "mean": s.and_then(|s| s.get("item_mean")).cloned(),
            })
        })
        .collect();
    let mut top: Vec<(String, f64)> = shown
        .iter()
        .filter_map(|r| Some((r["name"].as_str()?.to_string(), r["usage"].as_f64()?)))
        .filter(|(_, u)| *u > 0.0)
        .collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    top.truncate(10);
    page(
        &app,
        Some(&sess),
        StatusCode::OK,
        "services.html",
        json!({
            "title": "Services", "services": shown, "total": matching.len(), "q": q.q,
            "internal": with_internal, "page": current, "pages": pages, "chart": bars(&top),
            "error": list_error,
        }),
    )
}

/// Everything the service's page shows besides the invoker's answer.
async fn detail_ctx(app: &App, name: &str) -> Result<Value, (StatusCode, String)> {
    let svc = app
        .backend
        .call("zato.service.get-by-name", json!({"name": name}))
        .await
        .map_err(|e| (StatusCode::NOT_FOUND, e.message()))?;
    let by_service = |v: &Value| v.get("service_name").and_then(Value::as_str) == Some(name);
    let (rest, soap, amqp, jobs, source, servers, sample, slow) = tokio::join!(
        app.backend.list(
            "zato.http-soap.get-list",
            json!({"connection": "channel", "transport": "plain_http"})
        ),
        app.backend.list(
            "zato.http-soap.get-list",
            json!({"connection": "channel", "transport": "soap"})
        ),
        app.backend.list("zato.channel.amqp.get-list", json!({})),
        app.backend
            .list("zato.scheduler.job.get-list", json!({"service_name": name})),
        app.backend
            .call("zato.service.get-source-info", json!({"name": name})),
        super::cluster::servers(app),
        app.backend
            .call("zato.service.get-request-response", json!({"name": name})),
        app.backend
            .list("zato.service.slow-response.get-list", json!({"name": name})),
    );
    let mut channels = vec![];
    for (kind, slug, rows) in [
        ("REST", "channel-rest", rest),
        ("SOAP", "channel-soap", soap),
        ("AMQP", "channel-amqp", amqp),
    ] {
        for r in rows.unwrap_or_default().iter().filter(|r| by_service(r)) {
            channels.push(json!({"kind": kind, "slug": slug, "row": r}));
        }
    }
    // Whether each server has it, asked of each server itself.
    let mut deployed = vec![];
    for s in servers.unwrap_or_default() {
        let server_name = s["row"]["name"].clone();
        let answer = match s["address"].as_str() {
            Some(addr) => match app
                .backend
                .call_server(addr, "zato.service.is-deployed", json!({"name": name}))
                .await
            {
                Ok(v) => {
                    json!({"ok": true, "is_deployed": v.get("is_deployed").and_then(Value::as_bool).unwrap_or(false)})
                }
                Err(e) => json!({"ok": false, "why": e.message()}),
            },
            None => json!({"ok": false, "why": "no address recorded"}),
        };
        deployed.push(json!({"server": server_name, "answer": answer}));
    }
    let source = source.unwrap_or(Value::Null);
    let highlighted = source
        .get("source")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(crate::highlight::python);
    Ok(json!({
        "title": format!("Service {name}"), "service": svc, "name": name, "channels": channels,
        "jobs": jobs.unwrap_or_default(), "source": source, "highlighted": highlighted,
        "deployed": deployed, "sample": sample.ok(), "slow": slow.unwrap_or_default(),
    }))
}

async fn render_detail(
    app: &App,
    sess: &Sess,
    name: &str,
    status: StatusCode,
    extra: Value,
) -> Response {
    match detail_ctx(app, name).await {
        Ok(mut ctx) => {
            if let (Value::Object(m), Value::Object(e)) = (&mut ctx, extra) {
                m.extend(e);
            }
            page(app, Some(sess), status, "service.html", ctx)
        }
        Err((status, msg)) => problem(app, Some(sess), status, "No such service", &msg),
    }
}

pub async fn detail(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
) -> Response {
    render_detail(
        &app,
        &sess,
        &name,
        StatusCode::OK,
        json!({"payload": "", "data_format": "json"}),
    )
    .await
}

#[derive(Deserialize)]
pub struct InvokeForm {
    #[serde(default)]
    payload: String,
    #[serde(default)]
    data_format: String,
}

pub async fn invoke(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
    Form(form): Form<InvokeForm>,
) -> Response {
    let format = match form.data_format.as_str() {
        "xml" => "xml",
        _ => "json",
    };
    let payload_error = (format == "json" && !form.payload.trim().is_empty())
        .then(|| serde_json::from_str::<Value>(&form.payload).err())
        .flatten()
        .map(|e| format!("The payload is not JSON: {e}"));
    let (response, invoke_error) = match payload_error {
        Some(e) => (None, Some(e)),
        None => {
            let started = std::time::Instant::now();
            match app.backend.invoke_text(&name, &form.payload, format).await {
                Ok(text) => {
                    // JSON answers are shown indented.
                    let pretty = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| serde_json::to_string_pretty(&v).ok())
                        .unwrap_or(text);
                    (
                        Some(json!({"text": pretty, "ms": started.elapsed().as_millis()})),
                        None,
                    )
                }
                Err(e) => (None, Some(e.message())),
            }
        }
    };
    let status = if invoke_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_detail(
        &app,
        &sess,
        &name,
        status,
        json!({"payload": form.payload, "data_format": format, "response": response, "invoke_error": invoke_error}),
    )
    .await
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    is_active: Option<String>,
    #[serde(default)]
    slow_threshold: String,
}

pub async fn edit(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
    Form(form): Form<EditForm>,
) -> Response {
    let path = format!(
        "/services/{}",
        form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
    );
    let id = match app
        .backend
        .call("zato.service.get-by-name", json!({"name": name}))
        .await
    {
        Ok(s) => s.get("id").cloned().unwrap_or(Value::Null),
        Err(e) => return back(&app, &sess, &path, false, &e.message()),
    };
    let mut input = json!({"id": id, "is_active": form.is_active.is_some()});
    let t = form.slow_threshold.trim();
    if !t.is_empty() {
        match t.parse::<i64>() {
            Ok(n) => input["slow_threshold"] = Value::from(n),
            Err(_) => {
                return back(
                    &app,
                    &sess,
                    &path,
                    false,
                    &format!("The slow threshold must be whole milliseconds, not `{t}`."),
                );
            }
        }
    }
    match app.backend.call("zato.service.edit", input).await {
        Ok(_) => back(&app, &sess, &path, true, "Saved."),
        Err(e) => back(&app, &sess, &path, false, &e.message()),
    }
}

/// A `.py` file from the upload form, deployed on every server.
pub async fn upload(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    mut multipart: Multipart,
) -> Response {
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                let name = field.file_name().unwrap_or("").to_string();
                match field.bytes().await {
                    Ok(b) => file = Some((name, b.to_vec())),
                    Err(e) => {
                        return back(
                            &app,
                            &sess,
                            "/services",
                            false,
                            &format!("The upload broke off: {e}"),
                        );
                    }
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                return back(
                    &app,
                    &sess,
                    "/services",
                    false,
                    &format!("The upload is not a valid form: {e}"),
                );
            }
        }
    }
    let Some((name, bytes)) = file.filter(|(n, b)| !n.is_empty() && !b.is_empty()) else {
        return back(
            &app,
            &sess,
            "/services",
            false,
            "Choose a .py file to upload.",
        );
    };
    // Only the file's own name, never a path the browser sent.
    let name = name.rsplit(['/', '\\']).next().unwrap_or("").to_string();
    if !name.ends_with(".py") {
        return back(
            &app,
            &sess,
            "/services",
            false,
            &format!("`{name}` is not a Python file (.py)."),
        );
    }
    let input = json!({
        "payload": base64::engine::general_purpose::STANDARD.encode(&bytes),
        "payload_name": name,
    });
    match app.backend.call("zato.service.upload-package", input).await {
        Ok(data) => {
            let deployed: Vec<String> = data
                .get("services_deployed")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
                        .collect()
                })
                .unwrap_or_default();
            back(
                &app,
                &sess,
                "/services",
                true,
                &format!(
                    "Deployed {name}: {}.",
                    if deployed.is_empty() {
                        "no services in it".into()
                    } else {
                        deployed.join(", ")
                    }
                ),
            )
        }
        Err(e) => back(
            &app,
            &sess,
            "/services",
            false,
            &format!("{name} was not deployed: {}", e.message()),
        ),
    }
}
