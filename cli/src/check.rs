//! `zato check-config PATH`: the config parses, the ODB answers and knows this server, Redis
//! answers when configured, and the server's port is free or held by the server itself.
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use zato_common::config::ServerConfig;
use zato_common::odb::{Odb, schema};

use crate::component::{self, LOAD_BALANCER, SCHEDULER, SERVER, WEB_ADMIN};
use crate::exit::{CliError, CliResult};
use crate::procinfo;

fn failed(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::failed(format!("{what}: {e}"))
}

pub async fn run(dir: &Path) -> CliResult<()> {
    let dir = std::path::absolute(dir).map_err(|e| failed("path", e))?;
    let kind = component::kind(&dir)?;
    if kind == LOAD_BALANCER {
        return load_balancer(&dir);
    }
    if kind == SCHEDULER {
        return scheduler(&dir).await;
    }
    if kind == WEB_ADMIN {
        return web_admin(&dir).await;
    }
    if kind != SERVER {
        return Err(CliError::failed(format!(
            "check-config knows servers, load balancers, schedulers and web admins; {} holds a {kind}",
            dir.display()
        )));
    }
    let cfg = ServerConfig::load(&dir).map_err(|e| failed("Config", e))?;
    println!("Config OK: {}", dir.display());

    let odb = Odb::connect(&cfg.odb)
        .await
        .map_err(|e| failed("SQL ODB", e))?;
    let known = async {
        schema::check(&odb).await?;
        odb.server_by_token(&cfg.main.token).await
    }
    .await;
    odb.close().await;
    match known.map_err(|e| failed("SQL ODB", e))? {
        Some(_) => println!("SQL ODB connection OK"),
        None => {
            return Err(CliError::failed(
                "SQL ODB: this server's token is not in the ODB; the server directory does not belong to this ODB",
            ));
        }
    }

    if cfg.kvdb.is_configured() {
        zato_common::kvdb::ping(&cfg.kvdb, Duration::from_secs(5))
            .await
            .map_err(|e| failed("Redis", e))?;
        println!("Redis connection OK");
    }

    let addr = bind_addr(&cfg.main.bind)?;
    port_available(&dir, addr)?;
    Ok(())
}

/// scheduler.conf valid, the ODB answers and has the cluster, the port free or its own.
async fn scheduler(dir: &Path) -> CliResult<()> {
    let cfg = zato_common::config::SchedulerConfig::load(dir).map_err(|e| failed("Config", e))?;
    println!("Config OK: {}", dir.display());
    let odb = Odb::connect(&cfg.odb)
        .await
        .map_err(|e| failed("SQL ODB", e))?;
    let cluster = async {
        schema::check(&odb).await?;
        odb.cluster_by_name(&cfg.main.cluster_name).await
    }
    .await;
    odb.close().await;
    if cluster.map_err(|e| failed("SQL ODB", e))?.is_none() {
        return Err(CliError::failed(format!(
            "SQL ODB: it has no cluster named `{}`; check [main] cluster_name in scheduler.conf",
            cfg.main.cluster_name
        )));
    }
    println!("SQL ODB connection OK");
    let addr = bind_addr(&cfg.main.bind)?;
    port_available(dir, addr)
}

/// web-admin.conf valid, its certificates load, it has users, the admin API answers through
/// the load balancer (a warning only: the cluster may be started after it), the port free or
/// its own.
async fn web_admin(dir: &Path) -> CliResult<()> {
    let cfg = zato_common::config::WebAdminConfig::load(dir).map_err(|e| failed("Config", e))?;
    if let Some(t) = &cfg.tls {
        zato_lb::tls::single_cert_config(&t.cert, &t.key).map_err(|e| failed("TLS", e))?;
    }
    if let Some(a) = &cfg.lb_agent {
        zato_lb::tls::client_config(&a.cert, &a.key, &a.ca_certs)
            .map_err(|e| failed("Load balancer agent TLS", e))?;
    }
    let users = zato_web_admin::users::load(dir).map_err(|e| failed("Users", e))?;
    if users.is_empty() {
        return Err(CliError::failed(format!(
            "Users: nobody can log in; add a user with `zato update password {} admin --create`",
            dir.display()
        )));
    }
    println!("Config OK: {}", dir.display());
    let admin = zato_common::admin::AdminClient::new(
        &cfg.main.lb_address,
        &cfg.main.admin_invoke_username,
        &cfg.main.admin_invoke_password,
    );
    match tokio::time::timeout(
        Duration::from_secs(3),
        admin.invoke("zato.ping", &serde_json::json!({})),
    )
    .await
    {
        Ok(Ok(r)) if r.ok => println!("Admin API through {} OK", cfg.main.lb_address),
        Ok(Ok(r)) => println!("Warning: the admin API refused zato.ping: {}", r.details),
        Ok(Err(e)) => println!("Warning: the admin API does not answer yet: {e}"),
        Err(_) => println!(
            "Warning: the admin API did not answer within 3 s at {}",
            cfg.main.lb_address
        ),
    }
    let addr = bind_addr(&cfg.main.bind)?;
    port_available(dir, addr)
}

/// lb.conf valid, the agent's TLS material loads, both ports free or its own.
fn load_balancer(dir: &Path) -> CliResult<()> {
    let cfg = zato_lb::config::LbConfig::load(dir).map_err(|e| failed("Config", e))?;
    let repo = zato_lb::config::config_dir(dir);
    zato_lb::tls::server_config(
        &repo.join(&cfg.agent.cert),
        &repo.join(&cfg.agent.key),
        &repo.join(&cfg.agent.ca_certs),
    )
    .map_err(|e| failed("Agent TLS", e))?;
    if let Some(t) = &cfg.frontend.tls {
        zato_lb::tls::frontend_config(&repo, t).map_err(|e| failed("Frontend TLS", e))?;
    }
    println!("Config OK: {}", dir.display());
    for bind in [&cfg.frontend.bind, &cfg.agent.bind] {
        let addr: SocketAddr = bind
            .parse()
            .map_err(|_| CliError::failed(format!("Config: `{bind}` is not ip:port")))?;
        port_available(dir, addr)?;
    }
    Ok(())
}

/// `[main] bind` as a socket address.
fn bind_addr(bind: &str) -> CliResult<SocketAddr> {
    bind.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            CliError::failed(format!(
                "Config: [main] bind `{bind}` is not a host:port address"
            ))
        })
}

/// Free, or held by this component's own process (then it is simply running).
fn port_available(dir: &Path, addr: SocketAddr) -> CliResult<()> {
    if TcpListener::bind(addr).is_ok() {
        println!("TCP port {addr} free");
        return Ok(());
    }
    let pid = component::read_pid(dir).ok().flatten();
    if let Some(pid) = pid.filter(|p| component::running_here(*p, dir)) {
        let mut holders = vec![pid];
        holders.extend(component::children(pid));
        let owned = holders.iter().any(|p| {
            procinfo::tcp_sockets(*p)
                .iter()
                .any(|s| s.state == "LISTEN" && s.local.port() == addr.port())
        });
        if owned {
            println!("TCP port {addr} held by this component (pid {pid}): it is running");
            return Ok(());
        }
    }
    Err(CliError::failed(format!(
        "TCP port {addr} is in use by another program; stop it or change the address in {}",
        zato_common::config::repo_dir(dir).display()
    )))
}
