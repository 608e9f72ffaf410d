//! The load balancer (`zato-load-balancer PATH`): an HTTP/1.1 reverse proxy in front of the
//! cluster's servers with weights, health checks and retries, and its remote-control agent
//! API over mutual TLS.
pub mod agent;
pub mod balancer;
pub mod client;
pub mod config;
pub mod fast;
#[doc(hidden)]
pub mod fuzzing;
pub mod haproxy;
pub mod health;
pub mod metrics;
pub mod proxy;
pub mod rewind;
pub mod run;
pub mod state;
pub mod stats;
pub mod tls;
