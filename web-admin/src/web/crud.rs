//! The pages of every kind in `kinds.rs`: a list with a search box, paging, a create form and
//! row buttons; an edit page with the password form and delete. Forms are checked here first
//! (required fields, numbers), then by the admin service, whose message goes next to the
//! field it names.
use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::kinds::{self, Kind, Ty};
use super::render::{back, page, problem};
use super::{App, Sess, Shared};

pub const PAGE_SIZE: usize = 100;

type FormData = Vec<(String, String)>;

fn missing(app: &App, sess: &Sess, slug: &str) -> Response {
    problem(
        app,
        Some(sess),
        StatusCode::NOT_FOUND,
        "Not found",
        &format!("There is no page for `{slug}`."),
    )
}

fn not_allowed(app: &App, sess: &Sess, what: &str) -> Response {
    problem(
        app,
        Some(sess),
        StatusCode::METHOD_NOT_ALLOWED,
        "Not allowed",
        &format!("This kind cannot be {what} here."),
    )
}

/// A form as it is shown again: the values given, the problems per field, one above it.
#[derive(Default)]
struct FormState {
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    top: Option<String>,
}

/// A row value as form text.
fn text_of(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => {
            if *b {
                "on".into()
            } else {
                String::new()
            }
        }
        Some(other) => other.to_string(),
    }
}

fn type_name(ty: Ty) -> &'static str {
    match ty {
        Ty::Text => "text",
        Ty::Int => "int",
        Ty::Bool => "bool",
        Ty::Password => "password",
        Ty::Area => "area",
        Ty::Select(_) | Ty::Security | Ty::AmqpDef => "select",
        Ty::Service => "service",
    }
}

/// Names offered in the forms' lists: services, security definitions, AMQP definitions.
struct Options {
    services: Vec<String>,
    security: Vec<String>,
    amqp: Vec<String>,
}

async fn names(app: &App, service: &str, input: Value, skip_internal: bool) -> Vec<String> {
    match app.backend.list(service, input).await {
        Ok(rows) => rows
            .iter()
            .filter(|r| {
                !(skip_internal && r.get("is_internal").and_then(Value::as_bool) == Some(true))
            })
            .filter_map(|r| r.get("name").and_then(Value::as_str).map(String::from))
            .collect(),
        Err(e) => {
            tracing::warn!("cannot list {service}: {}", e.message());
            vec![]
        }
    }
}

async fn options(app: &App, kind: &Kind) -> Options {
    let has = |t: Ty| kind.fields.iter().any(|f| f.ty == t);
    Options {
        services: if has(Ty::Service) {
            names(app, "zato.service.get-list", json!({}), true).await
        } else {
            vec![]
        },
        security: if has(Ty::Security) {
            names(app, "zato.security.get-list", json!({}), false).await
        } else {
            vec![]
        },
        amqp: if has(Ty::AmqpDef) {
            names(app, "zato.definition.amqp.get-list", json!({}), false).await
        } else {
            vec![]
        },
    }
}

/// The fields of a form with their values and errors, as the template shows them.
fn form_fields(
    kind: &Kind,
    creating: bool,
    values: &HashMap<String, String>,
    errors: &HashMap<String, String>,
    opts: &Options,
) -> Vec<Value> {
    kind.fields
        .iter()
        .filter(|f| creating || !f.create_only)
        .map(|f| {
            let choices: Vec<String> = match f.ty {
                Ty::Select(list) => list.iter().map(|s| s.to_string()).collect(),
                Ty::Security => std::iter::once(String::new())
                    .chain(opts.security.iter().cloned())
                    .collect(),
                Ty::AmqpDef => opts.amqp.clone(),
                _ => vec![],
            };
            json!({
                "name": f.name, "label": f.label, "type": type_name(f.ty), "required": f.required,
                "help": f.help, "value": values.get(f.name).cloned().unwrap_or_default(),
                "options": choices, "error": errors.get(f.name),
            })
        })
        .collect()
}

fn defaults(kind: &Kind) -> HashMap<String, String> {
    kind.fields
        .iter()
        .map(|f| (f.name.to_string(), f.default.to_string()))
        .collect()
}

/// The values an edit form starts with: the row's.
fn row_values(kind: &Kind, row: &Value) -> HashMap<String, String> {
    kind.fields
        .iter()
        .map(|f| {
            (
                f.name.to_string(),
                text_of(row.get(f.row_key.unwrap_or(f.name))),
            )
        })
        .collect()
}

/// The admin service's input from a form, or the problems per field.
fn input_of(
    kind: &Kind,
    form: &HashMap<String, String>,
    creating: bool,
) -> Result<Map<String, Value>, HashMap<String, String>> {
    let mut out = Map::new();
    let mut errors = HashMap::new();
    for f in kind.fields.iter().filter(|f| creating || !f.create_only) {
        let raw = form.get(f.name).map(|s| s.trim()).unwrap_or("");
        let value = match f.ty {
            Ty::Bool => Some(Value::Bool(!raw.is_empty())),
            _ if raw.is_empty() => {
                if f.required {
                    errors.insert(f.name.to_string(), "Required.".to_string());
                }
                // An edit sends an emptied text so that it is cleared; a number left empty
                // keeps its value.
                (!creating && !matches!(f.ty, Ty::Int | Ty::Password))
                    .then(|| Value::String(String::new()))
            }
            Ty::Int => match raw.parse::<i64>() {
                Ok(n) => Some(Value::from(n)),
                Err(_) => {
                    errors.insert(
                        f.name.to_string(),
                        format!("`{raw}` is not a whole number."),
                    );
                    None
                }
            },
            _ => Some(Value::String(raw.to_string())),
        };
        if let Some(v) = value {
            out.insert(f.name.to_string(), v);
        }
    }
    if errors.is_empty() {
        if let Value::Object(fixed) = (kind.fixed)() {
            out.extend(fixed);
        }
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Puts an admin service's message next to the field it names (`name` in backticks), else
/// above the form.
fn place_error(kind: &Kind, message: &str) -> (HashMap<String, String>, Option<String>) {
    let mut errors = HashMap::new();
    for f in kind.fields {
        if message.contains(&format!("`{}`", f.name)) {
            errors.insert(f.name.to_string(), message.to_string());
            return (errors, None);
        }
    }
    (errors, Some(message.to_string()))
}

fn to_map(form: FormData) -> HashMap<String, String> {
    form.into_iter().collect()
}

/// A list page's search, page and whether internal objects are shown too (hidden by
/// default, as upstream).
#[derive(serde::Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub page: Option<usize>,
    #[serde(default)]
    pub internal: Option<String>,
}

impl ListQuery {
    pub fn with_internal(&self) -> bool {
        self.internal.as_deref().is_some_and(|v| !v.is_empty())
    }

    /// The asked-for page of `items` ([`PAGE_SIZE`] a page), its number and how many pages
    /// there are (at least one).
    pub fn page_of<'a, T>(&self, items: &'a [T]) -> (&'a [T], usize, usize) {
        let pages = items.len().div_ceil(PAGE_SIZE).max(1);
        let current = self.page.unwrap_or(1).clamp(1, pages);
        let start = ((current - 1) * PAGE_SIZE).min(items.len());
        let end = (start + PAGE_SIZE).min(items.len());
        (&items[start..end], current, pages)
    }
}

fn row_view(kind: &Kind, row: &Value) -> Value {
    let id = text_of(row.get("id"));
    let cells: Vec<Value> = kind
        .columns
        .iter()
        .map(|(key, _)| {
            let v = kind
                .derived
                .and_then(|d| d(key, row))
                .or_else(|| row.get(*key).cloned())
                .unwrap_or(Value::Null);
            let link = (*key == "service_name" && v.is_string())
                .then(|| format!("/services/{}", v.as_str().unwrap_or_default()));
            json!({"key": key, "value": v, "link": link})
        })
        .collect();
    let actions: Vec<Value> = kind
        .actions
        .iter()
        .map(|a| json!({"name": a.name, "label": a.label_for.map_or(a.label, |l| l(row))}))
        .collect();
    json!({
        "id": id, "cells": cells, "actions": actions,
        "link": kind.row_link.map(|l| l.replace("{id}", &id)),
    })
}

async fn render_list(
    app: &App,
    sess: &Sess,
    kind: &Kind,
    q: &ListQuery,
    status: StatusCode,
    form: FormState,
) -> Response {
    let (rows, list_error) = match app.backend.list(kind.list, (kind.list_input)()).await {
        Ok(rows) => (rows, None),
        Err(e) => (vec![], Some(e.message())),
    };
    let needle = q.q.to_lowercase();
    let with_internal = q.with_internal();
    let internal = |r: &Value| r.get("is_internal").and_then(Value::as_bool) == Some(true);
    let hidden = if with_internal {
        0
    } else {
        rows.iter().filter(|r| internal(r)).count()
    };
    let matching: Vec<&Value> = rows
        .iter()
        .filter(|r| with_internal || !internal(r))
        .filter(|r| {
            needle.is_empty()
                || kind
                    .columns
                    .iter()
                    .any(|(k, _)| text_of(r.get(*k)).to_lowercase().contains(&needle))
        })
        .collect();
    let (on_page, current, pages) = q.page_of(&matching);
    let shown: Vec<Value> = on_page.iter().map(|r| row_view(kind, r)).collect();
    let opts = options(app, kind).await;
    page(
        app,
        Some(sess),
        status,
        "kind_list.html",
        json!({
            "title": kind.title, "kind": kind_view(kind), "rows": shown, "total": matching.len(),
            "all": rows.len(), "q": q.q, "page": current, "pages": pages,
            "hidden": hidden, "internal": with_internal,
            "error": list_error,
            "form": form_fields(kind, true, &form.values, &form.errors, &opts),
            "form_error": form.top, "services": opts.services,
        }),
    )
}

fn kind_view(kind: &Kind) -> Value {
    json!({
        "slug": kind.slug, "title": kind.title, "singular": kind.singular,
        "columns": kind.columns.iter().map(|(_, l)| *l).collect::<Vec<_>>(),
        "can_create": kind.create.is_some(), "can_edit": kind.edit.is_some(),
        "can_delete": kind.delete.is_some(), "has_password": kind.password.is_some(),
    })
}

pub async fn list(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Path(slug): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let Some(kind) = kinds::find(&slug) else {
        return missing(&app, &sess, &slug);
    };
    let form = FormState {
        values: defaults(kind),
        ..FormState::default()
    };
    render_list(&app, &sess, kind, &q, StatusCode::OK, form).await
}

/// Checks the form and calls `service` with it (`id` for an edit); the values on success,
/// else the form to show again with its problems next to their fields.
async fn submit(
    app: &App,
    kind: &Kind,
    service: &str,
    values: HashMap<String, String>,
    id: Option<&str>,
) -> Result<HashMap<String, String>, FormState> {
    let mut input = match input_of(kind, &values, id.is_none()) {
        Ok(i) => i,
        Err(errors) => {
            return Err(FormState {
                values,
                errors,
                top: None,
            });
        }
    };
    if let Some(id) = id.filter(|_| kind.edit_by_id) {
        input.insert("id".into(), id_value(id));
    }
    match app.backend.call(service, Value::Object(input)).await {
        Ok(_) => Ok(values),
        Err(e) => {
            let (errors, top) = place_error(kind, &e.message());
            Err(FormState {
                values,
                errors,
                top,
            })
        }
    }
}

pub async fn create(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Path(slug): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    let Some(kind) = kinds::find(&slug) else {
        return missing(&app, &sess, &slug);
    };
    let Some(service) = kind.create else {
        return not_allowed(&app, &sess, "created");
    };
    match submit(&app, kind, service, to_map(form), None).await {
        Ok(values) => back(
            &app,
            &sess,
            &format!("/k/{}", kind.slug),
            true,
            &format!(
                "Created {} `{}`.",
                kind.singular,
                values.get("name").map_or("", String::as_str)
            ),
        ),
        Err(form) => {
            let q = ListQuery::default();
            render_list(
                &app,
                &sess,
                kind,
                &q,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
            )
            .await
        }
    }
}

/// The row `id` of a kind, from its list.
async fn find_row(app: &App, kind: &Kind, id: &str) -> Result<Option<Value>, String> {
    let rows = app
        .backend
        .list(kind.list, (kind.list_input)())
        .await
        .map_err(|e| e.message())?;
    Ok(rows.into_iter().find(|r| text_of(r.get("id")) == id))
}

/// The edit page; without `form`, the row's own values.
async fn render_edit(
    app: &App,
    sess: &Sess,
    kind: &Kind,
    id: &str,
    status: StatusCode,
    form: Option<FormState>,
) -> Response {
    let row = match find_row(app, kind, id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return problem(
                app,
                Some(sess),
                StatusCode::NOT_FOUND,
                "Not found",
                &format!("There is no {} with id {id}.", kind.singular),
            );
        }
        Err(e) => {
            return problem(
                app,
                Some(sess),
                StatusCode::BAD_GATEWAY,
                "The cluster did not answer",
                &e,
            );
        }
    };
    let form = form.unwrap_or_else(|| FormState {
        values: row_values(kind, &row),
        ..FormState::default()
    });
    let opts = options(app, kind).await;
    page(
        app,
        Some(sess),
        status,
        "kind_edit.html",
        json!({
            "title": format!("{} {}", kind.title, text_of(row.get("name"))),
            "kind": kind_view(kind), "id": id, "name": text_of(row.get("name")),
            "form": form_fields(kind, false, &form.values, &form.errors, &opts),
            "form_error": form.top,
            "services": opts.services,
        }),
    )
}

pub async fn edit_page(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Path((slug, id)): Path<(String, String)>,
) -> Response {
    let Some(kind) = kinds::find(&slug) else {
        return missing(&app, &sess, &slug);
    };
    render_edit(&app, &sess, kind, &id, StatusCode::OK, None).await
}

fn id_value(id: &str) -> Value {
    id.parse::<i64>()
        .map_or_else(|_| Value::String(id.to_string()), Value::from)
}

pub async fn edit(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<FormData>,
) -> Response {
    let Some(kind) = kinds::find(&slug) else {
        return missing(&app, &sess, &slug);
    };
    let Some(service) = kind.edit else {
        return not_allowed(&app, &sess, "edited");
    };
    match submit(&app, kind, service, to_map(form), Some(&id)).await {
        Ok(values) => back(
            &app,
            &sess,
            &format!("/k/{}", kind.slug),
            true,
            &format!(
                "Saved {} `{}`.",
                kind.singular,
                values.get("name").map_or(id.as_str(), String::as_str)
            ),
        ),
        Err(form) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_edit(&app, &sess, kind, &id, status, Some(form)).await
        }
    }
}

pub async fn delete(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Path((slug, id)): Path<(String, String)>,
) -> Response {
    let Some(kind) = kinds::find(&slug) else {
        return missing(&app, &sess, &slug);
    };
    let path = format!("/k/{}", kind.slug);
    let Some(service) = kind.delete else {
        return back(
            &app,
            &sess,
            &path,
            false,
            "This kind cannot be deleted here.",
        );
    };
    match app
        .backend
        .call(service, json!({"id": id_value(&id)}))
        .await
    {
        Ok(_) => back(
            &app,
            &sess,
            &path,
            true,
            &format!("Deleted {} {id}.", kind.singular),
        ),
        Err(e) => back(&app, &sess, &path, false, &e.message()),
    }
}

pub async fn password(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<FormData>,
) -> Response {
    let Some(kind) = kinds::find(&slug) else {
        return missing(&app, &sess, &slug);
    };
    let path = format!("/k/{}", kind.slug);
    let Some(service) = kind.password else {
        return back(&app, &sess, &path, false, "This kind has no password.");
    };
    let form = to_map(form);
    let p1 = form.get("password1").cloned().unwrap_or_default();
    let p2 = form.get("password2").cloned().unwrap_or_default();
    if p1 != p2 {
        return back(
            &app,
            &sess,
            &format!("{path}/{id}"),
            false,
            "The two passwords differ.",
        );
    }
    let mut input = json!({"password1": p1, "password2": p2});
    if kind.edit_by_id {
        input["id"] = id_value(&id);
    }
    match app.backend.call(service, input).await {
        Ok(_) => back(&app, &sess, &path, true, "Password changed."),
        Err(e) => back(&app, &sess, &format!("{path}/{id}"), false, &e.message()),
    }
}

/// What a row button's service answered, in a sentence.
fn outcome(action: &str, data: &Value) -> String {
    if let Some(false) = data.get("is_success").and_then(Value::as_bool) {
        return format!("Ping failed: {}", text_of(data.get("info")));
    }
    let mut parts = vec![];
    for key in ["info", "response_time", "cid"] {
        if let Some(v) = data.get(key).filter(|v| !v.is_null()) {
            parts.push(format!("{key}: {}", text_of(Some(v))));
        }
    }
    format!(
        "{action}: OK{}{}",
        if parts.is_empty() { "" } else { "; " },
        parts.join(", ")
    )
}

pub async fn action(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Path((slug, id, name)): Path<(String, String, String)>,
) -> Response {
    let Some(kind) = kinds::find(&slug) else {
        return missing(&app, &sess, &slug);
    };
    let path = format!("/k/{}", kind.slug);
    let Some(action) = kind.actions.iter().find(|a| a.name == name) else {
        return back(
            &app,
            &sess,
            &path,
            false,
            &format!("There is no action `{name}` here."),
        );
    };
    let row = match find_row(&app, kind, &id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return back(
                &app,
                &sess,
                &path,
                false,
                &format!("There is no {} with id {id}.", kind.singular),
            );
        }
        Err(e) => return back(&app, &sess, &path, false, &e),
    };
    let label = action.label_for.map_or(action.label, |l| l(&row));
    match app.backend.call(action.service, (action.input)(&row)).await {
        Ok(data) => back(
            &app,
            &sess,
            &path,
            true,
            &format!("{} {}", text_of(row.get("name")), outcome(label, &data)),
        ),
        Err(e) => back(
            &app,
            &sess,
            &path,
            false,
            &format!("{label}: {}", e.message()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_become_input_or_field_errors() {
        let kind = kinds::find("channel-rest").unwrap();
        let mut form = HashMap::new();
        form.insert("name".to_string(), "c1".to_string());
        form.insert("url_path".to_string(), "/x".to_string());
        let errors = input_of(kind, &form, true).unwrap_err();
        assert_eq!(errors.get("service").map(String::as_str), Some("Required."));
        form.insert("service".to_string(), "demo.ping".to_string());
        let input = input_of(kind, &form, true).unwrap();
        assert_eq!(input["is_active"], false);
        assert_eq!(input["connection"], "channel");
        assert!(input.get("security_name").is_none());
        let edit = input_of(kind, &form, false).unwrap();
        assert_eq!(edit["security_name"], "");

        let jobs = kinds::find("scheduler").unwrap();
        let mut form = HashMap::new();
        form.insert("seconds".to_string(), "ten".to_string());
        let errors = input_of(jobs, &form, true).unwrap_err();
        assert!(errors["seconds"].contains("whole number"));

        let (by_field, top) = place_error(kind, "`url_path` clashes with channel c0");
        assert!(by_field.contains_key("url_path") && top.is_none());
        let (by_field, top) = place_error(kind, "something else");
        assert!(by_field.is_empty() && top.is_some());
    }
}
