//! Passwords not given as options: asked for on a terminal (not echoed, asked twice, asked again
//! on a mismatch), and a clear error naming the option everywhere else, so that scripts never
//! hang on a prompt nobody sees.
use std::io::{IsTerminal, Read};
use std::path::Path;

use crate::exit::{CliError, CliResult, NO_OPTIONS};

/// A secret read from `path` (`-` for standard input) rather than from the command line,
/// where other users of the machine could see it. One trailing newline is not part of it.
pub fn read_secret(path: &Path, option: &str) -> CliResult<String> {
    let mut text = String::new();
    let read = if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| CliError::failed(format!("{option} {}: {e}", path.display())))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// The secret given with `--x`, else the one in `--x-file`, else asked for (see `password`).
pub fn secret(
    given: Option<String>,
    file: Option<&Path>,
    option: &str,
    what: &str,
) -> CliResult<String> {
    match (given, file) {
        (Some(v), _) => Ok(v),
        (None, Some(path)) => read_secret(path, &format!("{option}-file")),
        (None, None) => password(None, option, what),
    }
}

/// `given` when present; otherwise the password typed on the terminal.
pub fn password(given: Option<String>, option: &str, what: &str) -> CliResult<String> {
    if let Some(value) = given {
        return Ok(value);
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(CliError::new(
            NO_OPTIONS,
            format!(
                "{what} is needed: give it with {option}-file FILE (- for standard input) or {option} \
                 (an empty value, {option} '', means none); it is only asked for interactively when run from a terminal"
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
