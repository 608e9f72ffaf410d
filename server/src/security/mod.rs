//! Security definitions at work: resolving them for channels, Basic Auth and API keys, JWTs
//! (keys, log-ins, revocation), WS-Security, and throttling failed log-ins.
pub mod check;
pub mod jwt;
pub mod throttle;
pub mod wss;

pub use zato_common::crypto::same;
