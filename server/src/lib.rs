//! The Zato server: HTTP channels, the admin API, built-in services in Rust, Python services in
//! embedded CPython with hot deployment, and the ODB-backed broker that keeps a cluster in step.
pub mod broker;
#[doc(hidden)]
pub mod fuzzing;
pub mod hotdeploy;
pub mod http;
pub mod invoke;
pub mod outgoing;
pub mod python;
pub mod run;
pub mod services;
pub mod state;
