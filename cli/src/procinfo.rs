//! A process's TCP sockets, read from `/proc` (sysinfo has no socket view): what `zato info`
//! shows as connections and what `zato check-config` uses to tell whether a port is the
//! component's own.
use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde_json::{Value, json};

/// One socket of the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    pub state: &'static str,
    pub local: SocketAddr,
    pub remote: Option<SocketAddr>,
}

fn state_name(hex: &str) -> &'static str {
    match hex {
        "01" => "ESTABLISHED",
        "02" => "SYN_SENT",
        "03" => "SYN_RECV",
        "04" => "FIN_WAIT1",
        "05" => "FIN_WAIT2",
        "06" => "TIME_WAIT",
        "07" => "CLOSE",
        "08" => "CLOSE_WAIT",
        "09" => "LAST_ACK",
        "0A" => "LISTEN",
        "0B" => "CLOSING",
        _ => "UNKNOWN",
    }
}

/// `0100007F:1F90` (little-endian words, as the kernel prints them) → 127.0.0.1:8080.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (ip_hex, port_hex) = text.split_once(':')?;
    let port = u16::from_str_radix(port_hex, 16).ok()?;
    let ip = match ip_hex.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(ip_hex, 16).ok()?.swap_bytes(),
        )),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(ip_hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
                chunk.copy_from_slice(&word.to_le_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Socket inodes of the process's open file descriptors.
fn socket_inodes(pid: i32) -> HashSet<u64> {
    let mut out = HashSet::new();
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return out;
    };
    for e in entries.flatten() {
        if let Ok(target) = std::fs::read_link(e.path()) {
            let t = target.to_string_lossy();
            if let Some(inode) = t
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse().ok())
            {
                out.insert(inode);
            }
        }
    }
    out
}

/// The processes listening on TCP `port` (any address) that this user may inspect.
pub fn listeners_on(port: u16) -> Vec<i32> {
    let mut inodes = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(&"0A"), Some(inode)) = (cols.get(1), cols.get(3), cols.get(9))
            else {
                continue;
            };
            if parse_addr(local).is_some_and(|a| a.port() == port)
                && let Ok(inode) = inode.parse::<u64>()
            {
                inodes.insert(inode);
            }
        }
    }
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| !socket_inodes(*pid).is_disjoint(&inodes))
        .collect();
    pids.sort_unstable();
    pids
}

/// Every TCP socket (IPv4 and IPv6) the process holds.
pub fn tcp_sockets(pid: i32) -> Vec<Socket> {
    let inodes = socket_inodes(pid);
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(remote), Some(state), Some(inode)) =
                (cols.get(1), cols.get(2), cols.get(3), cols.get(9))
            else {
                continue;
            };
            if !inode.parse::<u64>().is_ok_and(|i| inodes.contains(&i)) {
                continue;
            }
            let state = state_name(state);
            let Some(local) = parse_addr(local) else {
                continue;
            };
            let remote = parse_addr(remote).filter(|_| state != "LISTEN");
            out.push(Socket {
                state,
                local,
                remote,
            });
        }
    }
    out
}

/// Upstream's `{STATE: [{from, to, formatted}]}` view.
pub fn connections_json(sockets: &[Socket]) -> Value {
    let mut by_state: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for s in sockets {
        let formatted = match s.remote {
            Some(r) => format!("{} -> {r}", s.local),
            None => s.local.to_string(),
        };
        by_state.entry(s.state).or_default().push(json!({
            "from": s.local.to_string(),
            "to": s.remote.map(|r| r.to_string()),
            "formatted": formatted,
        }));
    }
    json!(by_state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_addresses_parse() {
        assert_eq!(
            parse_addr("0100007F:1F90"),
            Some("127.0.0.1:8080".parse().unwrap_or_else(|e| panic!("{e}")))
        );
        assert_eq!(
            parse_addr("00000000000000000000000001000000:0050"),
            Some("[::1]:80".parse().unwrap_or_else(|e| panic!("{e}")))
        );
        assert_eq!(parse_addr("zz:1"), None);
    }

    #[test]
    fn own_listening_socket_is_found() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let pid = i32::try_from(std::process::id()).unwrap_or(0);
        let found = tcp_sockets(pid);
        assert!(
            found.iter().any(|s| s.state == "LISTEN" && s.local == addr),
            "{found:?}"
        );
    }
}
