//! The pages: routing, the guard every request passes (session, CSRF, same origin, security
//! headers), rendering, and the handlers in the modules below.
pub mod cache;
pub mod cluster;
pub mod crud;
pub mod enmasse;
pub mod kinds;
pub mod login;
pub mod redis;
pub mod render;
pub mod services;
pub mod stats;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use zato_common::config::WebAdminConfig;

use crate::backend::Backend;
use crate::session::{Session, Sessions, Stage};
use crate::throttle::Throttle;

pub const SESSION_COOKIE: &str = "zato_session";
/// The log-in form's own CSRF token (double submit: a cookie and the same value in the form),
/// before there is a session to hold one.
pub const LOGIN_COOKIE: &str = "zato_login";
/// Uploads (service files, config exports) are at most this large.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

pub struct App {
    pub cfg: WebAdminConfig,
    pub users: crate::users::Cache,
    pub sessions: Sessions,
    pub throttle: Throttle,
    pub backend: Backend,
    pub templates: minijinja::Environment<'static>,
    /// Served over TLS: cookies get `Secure`, origins are `https://`.
    pub tls: bool,
}

pub type Shared = Arc<App>;

impl App {
    pub fn new(cfg: WebAdminConfig, backend: Backend, tls: bool) -> Result<Self, minijinja::Error> {
        Ok(Self {
            users: crate::users::Cache::new(&cfg.dir),
            sessions: Sessions::new(
                Duration::from_secs(cfg.session.idle_seconds),
                Duration::from_secs(cfg.session.max_seconds),
            ),
            throttle: Throttle::new(
                cfg.login.max_failures,
                Duration::from_secs(cfg.login.lockout_seconds),
            ),
            templates: render::environment()?,
            backend,
            cfg,
            tls,
        })
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Secure over TLS; `max_age` 0 deletes.
    pub fn cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> String {
        let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        if self.tls {
            c.push_str("; Secure");
        }
        c
    }
}

/// The logged-in user of a request, put there by [`guard`].
#[derive(Clone, Debug)]
pub struct Sess {
    pub id: String,
    pub user: String,
    pub csrf: String,
}

pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/cluster") }))
        .route("/login", get(login::form_page).post(login::submit))
        .route(
            "/login/code",
            get(login::code_page).post(login::code_submit),
        )
        .route("/logout", post(login::logout))
        .route("/static/{file}", get(render::asset))
        .route("/favicon.ico", get(render::favicon))
        .route("/cluster", get(cluster::page_get))
        .route("/cluster/lb/{action}", post(cluster::lb_action))
        .route("/services", get(services::list))
        .route("/services/upload", post(services::upload))
        .route("/services/{name}", get(services::detail))
        .route("/services/{name}/invoke", post(services::invoke))
        .route("/services/{name}/edit", post(services::edit))
        .route("/stats", get(stats::page_get))
        .route("/stats/csv", get(stats::csv))
        .route("/cache/{id}", get(cache::entries))
        .route("/cache/{id}/delete", post(cache::delete))
        .route("/redis", get(redis::page_get).post(redis::run))
        .route("/enmasse", get(enmasse::page_get).post(enmasse::import))
        .route("/enmasse/export", get(enmasse::export))
        .route("/k/{kind}", get(crud::list))
        .route("/k/{kind}/create", post(crud::create))
        .route("/k/{kind}/{id}", get(crud::edit_page).post(crud::edit))
        .route("/k/{kind}/{id}/delete", post(crud::delete))
        .route("/k/{kind}/{id}/password", post(crud::password))
        .route("/k/{kind}/{id}/do/{action}", post(crud::action))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

async fn not_found(State(app): State<Shared>, req: Request) -> Response {
    let sess = req.extensions().get::<Sess>().cloned();
    render::problem(
        &app,
        sess.as_ref(),
        StatusCode::NOT_FOUND,
        "Not found",
        &format!("There is no page at {}.", req.uri().path()),
    )
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn is_public(path: &str) -> bool {
    path == "/login" || path == "/favicon.ico" || path.starts_with("/static/")
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A request's origin when a browser sent one: it must be this site's own.
fn same_origin(app: &App, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Browsers send Origin with every POST; a client without one is not a browser
        // tricked by another site, and the CSRF token still has to match.
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let scheme = if app.tls { "https" } else { "http" };
    origin == format!("{scheme}://{host}")
}

/// The `csrf` value of a form body, or of the query string (multipart uploads), or the
/// `X-CSRF-Token` header.
fn csrf_of(req_headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Option<String> {
    if let Some(v) = req_headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        return Some(v.to_string());
    }
    let form = req_headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if form && let Some((_, v)) = form_urlencoded::parse(body).find(|(k, _)| k == "csrf") {
        return Some(v.into_owned());
    }
    query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned())
    })
}

/// Every request: public pages pass; any other needs a live session (a page request without
/// one goes to the log-in page, anything else gets 401); a state-changing request needs its
/// origin to be this site and the session's CSRF token. Every answer gets the security
/// headers.
async fn guard(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let mut resp = checked(&app, req, next).await;
    let h = resp.headers_mut();
    for (k, v) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Not no-referrer: with it browsers send `Origin: null` on this site's own form posts.
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if app.tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
}

async fn checked(app: &Shared, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if changes_state(&method) && !same_origin(app, req.headers()) {
        tracing::warn!(
            "{method} {path} refused: origin {:?} is not this site's (host {:?})",
            req.headers().get(header::ORIGIN),
            req.headers().get(header::HOST)
        );
        return render::problem(
            app,
            None,
            StatusCode::FORBIDDEN,
            "Refused",
            "The request came from another site's page.",
        );
    }
    if is_public(&path) {
        return next.run(req).await;
    }
    let session: Option<(String, Session)> = cookie_value(req.headers(), SESSION_COOKIE)
        .and_then(|id| Some((id.to_string(), app.sessions.touch(id)?)))
        .filter(|(id, s)| {
            // The user is still there with the password they logged in with.
            let valid = app.users.current().is_ok_and(|users| {
                users
                    .get(&s.user)
                    .is_some_and(|u| u.password == s.credential)
            });
            if !valid {
                app.sessions.revoke(id);
            }
            valid
        });
    let allowed = match &session {
        Some((_, s)) if s.stage == Stage::Full => true,
        Some((_, s)) => s.stage == Stage::NeedsCode && path == "/login/code",
        None => false,
    };
    let Some((id, s)) = session.filter(|_| allowed) else {
        if method == Method::GET {
            let next_page = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let target = format!(
                "/login?next={}",
                form_urlencoded::byte_serialize(next_page.as_bytes()).collect::<String>()
            );
            return Redirect::to(&target).into_response();
        }
        return render::problem(
            app,
            None,
            StatusCode::UNAUTHORIZED,
            "Logged out",
            "Your session has ended; log in again.",
        );
    };
    let sess = Sess {
        id,
        user: s.user,
        csrf: s.csrf,
    };
    let (mut parts, body) = req.into_parts();
    let req = if changes_state(&method) {
        let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(b) => b,
            Err(_) => {
                return render::problem(
                    app,
                    Some(&sess),
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Too large",
                    &format!("A request may carry at most {} MB.", MAX_BODY >> 20),
                );
            }
        };
        let given = csrf_of(&parts.headers, parts.uri.query(), &bytes);
        if !given.is_some_and(|t| zato_common::crypto::same(t.as_bytes(), sess.csrf.as_bytes())) {
            return render::problem(
                app,
                Some(&sess),
                StatusCode::FORBIDDEN,
                "Refused",
                "The form did not carry this session's security token (CSRF). Reload the page and try again.",
            );
        }
        parts.extensions.insert(sess);
        Request::from_parts(parts, Body::from(bytes))
    } else {
        parts.extensions.insert(sess);
        Request::from_parts(parts, body)
    };
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_found_in_form_query_or_header() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert_eq!(csrf_of(&h, None, b"a=1&csrf=xyz").as_deref(), Some("xyz"));
        assert_eq!(csrf_of(&h, None, b"a=1").as_deref(), None);
        assert_eq!(
            csrf_of(&HeaderMap::new(), Some("csrf=q"), b"csrf=body").as_deref(),
            Some("q")
        );
        h.insert("x-csrf-token", HeaderValue::from_static("hdr"));
        assert_eq!(csrf_of(&h, None, b"csrf=xyz").as_deref(), Some("hdr"));
    }
}
