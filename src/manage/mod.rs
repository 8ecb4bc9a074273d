//! Administration of users, roles and clients: validation plus storage, each
//! operation in one transaction so that a failure leaves nothing half-made.
//! Shared by the admin CLI, the admin HTTP API, the developer console and
//! the account page.
//!
//! Operations that read, then write, use [`crate::db::write_tx`], the
//! server's own kind of transaction: on SQLite a deferred one fails at once
//! with "database is locked" when a busy server commits between its read
//! and its write, so that the CLI could not be run beside a server.

pub mod apply;
pub mod client_changes;
mod client_rules;
pub mod client_update;
pub mod clients;
pub mod consents;
pub mod keys;
pub mod roles;
pub mod user_changes;
pub mod user_update;
pub mod users;

use crate::db::DbError;
use crate::names::{self, escape};
use crate::password::PasswordError;

/// Why an administrative operation was refused. Messages are one line and
/// say what to do.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// A user with that name, or one that folds to the same
    /// ([`crate::names::fold`]), exists.
    #[error("user '{}' already exists", escape(.0))]
    UserExists(String),
    /// No such user.
    #[error("unknown user '{}' (see 'authd user list')", escape(.0))]
    UnknownUser(String),
    /// A role with that name exists.
    #[error("role '{}' already exists", escape(.0))]
    RoleExists(String),
    /// No such role.
    #[error("unknown role '{}' (create it with 'authd role add {} --scope \"…\"')", escape(.0), escape(.0))]
    UnknownRole(String),
    /// Users hold the role (`.1` of them): deleting it needs `force`.
    #[error("role '{}' is held by {} user(s): revoke it from them first, or delete it with --force, which removes it from them too", escape(.0), .1)]
    RoleInUse(String, i64),
    /// A client with that id exists (or the id is a user's).
    #[error("client id '{}' is taken: choose another", escape(.0))]
    ClientExists(String),
    /// No such client.
    #[error("unknown client '{}' (see 'authd client list')", escape(.0))]
    UnknownClient(String),
    /// A scope token with forbidden characters.
    #[error("invalid scope '{0}': scopes are space-separated tokens of printable ASCII without '\"' or '\\'")]
    BadScope(String),
    /// Any other invalid input; the message says what.
    #[error("{0}")]
    Invalid(String),
    /// The password was refused.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ManageError {
    fn from(e: diesel::result::Error) -> ManageError {
        ManageError::Db(DbError::Query(e))
    }
}

/// Checks a name (user, role): 1–64 characters, no whitespace and no
/// invisible or direction-changing character ([`names::refused_in_word`]).
pub(crate) fn check_name(kind: &str, name: &str) -> Result<(), ManageError> {
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ManageError::Invalid(format!(
            "{kind} name must be 1 to 64 characters"
        )));
    }
    if name.chars().any(names::refused_in_word) {
        return Err(ManageError::Invalid(format!(
            "{kind} name '{}' must not contain spaces, control characters, or invisible or \
             text-direction characters (such as zero-width spaces or U+202E)",
            escape(name)
        )));
    }
    Ok(())
}

/// Parses scope arguments, mapping bad syntax to [`ManageError::BadScope`].
pub(crate) fn parse_scopes(inputs: &[String]) -> Result<crate::scope::ScopeSet, ManageError> {
    crate::scope::parse(inputs.iter().map(String::as_str)).map_err(ManageError::BadScope)
}
