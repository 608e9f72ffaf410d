//! The `zato` command line: quickstart, building a cluster piece by piece (`create ...`, `ca
//! create ...`), starting, stopping, inspecting and checking components, invoking services,
//! crypto helpers.
pub mod ca;
pub mod cache;
pub mod check;
pub mod component;
pub mod create;
pub mod enmasse;
pub mod exit;
#[doc(hidden)]
pub mod fuzzing;
pub mod info;
pub mod invoke;
pub mod lb;
pub mod password;
pub mod process;
pub mod procinfo;
pub mod prompt;
pub mod pyenv;
pub mod quickstart;
pub mod secrets;
pub mod shortcuts;
pub mod stats;
pub mod sync;
pub mod version;
pub mod web_admin;
