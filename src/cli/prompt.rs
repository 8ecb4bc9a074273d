//! Reading a password: one line from stdin, or a hidden prompt asked twice.

use std::io::BufRead;

use super::CliError;
use crate::secret::Secret;

/// Reads a new password: from stdin with `from_stdin`, otherwise from the
/// terminal twice (the two must match).
pub fn new_password(from_stdin: bool) -> Result<Secret, CliError> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError(format!("cannot read password from stdin: {e}")))?;
        // Strip exactly one line ending; other whitespace is part of it.
        let pw = line
            .strip_suffix('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .unwrap_or(&line);
        if pw.is_empty() {
            return Err(CliError(
                "no password on stdin (pipe one line, e.g. printf '%s\\n' \"$PW\" | authd … --password-stdin)".into(),
            ));
        }
        return Ok(Secret::new(pw));
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| {
        CliError(format!(
            "cannot prompt for a password ({e}); use --password-stdin"
        ))
    })?;
    let second = rpassword::prompt_password("Repeat password: ")
        .map_err(|e| CliError(format!("cannot prompt for a password: {e}")))?;
    if first != second {
        return Err(CliError("passwords do not match; nothing changed".into()));
    }
    Ok(Secret::new(first))
}
