//! The Zato server: channels, the admin API, built-in services in Rust, Python services in
//! embedded CPython with hot deployment, outgoing connections, and the ODB-backed broker that
//! keeps a cluster in step. Dependencies point down this list (see docs/ARCHITECTURE.md):
//! app → channels, admin → deploy → invoke → state → stats → python, objects, connectors, events,
//! security, proto → core.
pub mod admin;
pub mod app;
pub mod channels;
pub mod connectors;
pub mod core;
pub mod deploy;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod invoke;
pub mod objects;
pub mod proto;
pub mod python;
pub mod security;
pub mod state;
pub mod stats;
