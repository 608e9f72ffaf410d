//! A load balancer of the tests' own (CA, agent certificate, lb.conf with fast health checks)
//! in front of given servers, and its agent.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hyper::Method;
use serde_json::{Value, json};
use zato_ca::{Purpose, Subject};
use zato_lb::client::AgentClient;
use zato_lb::config::{LbConfig, Server};

use crate::{bin_dir, eventually, free_port};

pub struct Lb {
    pub dir: PathBuf,
    pub port: u16,
    /// The frontend's address.
    pub host: String,
    pub child: Child,
    /// The frontend speaks HTTPS.
    pub tls: bool,
    _tmp: tempfile::TempDir,
}

impl Drop for Lb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Lb {
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}:{}{path}", self.host, self.port)
    }

    pub fn agent(&self) -> AgentClient {
        AgentClient::for_dir(&self.dir).unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn servers(&self) -> Value {
        self.agent()
            .call(Method::GET, "/servers", None)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// (requests, state) of a server, from the agent.
    pub async fn server(&self, name: &str) -> (u64, String) {
        let all = self.servers().await;
        let s = all
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == name))
            .unwrap_or_else(|| panic!("no {name} in {all}"));
        (
            s["requests"].as_u64().unwrap_or(0),
            s["state"].as_str().unwrap_or("").to_string(),
        )
    }

    pub async fn set_weight(&self, name: &str, weight: u32) {
        self.agent()
            .call(
                Method::PUT,
                &format!("/servers/{name}/weight"),
                Some(json!({"weight": weight})),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// A CA in `dir/ca` and a load balancer in `dir/lb` with fast health checks.
pub async fn start_lb(servers: &[(&str, u16)]) -> Lb {
    start_lb_with(servers, |_, _, _| {}).await
}

/// `start_lb` with `tweak` run before it starts, given the CA's directory, the load
/// balancer's config dir (for files its config names) and the config to change.
pub async fn start_lb_with(
    servers: &[(&str, u16)],
    tweak: impl FnOnce(&std::path::Path, &std::path::Path, &mut LbConfig),
) -> Lb {
    let servers: Vec<(&str, String)> = servers
        .iter()
        .map(|(name, p)| (*name, format!("127.0.0.1:{p}")))
        .collect();
    start_lb_on(&servers, "127.0.0.1", None, tweak).await
}

/// A load balancer on `host` (in network namespace `netns`, when given) in front of servers
/// by `host:port`.
pub async fn start_lb_on(
    servers: &[(&str, String)],
    host: &str,
    netns: Option<&std::path::Path>,
    tweak: impl FnOnce(&std::path::Path, &std::path::Path, &mut LbConfig),
) -> Lb {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ca = tmp.path().join("ca");
    zato_ca::create_ca(&ca, &Subject::default()).unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().join("lb");
    let repo = zato_lb::config::config_dir(&dir);
    std::fs::create_dir_all(&repo).unwrap_or_else(|e| panic!("{e}"));
    let issued = zato_ca::issue(&ca, Purpose::LbAgent, &Subject::default())
        .unwrap_or_else(|e| panic!("{e}"));
    zato_ca::install(&issued, &repo, "zato-lba").unwrap_or_else(|e| panic!("{e}"));
    let port = free_port();
    let mut cfg = LbConfig::new(
        &format!("{host}:{port}"),
        &format!("127.0.0.1:{}", free_port()),
        servers
            .iter()
            .map(|(name, address)| Server {
                name: (*name).into(),
                address: address.clone(),
                weight: 1,
                maintenance: false,
            })
            .collect(),
    );
    cfg.health.interval = 0.1;
    cfg.health.timeout = 0.5;
    tweak(&ca, &repo, &mut cfg);
    cfg.save(&dir).unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new(bin_dir().join("zato-load-balancer"));
    cmd.arg(&dir).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(ns) = netns {
        crate::netns::enter_in_child(&mut cmd, ns).unwrap_or_else(|e| panic!("{e:#}"));
    }
    let child = cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot run zato-load-balancer (cargo build --workspace --bins): {e}")
    });
    let lb = Lb {
        dir,
        port,
        host: host.to_string(),
        child,
        tls: cfg.frontend.tls.is_some(),
        _tmp: tmp,
    };
    // An HTTPS frontend may want client certificates: its agent says when it is up (it
    // listens only after the frontend's sockets are bound), as for `zato start`.
    let url = lb.url("/zato-lb-alive");
    let up = eventually(Duration::from_secs(10), || {
        let url = url.clone();
        let agent = lb.tls.then(|| lb.agent());
        async move {
            match agent {
                Some(a) => a.call(Method::GET, "/version", None).await.ok().map(|_| ()),
                None => zato_common::http::local_client()
                    .get(&url)
                    .send()
                    .await
                    .ok()
                    .filter(|r| r.status() == 200)
                    .map(|_| ()),
            }
        }
    })
    .await;
    assert!(
        up.is_some(),
        "the load balancer did not start; see {}",
        lb.dir.join("logs/lb.log").display()
    );
    lb
}
