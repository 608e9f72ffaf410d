//! Several hosts on one machine for the multi-host test: a network namespace per host, each
//! with its own loopback and one link (a veth pair) to a bridge in this namespace, all on one
//! subnet. This namespace is on the bridge too and forwards ports of its bridge address to its
//! own loopback, so every host reaches the machine's PostgreSQL and Redis as a remote one. A
//! host's link can be cut (its end of the pair set down) and restored. Everything is removed
//! when the [`Net`] is dropped. Needs root (CAP_NET_ADMIN) and `ip` (iproute2).
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The subnet of the test's hosts; this namespace is `.1`, host n is `.(10 + n)`.
const SUBNET: &str = "10.213.77";

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("cannot run `ip` (iproute2); install it with `apt-get install iproute2`")?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}; the multi-host test needs root (CAP_NET_ADMIN)",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The hosts of one test.
pub struct Net {
    tag: String,
    hosts: usize,
    forwarders: Vec<tokio::task::JoinHandle<()>>,
}

impl Net {
    /// `hosts` namespaces linked to a new bridge. Leftovers of a run that was killed are
    /// removed first (the names are fixed by the subnet, which only one test uses).
    pub fn create(hosts: usize) -> anyhow::Result<Self> {
        let net = Self {
            tag: "zt".into(),
            hosts,
            forwarders: Vec::new(),
        };
        net.remove();
        let bridge = net.bridge();
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        ip(&["addr", "add", &format!("{SUBNET}.1/24"), "dev", &bridge])?;
        ip(&["link", "set", &bridge, "up"])?;
        for n in 1..=hosts {
            let ns = net.ns_name(n);
            let (outer, inner) = (net.link(n), format!("{}i{n}", net.tag));
            ip(&["netns", "add", &ns])?;
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &outer, "master", &bridge, "up"])?;
            let addr = format!("{}/24", net.host(n));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", &inner])?;
            ip(&["-n", &ns, "link", "set", &inner, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    fn bridge(&self) -> String {
        format!("{}br", self.tag)
    }

    fn ns_name(&self, n: usize) -> String {
        format!("{}-host{n}", self.tag)
    }

    /// This namespace's end of host `n`'s link.
    fn link(&self, n: usize) -> String {
        format!("{}o{n}", self.tag)
    }

    /// Host `n`'s address.
    pub fn host(&self, n: usize) -> String {
        format!("{SUBNET}.{}", 10 + n)
    }

    /// This namespace's address on the bridge, where the forwarded ports are.
    pub fn gateway(&self) -> String {
        format!("{SUBNET}.1")
    }

    /// Host `n`'s namespace, as `setns` takes it.
    pub fn netns(&self, n: usize) -> PathBuf {
        PathBuf::from("/var/run/netns").join(self.ns_name(n))
    }

    /// Forwards `port` of the gateway address to the same port of this machine's loopback.
    pub async fn forward(&mut self, port: u16) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind((self.gateway().as_str(), port))
            .await
            .with_context(|| format!("cannot listen on {}:{port}", self.gateway()))?;
        self.forwarders.push(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Ok(mut local) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut local).await;
                    }
                });
            }
        }));
        Ok(())
    }

    /// Cuts host `n` off the network (its link goes down); connections hang, as with a
    /// pulled cable.
    pub fn cut(&self, n: usize) -> anyhow::Result<()> {
        ip(&["link", "set", &self.link(n), "down"])
    }

    pub fn restore(&self, n: usize) -> anyhow::Result<()> {
        ip(&["link", "set", &self.link(n), "up"])
    }

    fn remove(&self) {
        // Deleting a namespace deletes the veth end in it, and with it the pair.
        for n in 1..=self.hosts.max(8) {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns_name(n)])
                .output();
            let _ = Command::new("ip")
                .args(["link", "del", &self.link(n)])
                .output();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge()])
            .output();
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for f in &self.forwarders {
            f.abort();
        }
        self.remove();
    }
}

/// Makes `cmd`'s process join the network namespace at `ns` before it runs.
pub fn enter_in_child(cmd: &mut Command, ns: &Path) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let file = std::fs::File::open(ns)
        .with_context(|| format!("cannot open the network namespace {}", ns.display()))?;
    let fd = file.as_raw_fd();
    // SAFETY: setns is async-signal-safe; the file stays open in the parent until the
    // command is dropped (the closure owns it), so the descriptor is valid in the child.
    unsafe {
        cmd.pre_exec(move || {
            let _keep = &file;
            if libc::setns(fd, libc::CLONE_NEWNET) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    Ok(())
}
