//! Listening sockets for the component binaries.
use std::net::SocketAddr;

/// A non-blocking listener on `addr`; with `reuse_port`, several sockets (worker processes or
/// threads) share the port and the kernel spreads connections among them.
pub fn bind(addr: SocketAddr, reuse_port: bool) -> std::io::Result<std::net::TcpListener> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    sock.set_reuse_address(true)?;
    if reuse_port {
        sock.set_reuse_port(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    Ok(sock.into())
}

/// Raises the soft limit on open files to the hard one, as servers do at start, and returns
/// the limit now in force (None when it cannot be read).
pub fn raise_fd_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct given to them.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    Some(lim.rlim_cur)
}

/// File descriptors kept free of client connections: log files, the ODB pool, outgoing
/// connections, pickup files, the connection to each server behind a load balancer.
const RESERVED_FDS: u64 = 256;

/// `configured` connections, or fewer when the file limit cannot hold them (at least 1). A
/// proxy holds two descriptors per client (`fds_per_connection` = 2).
pub fn fit_connections(configured: usize, fd_limit: Option<u64>, fds_per_connection: u64) -> usize {
    let Some(limit) = fd_limit else {
        return configured;
    };
    let room = limit.saturating_sub(RESERVED_FDS.min(limit / 2)) / fds_per_connection.max(1);
    configured
        .min(usize::try_from(room).unwrap_or(usize::MAX))
        .max(1)
}

/// How long an accept loop waits after accept() failed (no file descriptors, no memory):
/// retrying at once would spin a core while nothing can change.
pub const ACCEPT_ERROR_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_fit_the_file_limit() {
        assert_eq!(fit_connections(10_000, None, 1), 10_000);
        assert_eq!(fit_connections(10_000, Some(1024), 1), 768);
        assert_eq!(fit_connections(10_000, Some(1024), 2), 384);
        assert_eq!(fit_connections(100, Some(1_048_576), 2), 100);
        assert_eq!(fit_connections(100, Some(3), 2), 1);
        let now = raise_fd_limit();
        assert!(now.is_some_and(|n| n > 0));
    }
}
