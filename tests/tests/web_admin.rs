//! The web admin in a real headless Chromium, in front of a two-server cluster and its load
//! balancer: log-in, throttling, log-out, session expiry and CSRF; then the pages as an
//! administrator uses them: channels with security, service upload and invoke, outgoing
//! connections, the load balancer, the scheduler, the cache, statistics and config
//! export/import. Screenshots of the main pages land in target/web-admin-screenshots/.
use std::time::Duration;

use serde_json::{Value, json};
use zato_tests::lb::{Lb, start_lb};
use zato_tests::web::{Browser, WebAdmin};
use zato_tests::{Backend, Options, TestCluster, eventually};

const SERVICE: &str = r#"
from zato.server.service import Service

class WebHello(Service):
    name = 'web.hello'

    def handle(self):
        req = self.request.payload
        who = req.get('name', 'nobody') if isinstance(req, dict) else 'nobody'
        self.cache.default.set('web.hello.last', who)
        self.response.payload = {'hello': who}
"#;

const BROKEN: &str = "from zato.server.service import Service\n\nclass Broken(Service:\n    pass\n";

/// Two servers (with the local Redis as their `[kvdb]` when `kvdb`) behind a load balancer.
async fn cluster_with_lb(kvdb: bool) -> (TestCluster, Lb) {
    let cluster = TestCluster::start(
        Backend::Sqlite,
        Options {
            servers: 2,
            kvdb,
            ..Options::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let ports: Vec<(&str, u16)> = cluster
        .servers
        .iter()
        .map(|s| (s.name.as_str(), s.port))
        .collect();
    let lb = start_lb(&ports).await;
    (cluster, lb)
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn no_redirects() -> reqwest::Client {
    zato_common::http::local_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn log_in_throttle_log_out_expiry_and_csrf() {
    let (cluster, lb) = cluster_with_lb(false).await;
    let wa = WebAdmin::start(&cluster, &lb, |conf| {
        conf.replace("idle_seconds = 1800", "idle_seconds = 3")
            .replace("max_failures = 5", "max_failures = 3")
            .replace("lockout_seconds = 60", "lockout_seconds = 3")
    })
    .await;
    let http = no_redirects();

    // Nothing but the log-in page without a session: pages redirect to it, actions get 401.
    for path in [
        "/cluster",
        "/services",
        "/services/zato.ping",
        "/k/basic-auth",
        "/stats",
        "/enmasse",
        "/enmasse/export",
        "/cache/1",
    ] {
        let r = http
            .get(wa.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 303, "{path}");
        let to = r.headers()["location"]
            .to_str()
            .unwrap_or_default()
            .to_string();
        assert!(to.starts_with("/login?next="), "{path} → {to}");
    }
    for path in [
        "/k/basic-auth/create",
        "/services/upload",
        "/cluster/lb/weight",
        "/logout",
        "/enmasse",
        "/k/scheduler/1/do/execute",
    ] {
        let r = http
            .post(wa.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("csrf", "x")]))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 401, "{path}");
    }
    // Security headers on every answer.
    let r = http
        .get(wa.url("/login"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap_or_default();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let cookie = r.headers()["set-cookie"].to_str().unwrap_or_default();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    let b = Browser::start().await;
    // A wrong password is refused.
    b.log_in(&wa, "admin", "not-the-password").await;
    assert!(
        b.shows("Wrong user name or password").await,
        "{}\n{}",
        b.text("main").await,
        wa.log()
    );
    b.screenshot("login-refused").await;
    // Throttled: after three failures even the right password is refused for a while.
    b.log_in(&wa, "admin", "wrong-again").await;
    b.log_in(&wa, "admin", "wrong-a-third-time").await;
    b.log_in(&wa, "admin", &wa.password).await;
    assert!(
        b.shows("Too many failed log-ins").await,
        "{}",
        b.source().await
    );
    assert!(b.url().await.contains("/login"));
    // Once the lockout is over the right password works, and lands on the page asked for.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    b.goto(&wa.url("/services")).await;
    assert!(b.url().await.contains("/login?next="), "{}", b.url().await);
    b.fill("#username", "admin").await;
    b.fill("#password", &wa.password).await;
    b.click("#login-form button[type=submit]").await;
    assert!(b.url().await.ends_with("/services"), "{}", b.url().await);
    b.find("#services").await;
    // Messages come from the session, never from the URL: a crafted link shows nothing.
    b.goto(&wa.url("/k/basic-auth?done=Your+password+expired&error=Call+us"))
        .await;
    assert!(!b.shows("Your password expired").await && !b.shows("Call us").await);
    // The colour marker is on the page.
    b.find(".marker").await;
    assert!(b.shows("Test").await);

    // A form posted without the session's CSRF token is refused, from the page itself too.
    let session = b
        .cookie("zato_session")
        .await
        .unwrap_or_else(|| panic!("no session cookie"));
    let r = http
        .post(wa.url("/k/basic-auth/create"))
        .header("cookie", format!("zato_session={session}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("name", "no-csrf"), ("username", "u")]))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap_or_default().contains("CSRF"));
    // The right token from another site's page: refused by its origin.
    let csrf = b
        .find("input[name=csrf]")
        .await
        .attr("value")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let r = http
        .post(wa.url("/k/basic-auth/create"))
        .header("cookie", format!("zato_session={session}"))
        .header("origin", "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf", csrf.as_str()),
            ("name", "cross"),
            ("username", "u"),
        ]))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 403);
    b.mark_page().await;
    b.client
        .execute(
            "var f = document.createElement('form'); f.method = 'post'; f.action = '/k/basic-auth/create';
             var i = document.createElement('input'); i.name = 'name'; i.value = 'forged'; f.appendChild(i);
             document.body.appendChild(f); f.submit();",
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.wait_for_new_page().await;
    assert!(b.shows("CSRF").await, "{}", b.source().await);
    let defs = cluster.servers[0]
        .admin()
        .invoke("zato.security.basic-auth.get-list", &json!({}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !defs.data.to_string().contains("forged") && !defs.data.to_string().contains("no-csrf")
    );

    // Log-out ends the session: the old cookie no longer opens a page.
    b.goto(&wa.url("/cluster")).await;
    b.click("#logout").await;
    assert!(b.url().await.contains("/login"), "{}", b.url().await);
    let r = http
        .get(wa.url("/cluster"))
        .header("cookie", format!("zato_session={session}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 303);

    // An expired session goes back to the log-in page.
    b.log_in(&wa, "admin", &wa.password).await;
    assert!(b.url().await.ends_with("/cluster"), "{}", b.url().await);
    tokio::time::sleep(Duration::from_millis(3300)).await;
    b.goto(&wa.url("/services")).await;
    assert!(
        b.url().await.contains("/login?next=%2Fservices"),
        "{}",
        b.url().await
    );
    b.screenshot("login").await;

    // A changed password takes effect at the next log-in, without a restart.
    change_password(&wa, "a-new-password-1");
    b.log_in(&wa, "admin", &wa.password).await;
    assert!(b.shows("Wrong user name or password").await);
    b.log_in(&wa, "admin", "a-new-password-1").await;
    assert!(b.url().await.ends_with("/cluster"), "{}", b.url().await);
    // Changing it again ends the sessions opened with the old one, at their next request.
    change_password(&wa, "a-new-password-2");
    b.goto(&wa.url("/services")).await;
    assert!(
        b.url().await.contains("/login?next="),
        "a session outlived its password: {}",
        b.url().await
    );
    b.close().await;
    assert!(
        wa.log().contains("failed log-in for `admin`"),
        "{}",
        wa.log()
    );
    drop(wa);
    drop(lb);
    cluster.finish().await;
}

/// The page's flash message (done or error).
async fn flash(b: &Browser) -> String {
    b.text(".flash").await
}

/// `zato update password` for the web admin's `admin`.
fn change_password(wa: &WebAdmin, password: &str) {
    zato_tests::cli::ok(&[
        "update",
        "password",
        &wa.dir.to_string_lossy(),
        "admin",
        "--password",
        password,
    ]);
}

/// A page's text fetched outside the browser with its session cookie (downloads).
async fn download(http: &reqwest::Client, url: &str, session: &str) -> String {
    http.get(url)
        .header("cookie", format!("zato_session={session}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Uploads `code` as the file `path` from the services page; the message it got.
async fn upload(b: &Browser, wa: &WebAdmin, path: &std::path::Path, code: &str) -> String {
    std::fs::write(path, code).unwrap_or_else(|e| panic!("{e}"));
    b.goto(&wa.url("/services")).await;
    b.find("#upload-file")
        .await
        .send_keys(&path.to_string_lossy())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.click("#upload-form button").await;
    flash(b).await
}

/// Clicks a button that asks for confirmation, confirms, and waits for the next page.
async fn click_confirmed(b: &Browser, css: &str) {
    b.mark_page().await;
    b.click_only(css).await;
    let accepted = eventually(Duration::from_secs(5), || async {
        b.client.accept_alert().await.ok()
    })
    .await;
    assert!(accepted.is_some(), "no confirmation asked for {css}");
    b.wait_for_new_page().await;
}

#[tokio::test]
async fn pages_run_the_cluster() {
    let (cluster, lb) = cluster_with_lb(true).await;
    let wa = WebAdmin::start(&cluster, &lb, |c| c).await;
    let admin = cluster.servers[0].admin();
    let b = Browser::start().await;
    b.log_in(&wa, "admin", &wa.password).await;

    // The cluster: both servers running, the load balancer's servers, HAProxy's config.
    assert!(b.url().await.ends_with("/cluster"));
    let servers = b.text("#servers").await;
    assert!(
        servers.contains("server1") && servers.contains("server2"),
        "{servers}"
    );
    assert_eq!(servers.matches("running").count(), 2, "{servers}");
    assert!(b.text("#lb-servers").await.contains("server2"));
    assert!(b.source().await.contains("backend"), "no HAProxy config");
    b.screenshot("cluster").await;

    // Upload a service file: deployed on every server, invoked from the invoker.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let msg = upload(&b, &wa, &dir.path().join("web_hello.py"), SERVICE).await;
    assert!(
        msg.contains("Deployed web_hello.py") && msg.contains("web.hello"),
        "{msg}"
    );
    b.fill("#q", "web.").await;
    b.click("form[role=search] button").await;
    assert!(b.text("#services").await.contains("web.hello"));
    b.screenshot("services").await;
    let deployed_everywhere = eventually(Duration::from_secs(10), || async {
        b.goto(&wa.url("/services/web.hello")).await;
        let t = b.text("#deployed").await;
        (t.matches("Yes").count() == 2).then_some(t)
    })
    .await;
    assert!(
        deployed_everywhere.is_some(),
        "{}",
        b.text("#deployed").await
    );
    assert!(
        b.source().await.contains("<span class=\"k\">class</span>"),
        "no highlighted source"
    );
    b.set("#payload", r#"{"name": "browser"}"#).await;
    b.click("#invoke-form button").await;
    let response = b.text("#invoke-response").await;
    assert!(response.contains(r#""hello": "browser""#), "{response}");
    b.screenshot("service").await;
    // Bad JSON is said so before anything is invoked.
    b.set("#payload", "{not json").await;
    b.click("#invoke-form button").await;
    assert!(b.text("#invoke-error").await.contains("not JSON"));

    // A broken file: its error is shown and nothing is deployed.
    let msg = upload(&b, &wa, &dir.path().join("broken.py"), BROKEN).await;
    assert!(
        msg.contains("broken.py was not deployed") && msg.contains("SyntaxError"),
        "{msg}"
    );

    // A Basic Auth definition and a REST channel using it, then called with curl.
    b.goto(&wa.url("/k/basic-auth")).await;
    b.fill("#f-name", "web.crm").await;
    b.fill("#f-username", "crm").await;
    b.fill("#f-password", "crm-secret-1").await;
    b.click("#create-form button").await;
    assert!(flash(&b).await.contains("Created"), "{}", b.source().await);
    b.goto(&wa.url("/k/channel-rest")).await;
    // Left empty, a required field is named next to it.
    b.fill("#f-name", "web.hello.rest").await;
    b.click("#create-form button").await;
    assert!(b.text("#error-url_path").await.contains("Required"));
    b.fill("#f-url_path", "/web/hello").await;
    b.fill("#f-service", "web.hello").await;
    b.set("#f-security_name", "web.crm").await;
    b.set("#f-method", "POST").await;
    b.click("#create-form button").await;
    assert!(
        flash(&b).await.contains("Created REST channel"),
        "{}",
        b.source().await
    );
    assert!(b.text("#rows").await.contains("/web/hello"));
    b.screenshot("channels-rest").await;
    let curl = |auth: &str| {
        std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "-",
                "-w",
                "\n%{http_code}",
                "-u",
                auth,
                "-X",
                "POST",
                "-d",
                r#"{"name":"curl"}"#,
            ])
            .arg(lb.url("/web/hello"))
            .output()
            .unwrap_or_else(|e| panic!("curl: {e}"))
    };
    let called = eventually(Duration::from_secs(5), || async {
        let out = String::from_utf8_lossy(&curl("crm:crm-secret-1").stdout).into_owned();
        out.ends_with("200").then_some(out)
    })
    .await
    .unwrap_or_else(|| panic!("the channel never answered 200"));
    assert!(called.contains(r#""hello":"curl""#), "{called}");
    let refused = String::from_utf8_lossy(&curl("crm:wrong").stdout).into_owned();
    assert!(refused.ends_with("401"), "{refused}");
    // A second channel on the same path is refused, the reason next to the field it names.
    b.fill("#f-name", "web.hello.clash").await;
    b.fill("#f-url_path", "/web/hello").await;
    b.fill("#f-service", "web.hello").await;
    b.set("#f-method", "POST").await;
    b.click("#create-form button").await;
    let clash = b.text("#form-error").await;
    assert!(clash.contains("already serves"), "{clash}");
    assert!(
        !admin
            .invoke("zato.http-soap.get", &json!({"name": "web.hello.clash"}))
            .await
            .is_ok_and(|r| r.ok),
        "the clashing channel was created"
    );

    // An outgoing REST connection, then edited.
    b.goto(&wa.url("/k/outgoing-rest")).await;
    b.fill("#f-name", "web.out").await;
    b.fill("#f-host", "http://127.0.0.1:9").await;
    b.fill("#f-url_path", "/api").await;
    b.click("#create-form button").await;
    assert!(flash(&b).await.contains("Created"), "{}", b.source().await);
    let row = b.find("#rows tr[data-id]").await;
    let id = row.attr("data-id").await.ok().flatten().unwrap_or_default();
    b.goto(&wa.url(&format!("/k/outgoing-rest/{id}"))).await;
    b.fill("#f-host", "http://127.0.0.1:10").await;
    b.fill("#f-timeout", "7").await;
    b.click("#edit-form button").await;
    assert!(flash(&b).await.contains("Saved"), "{}", b.source().await);
    let got = admin
        .invoke(
            "zato.http-soap.get",
            &json!({"id": id.parse::<i64>().unwrap_or(0)}),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.data["host"], "http://127.0.0.1:10", "{}", got.data);
    assert_eq!(got.data["timeout"], 7, "{}", got.data);
    // Ping: the refused port is reported, not a crash.
    b.click(&format!(
        "#rows tr[data-id='{id}'] button[data-action=ping]"
    ))
    .await;
    assert!(
        flash(&b).await.to_lowercase().contains("ping"),
        "{}",
        flash(&b).await
    );
    b.screenshot("outgoing-rest").await;

    // Drain server1 in the load balancer: the traffic moves to server2.
    let http = zato_common::http::local_client();
    let count = |name: &'static str| {
        let lb = &lb;
        async move { lb.server(name).await.0 }
    };
    b.goto(&wa.url("/cluster")).await;
    click_confirmed(&b, "#lb-servers tr[data-server=server1] button.drain").await;
    let msg = flash(&b).await;
    assert!(msg.contains("server1 drained"), "{msg}");
    let (one, two) = (count("server1").await, count("server2").await);
    for _ in 0..20 {
        let r = http
            .get(lb.url("/zato/ping"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.status().is_success());
    }
    assert_eq!(count("server1").await, one, "a drained server got requests");
    assert!(count("server2").await >= two + 20);
    b.goto(&wa.url("/cluster")).await;
    assert_eq!(
        b.text("#lb-servers tr[data-server=server1] .weight").await,
        "0"
    );
    b.screenshot("load-balancer").await;

    // A scheduler job: created, executed now, deactivated.
    b.goto(&wa.url("/k/scheduler")).await;
    b.fill("#f-name", "web.job").await;
    b.set("#f-job_type", "interval_based").await;
    b.fill("#f-service", "web.hello").await;
    b.fill(
        "#f-start_date",
        &chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
    )
    .await;
    b.fill("#f-hours", "1").await;
    b.set("#f-extra", r#"{"name": "scheduler"}"#).await;
    b.click("#create-form button").await;
    assert!(
        flash(&b).await.contains("Created scheduler job"),
        "{}",
        b.source().await
    );
    assert!(
        b.text("#rows").await.contains("every 1h"),
        "{}",
        b.text("#rows").await
    );
    b.click("#rows button[data-action=execute]").await;
    assert!(
        flash(&b).await.contains("Execute now: OK"),
        "{}",
        flash(&b).await
    );
    let ran = eventually(Duration::from_secs(10), || async {
        let caches = admin
            .invoke("zato.cache.builtin.get-list", &json!({}))
            .await
            .ok()?;
        let id = caches
            .data
            .as_array()?
            .iter()
            .find(|c| c["name"] == "default")?["id"]
            .clone();
        let e = admin
            .invoke(
                "zato.cache.builtin.entry.get",
                &json!({"cache_id": id, "key": "web.hello.last"}),
            )
            .await
            .ok()?;
        (e.data.to_string().contains("scheduler")).then_some(id)
    })
    .await;
    let cache_id = ran.unwrap_or_else(|| panic!("the executed job's service never ran"));
    b.click("#rows button[data-action=toggle]").await;
    assert!(
        flash(&b).await.contains("Deactivate: OK"),
        "{}",
        flash(&b).await
    );
    let jobs = admin
        .invoke("zato.scheduler.job.get-list", &json!({}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let job = jobs
        .data
        .as_array()
        .and_then(|a| a.iter().find(|j| j["name"] == "web.job"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(job["is_active"], false, "{job}");
    assert!(b.text("#rows").await.contains("Activate"));
    b.screenshot("scheduler").await;

    // The default cache's entries: the job's write is there; deleted from the page.
    b.goto(&wa.url(&format!("/cache/{cache_id}"))).await;
    assert!(b.text("#entries").await.contains("web.hello.last"));
    click_confirmed(&b, "#entries button.danger").await;
    assert!(flash(&b).await.contains("Deleted"), "{}", flash(&b).await);
    b.screenshot("cache").await;

    // The Redis console: commands run on the cluster's Redis, replies as redis-cli shows them.
    let key = format!("web-admin-test-{}", cluster.name);
    let redis_page = wa.url("/redis");
    let run = |line: String| {
        let (b, page) = (&b, &redis_page);
        async move {
            b.goto(page).await;
            b.fill("#command", &line).await;
            b.click("#redis-form button").await;
        }
    };
    run(format!("SET {key} 'hello there'")).await;
    assert_eq!(b.text("#redis-result").await, "OK");
    run(format!("GET {key}")).await;
    assert_eq!(b.text("#redis-result").await, "\"hello there\"");
    b.screenshot("redis").await;
    run("SUBSCRIBE news".into()).await;
    assert!(
        b.text("#redis-error")
            .await
            .contains("not run from the console")
    );
    run(format!("DEL {key}")).await;
    assert_eq!(b.text("#redis-result").await, "(integer) 1");

    // Statistics: the calls made above are counted; CSV from the same period.
    let counted = eventually(Duration::from_secs(10), || async {
        b.goto(&wa.url("/stats?period=hour&n=0")).await;
        let t = b.text("#most-used").await;
        t.contains("web.hello").then_some(t)
    })
    .await;
    assert!(counted.is_some(), "{}", b.text("#most-used").await);
    b.screenshot("stats").await;
    let session = b.cookie("zato_session").await.unwrap_or_default();
    let csv = download(
        &http,
        &wa.url("/stats/csv?period=hour&n_type=usage"),
        &session,
    )
    .await;
    assert!(csv.contains("web.hello"), "{csv}");

    // Export, change the cluster, import the export back: the difference is shown first,
    // then applied.
    let export = download(&http, &wa.url("/enmasse/export"), &session).await;
    assert!(export.contains("/web/hello"), "{export}");
    let exported = dir.path().join("export.yaml");
    std::fs::write(&exported, &export).unwrap_or_else(|e| panic!("{e}"));
    let channel = admin
        .invoke("zato.http-soap.get", &json!({"name": "web.hello.rest"}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut edit = channel.data.clone();
    edit["url_path"] = json!("/web/hello-moved");
    let edit = json!({"id": edit["id"], "name": edit["name"], "url_path": edit["url_path"], "service": "web.hello", "connection": "channel", "transport": "plain_http"});
    admin
        .invoke("zato.http-soap.edit", &edit)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.goto(&wa.url("/enmasse")).await;
    b.screenshot("enmasse").await;
    b.find("#import-file")
        .await
        .send_keys(&exported.to_string_lossy())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.click_only("#import-form input[name=replace]").await;
    b.click("#import-form button").await;
    let diff = b.text("#diff").await;
    assert!(
        diff.contains("web.hello.rest") && diff.contains("/web/hello-moved → /web/hello"),
        "{diff}"
    );
    assert!(b.shows("Nothing has changed yet").await);
    let still = admin
        .invoke("zato.http-soap.get", &json!({"name": "web.hello.rest"}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        still.data["url_path"], "/web/hello-moved",
        "the check changed something"
    );
    b.screenshot("enmasse-diff").await;
    b.click("#apply").await;
    assert!(
        b.text("#applied").await.contains("Imported"),
        "{}",
        b.source().await
    );
    let back = admin
        .invoke("zato.http-soap.get", &json!({"name": "web.hello.rest"}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.data["url_path"], "/web/hello");
    // A file with problems: listed, nothing changes.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "channel_rest:\n  - {name: web.bad, url_path: /bad, service: no.such.service}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    b.goto(&wa.url("/enmasse")).await;
    b.find("#import-file")
        .await
        .send_keys(&bad.to_string_lossy())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.click("#import-form button").await;
    assert!(
        b.text("#problems").await.contains("no.such.service"),
        "{}",
        b.source().await
    );
    assert!(
        b.client
            .find(fantoccini::Locator::Css("#apply"))
            .await
            .is_err(),
        "an import with problems can be applied"
    );

    // At 200% zoom (half the window in CSS pixels) the menu moves above the page, which
    // needs no sideways scrolling.
    b.client
        .set_window_size(683, 900)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.goto(&wa.url("/k/channel-rest")).await;
    let fits = b
        .client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.screenshot("channels-rest-zoom-200").await;
    assert_eq!(fits, json!(true), "the page scrolls sideways at 200% zoom");

    b.close().await;
    drop(wa);
    drop(lb);
    cluster.finish().await;
}

/// The `Set-Cookie` value named `name` of a response, and the cookie header to send it back.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(String::from)
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn https_and_a_second_factor() {
    let (cluster, lb) = cluster_with_lb(false).await;
    let wa = WebAdmin::start_with(&cluster, &lb, &["--tls"], |c| c).await;
    let repo = zato_common::config::repo_dir(&wa.dir);
    let tls = zato_lb::tls::client_config(
        &repo.join("web-admin-cert.pem"),
        &repo.join("web-admin-priv-key.pem"),
        &repo.join("web-admin-ca-certs.pem"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let https = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    // HTTPS only: plain HTTP on its port gets no page.
    let plain = no_redirects()
        .get(format!("http://127.0.0.1:{}/login", wa.port))
        .send()
        .await;
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status() != 200));
    let r = https
        .get(wa.url("/login"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("strict-transport-security"));
    let login_cookie = set_cookie(&r, "zato_login").unwrap_or_else(|| panic!("no log-in cookie"));
    assert!(login_cookie.contains("; Secure"), "{login_cookie}");
    let page = r.text().await.unwrap_or_default();
    let token = page
        .split("name=\"login_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_string();

    // The second factor: the password alone does not open the pages.
    let out = zato_tests::cli::ok(&["reset-totp-key", &wa.dir.to_string_lossy(), "admin"]);
    let key = out
        .split("TOTP key of web admin user admin: ")
        .nth(1)
        .and_then(|r| r.lines().next())
        .unwrap_or_else(|| panic!("no key in {out}"))
        .trim()
        .to_string();
    let users_conf = std::fs::read_to_string(
        zato_common::config::repo_dir(&wa.dir).join(zato_web_admin::users::FILE),
    )
    .expect("users.conf");
    assert!(
        users_conf.contains("totp_key") && !users_conf.contains(&key),
        "the TOTP key must be stored encrypted: {users_conf}"
    );
    let origin = format!("https://127.0.0.1:{}", wa.port);
    let r = https
        .post(wa.url("/login"))
        .header("cookie", cookie_pair(&login_cookie))
        .header("origin", &origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("username", "admin"),
            ("password", &wa.password),
            ("login_token", &token),
            ("next", "/cluster"),
        ]))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap_or_default()
            .starts_with("/login/code")
    );
    let half = cookie_pair(&set_cookie(&r, "zato_session").unwrap_or_else(|| panic!("no session")));
    let r = https
        .get(wa.url("/cluster"))
        .header("cookie", &half)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 303, "a half-done log-in opened a page");
    let code_page = https
        .get(wa.url("/login/code"))
        .header("cookie", &half)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = code_page.text().await.unwrap_or_default();
    let csrf = text
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_string();
    let post_code = |code: String| {
        https
            .post(wa.url("/login/code"))
            .header("cookie", &half)
            .header("origin", &origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf", &csrf),
                ("code", &code),
                ("next", "/cluster"),
            ]))
            .send()
    };
    let wrong = post_code("000000".into())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(wrong.status(), 401);
    let code = zato_web_admin::totp::current(&key).unwrap_or_default();
    let right = post_code(code).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(right.status(), 303);
    let full =
        cookie_pair(&set_cookie(&right, "zato_session").unwrap_or_else(|| panic!("no session")));
    assert_ne!(full, half, "the session token was not renewed");
    let r = https
        .get(wa.url("/cluster"))
        .header("cookie", &full)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap_or_default().contains("server2"));
    drop(wa);
    drop(lb);
    cluster.finish().await;
}
