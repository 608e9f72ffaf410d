//! Security definitions at work: resolving them for channels, Basic Auth and API keys, JWTs
//! (keys, log-ins, revocation), WS-Security, and throttling failed log-ins.
pub mod check;
pub mod jwt;
pub mod throttle;
pub mod wss;

/// Compares secrets in time that does not depend on where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
