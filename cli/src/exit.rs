//! Exit codes (upstream's `ZatoCommand.SYS_ERROR` numbers where they exist) and the error type
//! every command returns: what went wrong and what to do, with the code to exit with.
use thiserror::Error;

pub const ODB_EXISTS: u8 = 1;
pub const FILE_MISSING: u8 = 2;
pub const NOT_A_ZATO_COMPONENT: u8 = 3;
pub const DIR_NOT_EMPTY: u8 = 5;
pub const COMPONENT_ALREADY_RUNNING: u8 = 9;
pub const NO_PID_FOUND: u8 = 10;
pub const CONFLICTING_OPTIONS: u8 = 13;
pub const NO_OPTIONS: u8 = 14;
pub const INVALID_INPUT: u8 = 15;
pub const FAILED_TO_START: u8 = 18;
pub const SERVER_TIMEOUT: u8 = 28;

#[derive(Debug, Error)]
#[error("{message}")]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A general failure (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(1, message)
    }
}

pub type CliResult<T> = Result<T, CliError>;
