//! Templates (embedded, auto-escaped), the page frame every page shares, and the static
//! assets, all served by the binary: the web admin works with no internet.
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::{Map, Value, json};

use super::{App, Sess, Shared};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("forms.html", include_str!("../../templates/forms.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("code.html", include_str!("../../templates/code.html")),
    ("problem.html", include_str!("../../templates/problem.html")),
    ("cluster.html", include_str!("../../templates/cluster.html")),
    (
        "services.html",
        include_str!("../../templates/services.html"),
    ),
    ("service.html", include_str!("../../templates/service.html")),
    (
        "kind_list.html",
        include_str!("../../templates/kind_list.html"),
    ),
    (
        "kind_edit.html",
        include_str!("../../templates/kind_edit.html"),
    ),
    ("stats.html", include_str!("../../templates/stats.html")),
    ("cache.html", include_str!("../../templates/cache.html")),
    ("enmasse.html", include_str!("../../templates/enmasse.html")),
    ("redis.html", include_str!("../../templates/redis.html")),
];

pub fn environment() -> Result<minijinja::Environment<'static>, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.add_filter("duration", duration);
    for (name, text) in TEMPLATES {
        env.add_template(name, text)?;
    }
    Ok(env)
}

/// Seconds as people read them: `2d 3h`, `4h 5m`, `6m 7s`, `8s`.
fn duration(seconds: f64) -> String {
    let s = if seconds.is_finite() && seconds > 0.0 {
        seconds as u64
    } else {
        0
    };
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m {}s", s % 60),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// The navigation, in the order of upstream's menu.
fn nav() -> Value {
    let mut groups = vec![
        json!({"title": "Cluster", "links": [["/cluster", "Servers and load balancer"]]}),
        json!({"title": "Services", "links": [["/services", "Services"], ["/stats", "Statistics"]]}),
    ];
    let section = |title: &str, slugs: &[&str]| {
        let links: Vec<Value> = slugs
            .iter()
            .filter_map(|s| super::kinds::find(s))
            .map(|k| json!([format!("/k/{}", k.slug), k.title]))
            .collect();
        json!({"title": title, "links": links})
    };
    groups.push(section(
        "Security",
        &["basic-auth", "apikey", "jwt", "wss", "tech-account"],
    ));
    groups.push(section(
        "Channels",
        &["channel-rest", "channel-soap", "channel-amqp"],
    ));
    groups.push(section(
        "Outgoing",
        &[
            "outgoing-rest",
            "outgoing-soap",
            "outgoing-sql",
            "outgoing-redis",
            "outgoing-amqp",
            "definition-amqp",
        ],
    ));
    groups.push(json!({"title": "Redis", "links": [["/redis", "Redis console"]]}));
    groups.push(section("Cache", &["cache"]));
    groups.push(section("Scheduler", &["scheduler"]));
    groups.push(json!({"title": "Config", "links": [["/enmasse", "Export and import"]]}));
    Value::Array(groups)
}

/// Renders `template` with `ctx` (an object) and what every page shows: the user, the CSRF
/// token for its forms, the cluster's name and colour marker, the menu.
pub fn page(
    app: &App,
    sess: Option<&Sess>,
    status: StatusCode,
    template: &str,
    ctx: Value,
) -> Response {
    let mut map = match ctx {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    map.insert("cluster_name".into(), json!(app.cfg.main.cluster_name));
    map.insert("marker_color".into(), json!(app.cfg.main.marker_color));
    map.insert("marker_label".into(), json!(app.cfg.main.marker_label));
    if let Some(s) = sess {
        if let Some((ok, message)) = app.sessions.take_flash(&s.id) {
            map.insert(
                if ok { "flash_ok" } else { "flash_bad" }.into(),
                json!(message),
            );
        }
        map.insert("user".into(), json!(s.user));
        map.insert("csrf".into(), json!(s.csrf));
        map.insert("nav".into(), nav());
    }
    match app
        .templates
        .get_template(template)
        .and_then(|t| t.render(minijinja::value::Serde(Value::Object(map))))
    {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("cannot render {template}: {e:#}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("The page could not be rendered: {e}"),
            )
                .into_response()
        }
    }
}

/// Back to `path` (after a POST), saying `message` there once.
pub fn back(app: &App, sess: &Sess, path: &str, ok: bool, message: &str) -> Response {
    app.sessions.set_flash(&sess.id, ok, message);
    Redirect::to(path).into_response()
}

/// A page saying what went wrong.
pub fn problem(
    app: &App,
    sess: Option<&Sess>,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    page(
        app,
        sess,
        status,
        "problem.html",
        json!({"title": title, "message": message}),
    )
}

/// `/static/app.css`, `/static/app.js` and `/static/marker.css` (the cluster's colour, as a
/// style sheet because the pages allow no inline styles).
pub async fn asset(State(app): State<Shared>, Path(file): Path<String>) -> Response {
    let (ctype, body): (&str, String) = match file.as_str() {
        "app.css" => ("text/css", include_str!("../../static/app.css").into()),
        "app.js" => (
            "text/javascript",
            include_str!("../../static/app.js").into(),
        ),
        "marker.css" => {
            let color = &app.cfg.main.marker_color;
            let css = if color.is_empty() {
                String::new()
            } else {
                // The config loader allows only letters, digits and '#' here.
                format!(
                    ".marker{{background:{color};}}\nheader.top{{border-bottom-color:{color};}}\n"
                )
            };
            ("text/css", css)
        }
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, ctype),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The browser's icon request: nothing, without a trip to the log-in page.
pub async fn favicon() -> StatusCode {
    StatusCode::NO_CONTENT
}
