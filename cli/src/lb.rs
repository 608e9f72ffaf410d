//! `zato lb ...`: the load balancer driven through its agent API (mutual TLS), and
//! `zato lb export-haproxy`.
use std::path::{Path, PathBuf};

use clap::Subcommand;
use hyper::Method;
use serde_json::{Value, json};
use zato_lb::client::{AgentClient, AgentError};
use zato_lb::config::LbConfig;

use crate::component::{self, LOAD_BALANCER};
use crate::exit::{CliError, CliResult, NOT_A_ZATO_COMPONENT};
use crate::info::Format;

#[derive(Subcommand, Debug)]
pub enum Lb {
    /// The servers with their state (UP, DOWN, MAINT), weight and statistics.
    ///
    /// Example: zato lb servers ~/qs/load-balancer
    Servers {
        path: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Add a server (live, and saved in lb.conf).
    ///
    /// Example: zato lb add-server ~/qs/load-balancer server3 127.0.0.1:17012 --weight 2
    AddServer {
        path: PathBuf,
        name: String,
        address: String,
        #[arg(long, default_value_t = 1)]
        weight: u32,
    },
    /// Remove a server; requests already sent to it finish.
    ///
    /// Example: zato lb remove-server ~/qs/load-balancer server3
    RemoveServer { path: PathBuf, name: String },
    /// Rename a server.
    ///
    /// Example: zato lb rename-server ~/qs/load-balancer server3 server-c
    RenameServer {
        path: PathBuf,
        name: String,
        new_name: String,
    },
    /// Set a server's weight; 0 drains it (no new requests, in-flight ones finish).
    ///
    /// Example: zato lb set-weight ~/qs/load-balancer server1 3
    SetWeight {
        path: PathBuf,
        name: String,
        weight: u32,
    },
    /// Put a server into maintenance (MAINT) or back (READY).
    ///
    /// Example: zato lb set-state ~/qs/load-balancer server1 maint
    SetState {
        path: PathBuf,
        name: String,
        state: String,
    },
    /// Statistics per server: requests, errors, connections, p50/p99 latency.
    ///
    /// Example: zato lb stats ~/qs/load-balancer
    Stats { path: PathBuf },
    /// Print the running configuration, or validate / apply a TOML file.
    ///
    /// Example: zato lb config ~/qs/load-balancer --apply new-lb.conf
    Config {
        path: PathBuf,
        #[arg(long, conflicts_with = "apply")]
        validate: Option<PathBuf>,
        #[arg(long)]
        apply: Option<PathBuf>,
    },
    /// Write an equivalent HAProxy configuration (stdout, or --output FILE).
    ///
    /// Example: zato lb export-haproxy ~/qs/load-balancer --output haproxy.cfg
    ExportHaproxy {
        path: PathBuf,
        #[arg(long)]
        output: Option<PathBuf>,
        /// HAProxy's nbthread.
        #[arg(long)]
        nbthread: Option<usize>,
    },
}

fn agent_error(e: AgentError) -> CliError {
    CliError::failed(e.to_string())
}

fn client(dir: &Path) -> CliResult<AgentClient> {
    let kind = component::kind(dir)?;
    if kind != LOAD_BALANCER {
        return Err(CliError::new(
            NOT_A_ZATO_COMPONENT,
            format!("{} is a {kind}, not a load balancer", dir.display()),
        ));
    }
    AgentClient::for_dir(dir).map_err(agent_error)
}

/// One agent call for the load balancer in `dir`.
async fn call(dir: &Path, method: Method, path: &str, body: Option<Value>) -> CliResult<Value> {
    client(dir)?.call(method, path, body).await.map_err(|e| {
        // A failed handshake may be another cluster's agent on this one's port.
        let other = match &e {
            AgentError::Handshake { .. } => LbConfig::load(dir)
                .ok()
                .and_then(|cfg| cfg.agent.bind.rsplit_once(':')?.1.parse().ok())
                .and_then(|port| component::other_on_port(dir, port)),
            _ => None,
        };
        other.map_or_else(|| agent_error(e), CliError::failed)
    })
}

/// A call that changes the servers; the agent answers with the new list, printed as a table.
async fn change(dir: &Path, method: Method, path: &str, body: Option<Value>) -> CliResult<()> {
    print_servers(&call(dir, method, path, body).await?);
    Ok(())
}

fn read_config_file(path: &Path) -> CliResult<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::failed(format!("cannot read {}: {e}", path.display())))?;
    let cfg: LbConfig = toml::from_str(&text).map_err(|e| {
        CliError::new(
            crate::exit::INVALID_INPUT,
            format!("{} is not a valid lb.conf: {e}", path.display()),
        )
    })?;
    serde_json::to_value(cfg).map_err(|e| CliError::failed(e.to_string()))
}

/// A latency from the load balancer's histogram: the upper bound of its bucket, which is up to
/// ~19% above the true value, so two significant digits are all it can honestly show.
fn latency_bound(v: &Value) -> String {
    match v.as_f64() {
        Some(ms) if ms > 0.0 => {
            // Rounded up to two significant digits, so that "≤" stays true.
            let exp = ms.log10().floor() as i32 - 1;
            let step = 10f64.powi(exp);
            let up = ((ms / step) - 1e-9).ceil() * step;
            let digits = (-exp).max(0) as usize;
            format!("≤ {up:.digits$}")
        }
        _ => "-".into(),
    }
}

fn print_servers(list: &Value) {
    let mut table = comfy_table::Table::new();
    table.set_header([
        "Name", "Address", "State", "Weight", "Requests", "Errors", "Conns", "p50 ms", "p99 ms",
    ]);
    for s in list.as_array().into_iter().flatten() {
        let cell = |k: &str| match &s[k] {
            Value::String(t) => t.clone(),
            Value::Null => "-".into(),
            other => other.to_string(),
        };
        table.add_row([
            cell("name"),
            cell("address"),
            cell("state"),
            cell("weight"),
            cell("requests"),
            cell("errors"),
            cell("active_connections"),
            latency_bound(&s["p50_ms"]),
            latency_bound(&s["p99_ms"]),
        ]);
    }
    println!("{table}");
    println!("Latencies are histogram bucket bounds: the true value is up to 19% lower.");
}

pub async fn run(cmd: Lb) -> CliResult<()> {
    match cmd {
        Lb::Servers { path, format } => {
            let list = call(&path, Method::GET, "/servers", None).await?;
            match format {
                Format::Text => print_servers(&list),
                Format::Json => println!("{list}"),
                Format::Yaml => print!(
                    "{}",
                    serde_yaml_ng::to_string(&list).map_err(|e| CliError::failed(e.to_string()))?
                ),
            }
        }
        Lb::AddServer {
            path,
            name,
            address,
            weight,
        } => {
            let body = json!({"name": name, "address": address, "weight": weight});
            change(&path, Method::POST, "/servers", Some(body)).await?;
        }
        Lb::RemoveServer { path, name } => {
            change(&path, Method::DELETE, &format!("/servers/{name}"), None).await?;
        }
        Lb::RenameServer {
            path,
            name,
            new_name,
        } => {
            let body = json!({"new_name": new_name});
            change(
                &path,
                Method::POST,
                &format!("/servers/{name}/rename"),
                Some(body),
            )
            .await?;
        }
        Lb::SetWeight { path, name, weight } => {
            let body = json!({"weight": weight});
            change(
                &path,
                Method::PUT,
                &format!("/servers/{name}/weight"),
                Some(body),
            )
            .await?;
        }
        Lb::SetState { path, name, state } => {
            let body = json!({"state": state});
            change(
                &path,
                Method::PUT,
                &format!("/servers/{name}/state"),
                Some(body),
            )
            .await?;
        }
        Lb::Stats { path } => {
            let stats = call(&path, Method::GET, "/stats", None).await?;
            println!(
                "uptime {:.0} s, requests answered 503 (no server): {}",
                stats["uptime_seconds"].as_f64().unwrap_or(0.0),
                stats["no_server_available"]
            );
            print_servers(&stats["servers"]);
        }
        Lb::Config {
            path,
            validate,
            apply,
        } => {
            if let Some(file) = validate {
                let body = read_config_file(&file)?;
                call(&path, Method::POST, "/config/validate", Some(body)).await?;
                println!("{} is valid", file.display());
            } else if let Some(file) = apply {
                let body = read_config_file(&file)?;
                let list = call(&path, Method::PUT, "/config", Some(body)).await?;
                println!("{} applied", file.display());
                print_servers(&list);
            } else {
                let cfg = call(&path, Method::GET, "/config", None).await?;
                let cfg: LbConfig =
                    serde_json::from_value(cfg).map_err(|e| CliError::failed(e.to_string()))?;
                print!(
                    "{}",
                    toml::to_string_pretty(&cfg).map_err(|e| CliError::failed(e.to_string()))?
                );
            }
        }
        Lb::ExportHaproxy {
            path,
            output,
            nbthread,
        } => {
            component::kind(&path)?;
            let cfg = LbConfig::load(&path).map_err(|e| CliError::failed(e.to_string()))?;
            let repo = zato_lb::config::config_dir(&path);
            if let Some(pem) = zato_lb::haproxy::write_tls_files(&cfg, &repo)
                .map_err(|e| CliError::failed(format!("cannot write HAProxy's TLS file: {e}")))?
            {
                eprintln!("HAProxy's certificate and key: {}", pem.display());
            }
            let text = zato_lb::haproxy::export(&cfg, nbthread, &repo);
            match output {
                Some(file) => std::fs::write(&file, text).map_err(|e| {
                    CliError::failed(format!("cannot write {}: {e}", file.display()))
                })?,
                None => print!("{text}"),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::latency_bound;
    use serde_json::json;

    #[test]
    fn latencies_show_two_significant_digits() {
        assert_eq!(latency_bound(&json!(1.189_207)), "≤ 1.2");
        assert_eq!(latency_bound(&json!(0.011_892)), "≤ 0.012");
        assert_eq!(latency_bound(&json!(26.908_685)), "≤ 27");
        assert_eq!(latency_bound(&json!(430.539)), "≤ 440");
        assert_eq!(latency_bound(&json!(0.004)), "≤ 0.0040");
        assert_eq!(latency_bound(&json!(null)), "-");
    }
}
