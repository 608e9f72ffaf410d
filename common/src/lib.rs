//! Shared library of every Zato component: config file models, ODB access and migrations,
//! the admin-API wire types and client, CIDs and secrets.
pub mod admin;
pub mod cid;
pub mod config;
pub mod crypto;
pub mod files;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod kvdb;
pub mod kvdb_queue;
pub mod kvdb_wake;
pub mod locate;
pub mod logging;
pub mod net;
pub mod odb;
pub mod schedule;
pub mod setup;
pub mod signals;
pub mod time;

pub use cid::new_cid;
