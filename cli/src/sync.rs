//! Changes that reach the whole cluster before a command returns. A server applies an admin
//! change at once and publishes it; every other server process reads it at its next poll of
//! the ODB (200 ms). Commands that change the cluster wait for that, so that a request sent
//! through the load balancer right after them finds the change on every server.
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zato_common::admin::{AdminClient, InvokeRequest};
use zato_common::locate::{bind_address, server_client};

use crate::exit::CliResult;
use crate::invoke;

/// How long a change may take to reach a server before the command names it and returns.
const TIMEOUT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);

/// Invokes a service that changes the cluster, then waits until every server has applied it.
pub async fn change(path: &Path, service: &str, payload: &Value) -> CliResult<Value> {
    let data = invoke::call(path, service, payload).await?;
    wait_for_cluster(path).await;
    Ok(data)
}

/// One process's position; a fresh connection each time, so that with several worker
/// processes on a port each gets asked in turn.
async fn position(client: &AdminClient) -> Option<Value> {
    let req = InvokeRequest::new("zato.cluster.get-event-position", &json!({}));
    let close = [("connection".to_string(), "close".to_string())];
    let resp = client.send_with_headers(&req, &close).await.ok()?;
    resp.ok.then_some(resp.data)
}

/// Waits until every running server process of the cluster has handled the events published
/// so far. A server that does not answer is not running and is skipped, as is one whose
/// address reaches another server (a wildcard bind on another host). After [`TIMEOUT`] in
/// all, the servers still behind are named on stderr (they apply the change once they catch
/// up). Handled means processed: a change that failed on a server is in that server's log.
pub async fn wait_for_cluster(path: &Path) {
    let Ok(client) = server_client(path).await else {
        return;
    };
    let Some(latest) = position(&client).await.and_then(|p| p["latest"].as_i64()) else {
        return;
    };
    let list = InvokeRequest::new("zato.server.get-list", &json!({}));
    let Ok(servers) = client.send(&list).await else {
        return;
    };
    let deadline = Instant::now() + TIMEOUT;
    for server in servers.data.as_array().into_iter().flatten() {
        let (Some(name), Some(host), Some(port)) = (
            server["name"].as_str(),
            server["bind_host"].as_str(),
            server["bind_port"].as_i64(),
        ) else {
            continue;
        };
        if server["up_status"] != "running" {
            continue;
        }
        let address = bind_address(host, &port.to_string());
        let other = client.at(&address);
        let mut caught_up: HashSet<u64> = HashSet::new();
        while let Some(p) = position(&other).await {
            if p["server"] != name {
                break;
            }
            if p["applied"].as_i64().is_some_and(|a| a >= latest) {
                caught_up.insert(p["pid"].as_u64().unwrap_or(0));
            }
            if caught_up.len() as u64 >= p["workers"].as_u64().unwrap_or(1).max(1) {
                break;
            }
            if Instant::now() > deadline {
                eprintln!(
                    "Server {name} ({address}) has not applied the change within {} s; it will once it reads the cluster's events",
                    TIMEOUT.as_secs()
                );
                break;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
