//! Where a client's secret comes from: the environment variable or file the
//! configuration names (`secret_env`, `secret_file`), read before the
//! transaction starts.

use super::file::ClientEntry;
use crate::names::escape;
use crate::secret::Secret;

/// Fewest characters a secret chosen by an operator may have: secrets are
/// stored as SHA-256 without a salt (docs/design.md "Secrets"), which is
/// safe only for a secret as hard to guess as a generated one.
pub const MIN_SECRET_CHARS: usize = 32;

/// Most characters a secret may have.
pub const MAX_SECRET_CHARS: usize = 512;

/// What the configuration says of a client's secret.
pub enum SecretSource {
    /// None named (a public client).
    None,
    /// The secret, read.
    Given(Secret),
    /// An environment variable that is not set: an error for a new client;
    /// an existing client keeps its secret (an exported file names a
    /// variable for every client, and applying it where the secrets are
    /// not at hand must change nothing).
    Unset(String),
}

/// Reads the secret `entry` names. Refuses a public client with one, a
/// confidential one naming two places, an unreadable file, and a secret
/// that is too short or not of RFC 6749's characters (Appendix A.2:
/// `client-secret = *VSCHAR`).
pub fn read(entry: &ClientEntry) -> Result<SecretSource, String> {
    let id = escape(&entry.client_id);
    let value = match (&entry.secret_env, &entry.secret_file) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "client '{id}': name its secret with secret_env or secret_file, not both"
            ))
        }
        (Some(_), None) | (None, Some(_)) if entry.public => {
            return Err(format!(
                "client '{id}' is public and has no secret: drop secret_env and secret_file, \
                 or public = true"
            ))
        }
        (None, None) => return Ok(SecretSource::None),
        (Some(var), None) => match std::env::var(var) {
            Ok(value) => value,
            Err(std::env::VarError::NotPresent) => {
                return Ok(SecretSource::Unset(var.clone()));
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(format!(
                    "client '{id}': the environment variable {} is not UTF-8",
                    escape(var)
                ))
            }
        },
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "client '{id}': cannot read its secret_file '{}': {e}",
                    escape(path)
                )
            })?;
            // One line, as `--password-stdin` reads it: its newline is not
            // part of the secret.
            let text = text.strip_suffix('\n').unwrap_or(&text);
            text.strip_suffix('\r').unwrap_or(text).to_string()
        }
    };
    check(&id, &value)?;
    Ok(SecretSource::Given(Secret::new(value)))
}

fn check(id: &str, value: &str) -> Result<(), String> {
    let count = value.chars().count();
    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&count) {
        return Err(format!(
            "client '{id}': its secret must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} \
             characters (e.g. openssl rand -base64 32)"
        ));
    }
    if !value.chars().all(|c| (' '..='~').contains(&c)) {
        return Err(format!(
            "client '{id}': its secret must be printable ASCII, on one line"
        ));
    }
    Ok(())
}

/// The environment variable `authd export` names for a client's secret:
/// `AUTHD_SECRET_` and its id in capitals, with `_` for anything else
/// than a letter or digit.
pub fn env_name(client_id: &str) -> String {
    let id: String = client_id
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() {
            true => c.to_ascii_uppercase(),
            false => '_',
        })
        .collect();
    format!("AUTHD_SECRET_{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_long_printable_ascii() {
        assert!(check("c", &"a".repeat(MIN_SECRET_CHARS)).is_ok());
        assert!(check("c", &"a".repeat(MIN_SECRET_CHARS - 1)).is_err());
        assert!(check("c", &"a".repeat(MAX_SECRET_CHARS + 1)).is_err());
        assert!(check("c", &format!("{}\n", "a".repeat(MIN_SECRET_CHARS))).is_err());
        assert!(check("c", &format!("{}é", "a".repeat(MIN_SECRET_CHARS))).is_err());
    }

    #[test]
    fn export_names_a_variable_from_the_id() {
        assert_eq!(env_name("svc_1.prod-a"), "AUTHD_SECRET_SVC_1_PROD_A");
    }
}
