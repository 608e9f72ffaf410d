//! Config export and import (enmasse through the admin API): download the cluster as YAML;
//! upload a file and see, before anything changes, every problem the server finds (a dry run
//! of the import: checked, written and rolled back) and what would change, object by object
//! and field by field; then apply it.
use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::render::page;
use super::{App, Sess, Shared};

const PLACEHOLDER: &str = "{Zato_Enmasse_Env.";

pub async fn page_get(State(app): State<Shared>, Extension(sess): Extension<Sess>) -> Response {
    page(
        &app,
        Some(&sess),
        StatusCode::OK,
        "enmasse.html",
        json!({"title": "Export and import"}),
    )
}

pub async fn export(State(app): State<Shared>, Extension(_sess): Extension<Sess>) -> Response {
    let data = match app.backend.call("zato.enmasse.export", json!({})).await {
        Ok(d) => d,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.message()).into_response(),
    };
    let text = match serde_yaml_ng::to_string(&data) {
        Ok(t) => t,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Cannot encode the export: {e}"),
            )
                .into_response();
        }
    };
    let ts = chrono::Utc::now().format("%Y-%m-%dT%H_%M_%S");
    (
        [
            (
                header::CONTENT_TYPE,
                "application/yaml; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"zato-export-{ts}.yaml\""),
            ),
        ],
        text,
    )
        .into_response()
}

/// The file's objects, or why it cannot be read. Secrets given as environment placeholders
/// are left out (the web admin's environment is not the operator's): existing objects keep
/// theirs, new ones get random ones; each is named in `notes`.
fn objects_of(text: &str, notes: &mut Vec<String>) -> Result<Map<String, Value>, String> {
    let doc: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| format!("The file is not valid JSON: {e}"))?
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| format!("The file is not valid YAML: {e}"))?
    };
    let mut map = match doc {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        _ => return Err("The top level must be a map of object type to a list of objects.".into()),
    };
    if map.contains_key("include") {
        return Err("The file has `include:`; an upload is one file, so merge the included files into it (or import with `zato enmasse`).".into());
    }
    for (kind, list) in map.iter_mut() {
        let Some(items) = list.as_array_mut() else {
            return Err(format!("`{kind}` must be a list of objects."));
        };
        for obj in items.iter_mut().filter_map(Value::as_object_mut) {
            let placeholder = obj
                .get("password")
                .and_then(Value::as_str)
                .is_some_and(|p| p.contains(PLACEHOLDER));
            if placeholder {
                obj.remove("password");
                let name = obj.get("name").and_then(Value::as_str).unwrap_or("");
                notes.push(format!(
                    "{kind} `{name}`: its password is a placeholder and was left out"
                ));
            }
        }
    }
    Ok(map)
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}

/// Object by object: new, changed (which fields, from what to what) or the same, against
/// the cluster's export. Passwords are never shown.
fn diff(file: &Map<String, Value>, current: &Value) -> Vec<Value> {
    let mut out = vec![];
    for (kind, list) in file {
        let existing: BTreeMap<&str, &Map<String, Value>> = current
            .get(kind)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|o| Some((o.get("name")?.as_str()?, o.as_object()?)))
            .collect();
        for obj in list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
        {
            let name = obj.get("name").and_then(Value::as_str).unwrap_or("");
            let Some(old) = existing.get(name) else {
                out.push(json!({"type": kind, "name": name, "status": "new", "changes": []}));
                continue;
            };
            let changes: Vec<Value> = obj
                .iter()
                .filter(|(k, _)| k.as_str() != "password")
                .filter(|(k, v)| old.get(k.as_str()).unwrap_or(&Value::Null) != *v)
                .map(|(k, v)| json!({"field": k, "from": shown(old.get(k.as_str()).unwrap_or(&Value::Null)), "to": shown(v)}))
                .collect();
            let status = if changes.is_empty() {
                "same"
            } else {
                "changed"
            };
            out.push(json!({"type": kind, "name": name, "status": status, "changes": changes}));
        }
    }
    out
}

struct Upload {
    text: String,
    replace: bool,
    apply: bool,
}

/// What is wrong with an uploaded export.
#[derive(Debug, thiserror::Error)]
enum UploadError {
    #[error("The upload is not a valid form: {0}")]
    Form(axum::extract::multipart::MultipartError),
    #[error("The upload broke off: {0}")]
    BrokeOff(axum::extract::multipart::MultipartError),
    #[error("The file is not UTF-8 text.")]
    NotUtf8,
    #[error("Choose a YAML or JSON file exported by Zato.")]
    Empty,
}

async fn read_upload(mut m: Multipart) -> Result<Upload, UploadError> {
    let mut up = Upload {
        text: String::new(),
        replace: false,
        apply: false,
    };
    while let Some(field) = m.next_field().await.map_err(UploadError::Form)? {
        let name = field.name().unwrap_or("").to_string();
        let bytes = field.bytes().await.map_err(UploadError::BrokeOff)?;
        match name.as_str() {
            "file" if !bytes.is_empty() => {
                up.text = String::from_utf8(bytes.to_vec()).map_err(|_| UploadError::NotUtf8)?;
            }
            "text" if up.text.is_empty() => up.text = String::from_utf8_lossy(&bytes).into_owned(),
            "replace" => up.replace = !bytes.is_empty(),
            "step" => up.apply = &bytes[..] == b"apply",
            _ => {}
        }
    }
    if up.text.trim().is_empty() {
        return Err(UploadError::Empty);
    }
    Ok(up)
}

async fn check_and_apply(app: &App, up: &Upload) -> Value {
    let mut notes = vec![];
    let objects = match objects_of(&up.text, &mut notes) {
        Ok(o) => o,
        Err(e) => return json!({"error": e}),
    };
    let current = app.backend.call("zato.enmasse.export", json!({})).await;
    let changes = current
        .as_ref()
        .map(|c| diff(&objects, c))
        .unwrap_or_default();
    let input = json!({"objects": objects, "replace": up.replace, "dry_run": !up.apply});
    let result = app.backend.call("zato.enmasse.import", input).await;
    let mut ctx = json!({
        "notes": notes, "changes": changes, "text": up.text, "replace": up.replace,
        "applied": false,
    });
    match result {
        Ok(r) => {
            let ok = r.get("ok").and_then(Value::as_bool).unwrap_or(false);
            ctx["problems"] = r.get("problems").cloned().unwrap_or(json!([]));
            ctx["created"] = r.get("created").cloned().unwrap_or(json!([]));
            ctx["updated"] = r.get("updated").cloned().unwrap_or(json!([]));
            ctx["skipped"] = r.get("skipped").cloned().unwrap_or(json!([]));
            ctx["ok"] = json!(ok);
            ctx["applied"] = json!(ok && up.apply);
        }
        Err(e) => {
            ctx["ok"] = json!(false);
            ctx["error"] = json!(e.message());
        }
    }
    if let Err(e) = current {
        ctx["diff_error"] = json!(e.message());
    }
    ctx
}

pub async fn import(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    m: Multipart,
) -> Response {
    let mut ctx = match read_upload(m).await {
        Ok(up) => check_and_apply(&app, &up).await,
        Err(e) => json!({"error": e.to_string()}),
    };
    ctx["title"] = json!("Export and import");
    ctx["preview"] = json!(true);
    let status = if ctx.get("error").is_some() || ctx["ok"] == json!(false) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(&app, Some(&sess), status, "enmasse.html", ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_left_out_and_diff_by_field() {
        let mut notes = vec![];
        let objects = objects_of(
            "security:\n  - {name: b1, type: basic_auth, username: u2, password: '{Zato_Enmasse_Env.B1}'}\n  - {name: b2, type: basic_auth, username: u}\n",
            &mut notes,
        )
        .unwrap();
        assert_eq!(notes.len(), 1);
        assert!(objects["security"][0].get("password").is_none());
        let current = json!({"security": [{"name": "b1", "type": "basic_auth", "username": "u1"}]});
        let d = diff(&objects, &current);
        assert_eq!(d[0]["status"], "changed");
        assert_eq!(d[0]["changes"][0]["field"], "username");
        assert_eq!(d[0]["changes"][0]["from"], "u1");
        assert_eq!(d[1]["status"], "new");
        assert!(objects_of("include: [a.yaml]", &mut notes).is_err());
        assert!(objects_of("- a", &mut notes).is_err());
        assert!(objects_of("security: 3", &mut notes).is_err());
    }
}
