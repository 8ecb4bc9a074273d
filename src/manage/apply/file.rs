//! The declarative configuration file: what `authd apply` reads and
//! `authd export` writes (docs/interface.md "Declarative configuration").
//! Unknown keys are refused, and so is a secret or a password written in
//! the file: a file kept in version control must not hold one.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::names::escape;

/// A whole file: roles, clients and users, each kind optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[[role]]` tables.
    #[serde(default, rename = "role", skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleEntry>,
    /// `[[client]]` tables.
    #[serde(default, rename = "client", skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<ClientEntry>,
    /// `[[user]]` tables.
    #[serde(default, rename = "user", skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserEntry>,
}

/// A role and the scopes it grants.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    /// Its name.
    pub name: String,
    /// The scopes it grants (each item may hold several, space-separated).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Whether its users need a second factor; absent leaves it as it is
    /// (a new role: no).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_mfa: Option<bool>,
}

/// An administrator's client. Fields absent take `client add`'s defaults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    /// Its id (required: it is how a later run finds the client again).
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Grant names; none means `password refresh_token`.
    #[serde(default)]
    pub grants: Vec<String>,
    /// Scopes (each item may hold several, space-separated).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Redirect URIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// A public client (no secret).
    #[serde(default, skip_serializing_if = "is_false")]
    pub public: bool,
    /// The `aud` of its access tokens; absent: the issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The environment variable holding its secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// The file holding its secret (one line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<String>,
    /// Refused when present: see [`ConfigFile::check`].
    #[serde(default, skip_serializing)]
    pub client_secret: Option<toml::Value>,
    /// Refused when present: see [`ConfigFile::check`].
    #[serde(default, skip_serializing)]
    pub secret: Option<toml::Value>,
}

/// A user, without a password: one made by `apply` has none until
/// `authd user set-password` gives one.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// Login name.
    pub username: String,
    /// Role names.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Email address; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the address is known to be theirs; absent leaves it to the
    /// rule of `authd user set` (a new address is unverified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Full name; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Refused when present: see [`ConfigFile::check`].
    #[serde(default, skip_serializing)]
    pub password: Option<toml::Value>,
    /// Refused when present: see [`ConfigFile::check`].
    #[serde(default, skip_serializing)]
    pub password_hash: Option<toml::Value>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Why a file was refused before anything was looked up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FileError(pub String);

impl ConfigFile {
    /// Parses `text` and checks what needs no database ([`Self::check`]);
    /// errors are one line, with the line number where TOML gives one.
    pub fn parse(text: &str) -> Result<ConfigFile, FileError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().replace('\n', " ");
            match e.span() {
                Some(span) => {
                    let before = text.get(..span.start).unwrap_or(text);
                    let line = before.matches('\n').count() + 1;
                    FileError(format!("line {line}: {message}"))
                }
                None => FileError(message),
            }
        })?;
        file.check()?;
        Ok(file)
    }

    /// Refuses a secret or password written in the file, and an entry
    /// named twice (which of the two would win is anyone's guess).
    pub fn check(&self) -> Result<(), FileError> {
        for c in &self.clients {
            if c.client_secret.is_some() || c.secret.is_some() {
                return Err(FileError(format!(
                    "client '{}': a secret is never written in the file; put it in an \
                     environment variable or a file of its own and name that with secret_env \
                     or secret_file",
                    escape(&c.client_id)
                )));
            }
        }
        for u in &self.users {
            if u.password.is_some() || u.password_hash.is_some() {
                return Err(FileError(format!(
                    "user '{}': the file holds no passwords; set one with 'authd user \
                     set-password {}'",
                    escape(&u.username),
                    escape(&u.username)
                )));
            }
        }
        once("role", self.roles.iter().map(|r| r.name.clone()))?;
        once("client", self.clients.iter().map(|c| c.client_id.clone()))?;
        // Two spellings of one name are one user.
        once(
            "user",
            self.users
                .iter()
                .map(|u| crate::manage::users::fold_username(&u.username)),
        )
    }

    /// The file as TOML text.
    pub fn to_toml(&self) -> Result<String, FileError> {
        toml::to_string(self).map_err(|e| FileError(format!("cannot write TOML: {e}")))
    }
}

/// Refuses a key that appears twice.
fn once(kind: &str, keys: impl Iterator<Item = String>) -> Result<(), FileError> {
    let mut seen = HashSet::new();
    for key in keys {
        if !seen.insert(key.clone()) {
            return Err(FileError(format!(
                "{kind} '{}' is named twice in the file",
                escape(&key)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_is_refused_with_its_line() {
        let err = ConfigFile::parse("[[role]]\nname = \"a\"\nscope = [\"x\"]\n").unwrap_err();
        assert!(err.0.starts_with("line 3: unknown field `scope`"), "{err}");
        assert!(!err.0.contains('\n'), "one line: {err}");
    }

    #[test]
    fn secrets_and_passwords_in_the_file_are_refused() {
        let err = ConfigFile::parse(
            "[[client]]\nclient_id = \"c\"\nname = \"C\"\nclient_secret = \"s3cr3t\"\n",
        )
        .unwrap_err();
        assert!(
            err.0.contains("a secret is never written in the file"),
            "{err}"
        );
        let err = ConfigFile::parse("[[user]]\nusername = \"a\"\npassword = \"pw\"\n").unwrap_err();
        assert!(err.0.contains("holds no passwords"), "{err}");
    }

    #[test]
    fn a_name_given_twice_is_refused() {
        let err =
            ConfigFile::parse("[[user]]\nusername = \"Alice\"\n[[user]]\nusername = \"alice\"\n")
                .unwrap_err();
        assert!(err.0.contains("named twice"), "{err}");
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let file = ConfigFile {
            roles: vec![RoleEntry {
                name: "reader".into(),
                scopes: vec!["a".into(), "b".into()],
                require_mfa: Some(true),
            }],
            clients: vec![ClientEntry {
                client_id: "billing".into(),
                name: "Billing \"quoted\"\u{7f}".into(),
                grants: vec!["client_credentials".into()],
                secret_env: Some("AUTHD_SECRET_BILLING".into()),
                ..ClientEntry::default()
            }],
            users: vec![UserEntry {
                username: "alice".into(),
                email: Some("alice@example.com".into()),
                ..UserEntry::default()
            }],
        };
        let text = file.to_toml().unwrap();
        assert_eq!(ConfigFile::parse(&text).unwrap(), file, "{text}");
    }
}
