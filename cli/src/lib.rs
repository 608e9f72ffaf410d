//! The `zato` command line: building a cluster piece by piece (`create odb|cluster|server`),
//! starting and stopping components, waiting for them, invoking services, crypto helpers.
pub mod component;
pub mod create;
pub mod exit;
pub mod invoke;
pub mod process;
pub mod secrets;
