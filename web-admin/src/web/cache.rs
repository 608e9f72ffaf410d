//! A built-in cache's entries: browse (search by key, `v:word` in the value), delete.
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::render::{back, page, problem};
use super::{Sess, Shared};

#[derive(Deserialize, Default)]
pub struct EntriesQuery {
    #[serde(default)]
    q: String,
}

fn cache_id(id: &str) -> Option<i64> {
    id.parse().ok()
}

pub async fn entries(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Path(id): Path<String>,
    Query(q): Query<EntriesQuery>,
) -> Response {
    let Some(cid) = cache_id(&id) else {
        return problem(
            &app,
            Some(&sess),
            StatusCode::NOT_FOUND,
            "Not found",
            "A cache's id is a number.",
        );
    };
    let cache = match app
        .backend
        .call("zato.cache.builtin.get", json!({"cache_id": cid}))
        .await
    {
        Ok(c) => c,
        Err(e) => {
            return problem(
                &app,
                Some(&sess),
                StatusCode::NOT_FOUND,
                "No such cache",
                &e.message(),
            );
        }
    };
    let mut input = json!({"cache_id": cid, "max_chars": 200});
    if !q.q.trim().is_empty() {
        input["query"] = json!(q.q.trim());
    }
    let (entries, list_error) = match app
        .backend
        .list("zato.cache.builtin.entry.get-list", input)
        .await
    {
        Ok(e) => (e, None),
        Err(e) => (vec![], Some(e.message())),
    };
    page(
        &app,
        Some(&sess),
        StatusCode::OK,
        "cache.html",
        json!({
            "title": format!("Cache {}", cache.get("name").and_then(|v| v.as_str()).unwrap_or("")),
            "cache": cache, "entries": entries, "q": q.q, "error": list_error,
        }),
    )
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    key: String,
}

pub async fn delete(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Path(id): Path<String>,
    Form(form): Form<DeleteForm>,
) -> Response {
    let path = format!("/cache/{id}");
    let Some(cid) = cache_id(&id) else {
        return back(&app, &sess, "/k/cache", false, "A cache's id is a number.");
    };
    match app
        .backend
        .call(
            "zato.cache.builtin.entry.delete",
            json!({"cache_id": cid, "key": form.key}),
        )
        .await
    {
        Ok(v) if v.get("key_found").and_then(|f| f.as_bool()) == Some(false) => back(
            &app,
            &sess,
            &path,
            false,
            &format!("There was no entry `{}` (it may have expired).", form.key),
        ),
        Ok(_) => back(
            &app,
            &sess,
            &path,
            true,
            &format!("Deleted `{}`.", form.key),
        ),
        Err(e) => back(&app, &sess, &path, false, &e.message()),
    }
}
