//! Passwords not given as options: asked for on a terminal (not echoed, asked twice, asked again
//! on a mismatch), and a clear error naming the option everywhere else, so that scripts never
//! hang on a prompt nobody sees.
use std::io::IsTerminal;

use crate::exit::{CliError, CliResult, NO_OPTIONS};

/// `given` when present; otherwise the password typed on the terminal.
pub fn password(given: Option<String>, option: &str, what: &str) -> CliResult<String> {
    if let Some(value) = given {
        return Ok(value);
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(CliError::new(
            NO_OPTIONS,
            format!(
                "{what} is needed: give it with {option} (an empty value, {option} '', means none); \
                 it is only asked for interactively when run from a terminal"
            ),
        ));
    }
    dialoguer::Password::new()
        .with_prompt(format!("{what} (will not echo; empty for none)"))
        .with_confirmation(format!("{what} again"), format!("{what}s do not match"))
        .allow_empty_password(true)
        .interact()
        .map_err(|e| CliError::failed(format!("cannot read {what} from the terminal: {e}")))
}
