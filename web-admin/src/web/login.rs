//! Log-in (password, then the TOTP code for users who have a key), log-out.
use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::render::{page, problem};
use super::{LOGIN_COOKIE, SESSION_COOKIE, Sess, Shared, cookie_value};
use crate::session::{self, Stage};

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only a path of this site: never `//other.example` or a full URL.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/cluster"
    }
}

/// The log-in form, with the browser's log-in token when it has one already: a second tab,
/// or a request the browser makes by itself (an icon) that lands here, must not make the
/// form open in the first tab stale.
fn login_form(
    app: &Shared,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    user: &str,
    error: Option<&str>,
) -> Response {
    let existing = cookie_value(headers, LOGIN_COOKIE).filter(|t| {
        t.len() == 43
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let token = match existing.map(str::to_string).map_or_else(session::token, Ok) {
        Ok(t) => t,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let mut resp = page(
        app,
        None,
        status,
        "login.html",
        json!({"title": "Log in", "login_token": token, "next": next, "username": user, "error": error}),
    );
    if let Ok(v) = app.cookie(LOGIN_COOKIE, &token, None).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

pub async fn form_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    login_form(&app, &headers, StatusCode::OK, safe_next(&q.next), "", None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    login_token: String,
    #[serde(default)]
    next: String,
}

/// The peer's address only: X-Forwarded-For is whatever the client wants it to be.
fn client_addr(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "unknown".into(), |p| p.ip().to_string())
}

pub async fn submit(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(&form.next).to_string();
    // Double submit: the form's token must be the one its cookie carries.
    let cookie = cookie_value(&headers, LOGIN_COOKIE).unwrap_or("");
    if cookie.is_empty()
        || !zato_common::crypto::same(cookie.as_bytes(), form.login_token.as_bytes())
    {
        return problem(
            &app,
            None,
            StatusCode::FORBIDDEN,
            "Refused",
            "The log-in form did not carry its security token (CSRF). Open the log-in page again.",
        );
    }
    let user = form.username.trim().to_string();
    let keys = vec![
        format!("user:{user}"),
        format!("addr:{}", client_addr(Some(peer))),
    ];
    if let Some(wait) = app.throttle.locked(&keys) {
        let msg = format!(
            "Too many failed log-ins: try again in {} seconds.",
            wait.as_secs().max(1)
        );
        return login_form(
            &app,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            &user,
            Some(&msg),
        );
    }
    let users = match app.users.current() {
        Ok(u) => u,
        Err(e) => {
            tracing::error!("cannot read the users: {e}");
            return problem(
                &app,
                None,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Cannot log in",
                "The users file cannot be read; see the web admin's log.",
            );
        }
    };
    let record = users.get(&user).cloned();
    let hash = record.as_ref().map_or_else(
        || crate::users::dummy_hash().to_string(),
        |u| u.password.clone(),
    );
    let password = form.password;
    // argon2 takes tens of milliseconds of CPU: off the request threads.
    let ok = tokio::task::spawn_blocking(move || crate::users::verify(&hash, &password))
        .await
        .unwrap_or(false);
    let Some(record) = record.filter(|_| ok) else {
        app.throttle.failed(&keys);
        tracing::warn!("failed log-in for `{user}` from {}", keys[1]);
        return login_form(
            &app,
            &headers,
            StatusCode::UNAUTHORIZED,
            &next,
            &user,
            Some("Wrong user name or password."),
        );
    };
    app.throttle.succeeded(&keys[0]);
    let stage = if !record.has_totp() {
        Stage::Full
    } else {
        Stage::NeedsCode
    };
    let id = match app.sessions.create(&user, &record.password, stage) {
        Ok(id) => id,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    tracing::info!("`{user}` logged in");
    let target = if stage == Stage::Full {
        next
    } else {
        format!(
            "/login/code?next={}",
            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        )
    };
    let mut resp = Redirect::to(&target).into_response();
    for c in [
        app.cookie(SESSION_COOKIE, &id, None),
        app.cookie(LOGIN_COOKIE, "", Some(0)),
    ] {
        if let Ok(v) = c.parse() {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

pub async fn code_page(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Query(q): Query<NextQuery>,
) -> Response {
    page(
        &app,
        None,
        StatusCode::OK,
        "code.html",
        json!({"title": "Second factor", "csrf": sess.csrf, "next": safe_next(&q.next), "error": null}),
    )
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

pub async fn code_submit(
    State(app): State<Shared>,
    Extension(sess): Extension<Sess>,
    Form(form): Form<CodeForm>,
) -> Response {
    let next = safe_next(&form.next).to_string();
    // A key that does not decrypt fails closed: no code is accepted until it is reset.
    let key = app
        .users
        .current()
        .ok()
        .and_then(|u| {
            u.get(&sess.user).map(|r| {
                r.totp_secret(&sess.user, &app.cfg.secret_key)
                    .inspect_err(|e| tracing::error!("{e}"))
                    .unwrap_or_default()
            })
        })
        .unwrap_or_default();
    let keys = vec![format!("user:{}", sess.user)];
    if app.throttle.locked(&keys).is_some()
        || key.is_empty()
        || !crate::totp::check(&key, &form.code)
    {
        app.throttle.failed(&keys);
        return page(
            &app,
            None,
            StatusCode::UNAUTHORIZED,
            "code.html",
            json!({"title": "Second factor", "csrf": sess.csrf, "next": next, "error": "Wrong or expired code."}),
        );
    }
    app.throttle.succeeded(&keys[0]);
    match app.sessions.promote(&sess.id) {
        Ok(Some(id)) => {
            let mut resp = Redirect::to(&next).into_response();
            if let Ok(v) = app.cookie(SESSION_COOKIE, &id, None).parse() {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
        _ => Redirect::to("/login").into_response(),
    }
}

pub async fn logout(State(app): State<Shared>, Extension(sess): Extension<Sess>) -> Response {
    app.sessions.revoke(&sess.id);
    tracing::info!("`{}` logged out", sess.user);
    let mut resp = Redirect::to("/login").into_response();
    if let Ok(v) = app.cookie(SESSION_COOKIE, "", Some(0)).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
