//! The `zato` command line: building a cluster piece by piece (`create odb|cluster|server`)
//! and crypto helpers. Later issues add quickstart, start/stop, info and service invoke.
pub mod create;
