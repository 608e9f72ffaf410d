//! The web admin in tests: one made with `zato create web-admin` in front of a test cluster's
//! load balancer and started with `zato start`, and a real headless Chromium driven through
//! chromedriver (WebDriver) to use it as a person would. Screenshots go to
//! `target/web-admin-screenshots/`.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::cli::ok;
use crate::lb::Lb;
use crate::{ADMIN_PASSWORD, TestCluster, eventually, free_port};

pub struct WebAdmin {
    pub dir: PathBuf,
    pub port: u16,
    /// Serves HTTPS (`zato create web-admin --tls`).
    pub tls: bool,
    /// The password `zato create web-admin` printed for `admin`.
    pub password: String,
    _tmp: tempfile::TempDir,
}

impl WebAdmin {
    /// A web admin for `cluster` through `lb` (its agent too, with a certificate from the load
    /// balancer's CA); `tweak` may rewrite web-admin.conf before it starts.
    pub async fn start(
        cluster: &TestCluster,
        lb: &Lb,
        tweak: impl FnOnce(String) -> String,
    ) -> Self {
        Self::start_with(cluster, lb, &[], tweak).await
    }

    /// As [`WebAdmin::start`] with more `zato create web-admin` options (`--tls`).
    pub async fn start_with(
        cluster: &TestCluster,
        lb: &Lb,
        options: &[&str],
        tweak: impl FnOnce(String) -> String,
    ) -> Self {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().join("web-admin");
        let port = free_port();
        let ca = lb.dir.parent().map(|p| p.join("ca")).unwrap_or_default();
        let agent = zato_lb::config::LbConfig::load(&lb.dir)
            .unwrap_or_else(|e| panic!("{e}"))
            .agent
            .bind;
        let dir_text = dir.to_string_lossy().into_owned();
        let bind = format!("127.0.0.1:{port}");
        let ca_text = ca.to_string_lossy().into_owned();
        let lb_address = lb.url("");
        let mut args = vec![
            "create",
            "web-admin",
            &dir_text,
            &cluster.name,
            "--lb-address",
            &lb_address,
            "--bind",
            &bind,
            "--ca-path",
            &ca_text,
            "--lb-agent",
            &agent,
            "--marker-color",
            "green",
            "--marker-label",
            "Test",
            "--admin-invoke-password",
            ADMIN_PASSWORD,
        ];
        args.extend_from_slice(options);
        let out = ok(&args);
        let password = out
            .split("Web admin user:[admin], password:[")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .unwrap_or_else(|| panic!("no password in {out}"))
            .to_string();
        let conf = zato_common::config::repo_dir(&dir).join("web-admin.conf");
        let text = std::fs::read_to_string(&conf).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&conf, tweak(text)).unwrap_or_else(|e| panic!("{e}"));
        ok(&["start", &dir.to_string_lossy()]);
        Self {
            dir,
            port,
            tls: options.contains(&"--tls"),
            password,
            _tmp: tmp,
        }
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/web-admin.log")).unwrap_or_default()
    }
}

impl Drop for WebAdmin {
    fn drop(&mut self) {
        let _ = crate::cli::zato(&["stop", &self.dir.to_string_lossy()]);
    }
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    shots: PathBuf,
}

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

impl Browser {
    /// Headless Chromium at a laptop's window size, through a chromedriver of its own.
    pub async fn start() -> Self {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: the browser tests need Debian's chromium and chromium-driver; install them with `bash scripts/install-deps.sh --tests`"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {CHROMEDRIVER}: {e}"));
        let url = format!("http://127.0.0.1:{port}");
        let ready = eventually(Duration::from_secs(20), || async {
            reqwest::get(format!("{url}/status"))
                .await
                .ok()
                .filter(|r| r.status().is_success())
        })
        .await;
        assert!(ready.is_some(), "chromedriver did not start on {url}");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1366,900", "--no-first-run", "--disable-extensions"],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot start Chromium through chromedriver: {e}"));
        let shots =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/web-admin-screenshots");
        let _ = std::fs::create_dir_all(&shots);
        Self {
            client,
            driver,
            shots,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap_or_default()
    }

    /// Types `value` into the field `css` (cleared first).
    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.find(css).await;
        el.clear().await.unwrap_or_else(|e| panic!("{css}: {e}"));
        el.send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
    }

    /// Sets a field's value directly (a select, or a textarea with much text).
    pub async fn set(&self, css: &str, value: &str) {
        self.client
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![json!(css), json!(value)],
            )
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(el) => el,
            Err(e) => panic!(
                "no `{css}` on {}: {e}\n{}",
                self.url().await,
                self.source().await
            ),
        }
    }

    /// Clicks `css` and waits for the page it leads to.
    pub async fn click(&self, css: &str) {
        self.mark_page().await;
        self.click_only(css).await;
        self.wait_for_new_page().await;
    }

    /// Clicks `css` without waiting (a button that opens a dialog first).
    pub async fn click_only(&self, css: &str) {
        let el = self.find(css).await;
        el.click().await.unwrap_or_else(|e| panic!("{css}: {e}"));
    }

    /// Marks the current document, so that [`Browser::wait_for_new_page`] can tell it went.
    pub async fn mark_page(&self) {
        let _ = self
            .client
            .execute("window.__zatoOld = true;", vec![])
            .await;
    }

    /// Waits until the marked document has been replaced by a fully loaded one.
    pub async fn wait_for_new_page(&self) {
        let loaded = eventually(Duration::from_secs(15), || async {
            let v = self
                .client
                .execute(
                    "return window.__zatoOld === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .ok()?;
            v.as_bool().filter(|b| *b)
        })
        .await;
        assert!(
            loaded.is_some(),
            "no new page after a click, at {}",
            self.url().await
        );
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap_or_default()
    }

    /// Whether the page shows `needle` (its text, not its markup).
    pub async fn shows(&self, needle: &str) -> bool {
        self.text("body").await.contains(needle)
    }

    pub async fn screenshot(&self, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(self.shots.join(format!("{name}.png")), png);
        }
    }

    pub async fn log_in(&self, wa: &WebAdmin, user: &str, password: &str) {
        self.goto(&wa.url("/login")).await;
        self.fill("#username", user).await;
        self.fill("#password", password).await;
        self.click("#login-form button[type=submit]").await;
    }

    /// A cookie's value in the browser.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.client
            .get_named_cookie(name)
            .await
            .ok()
            .map(|c| c.value().to_string())
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
