//! docs/interface.md "Declarative configuration": `authd apply` makes the
//! roles, clients and users a file describes exist as described, and
//! `authd export` writes the current ones in the same format.
//!
//! Every change goes through the same functions (and so the same checks
//! and messages) as the CLI's, all inside one write transaction: those
//! functions nest theirs as savepoints ([`crate::db::write_tx`]), and a
//! failure anywhere rolls the whole run back. A dry run does the same
//! work and then rolls back, so that it reports exactly what a real run
//! would do, refusals included. Audit events are kept until the commit.

mod clients;
mod events;
pub mod export;
pub mod file;
mod roles;
pub mod secrets;
mod users;

use serde::Serialize;

use self::events::Event;
pub use self::file::{ConfigFile, FileError};
use self::secrets::SecretSource;
use super::ManageError;
use crate::audit::Actor;
use crate::db::{self, AnyConnection};

/// How `apply` runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Report the changes, make none.
    pub dry_run: bool,
    /// Delete roles and administrators' clients the file does not name.
    pub prune: bool,
    /// Delete users the file does not name.
    pub prune_users: bool,
}

/// What a change does.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Made anew.
    Create,
    /// Changed.
    Update,
    /// Deleted (`--prune`, `--prune-users`).
    Delete,
}

/// What a change is made to.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A `[[role]]`.
    Role,
    /// A `[[client]]`.
    Client,
    /// A `[[user]]`.
    User,
}

/// One change, as `--json` prints it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Change {
    /// What it does.
    pub action: Action,
    /// To what kind of thing.
    pub kind: Kind,
    /// The role's name, the client's id or the username.
    pub name: String,
    /// For an update, which fields changed (text output only).
    #[serde(skip)]
    pub fields: Vec<&'static str>,
}

/// What a run did (or, dry, would do).
#[derive(Debug, Default)]
pub struct Outcome {
    /// The changes, in the order they were made.
    pub changes: Vec<Change>,
    /// Things to tell the operator that changed nothing (a secret's
    /// variable that is not set).
    pub warnings: Vec<String>,
    events: Vec<Event>,
}

impl Outcome {
    /// Writes the audit trail of the changes made: call after the commit.
    pub fn audit(&self, actor: Actor<'_>) {
        for event in &self.events {
            event.emit(actor);
        }
    }
}

/// Why `apply` changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The file itself.
    #[error(transparent)]
    File(#[from] FileError),
    /// An entry was refused; `.0` says which (`role 'admin'`).
    #[error("{0}: {1}")]
    Entry(String, ManageError),
    /// Storage, or a refusal of no one entry.
    #[error(transparent)]
    Manage(#[from] ManageError),
}

impl From<diesel::result::Error> for ApplyError {
    fn from(e: diesel::result::Error) -> ApplyError {
        ApplyError::Manage(e.into())
    }
}

/// `kind 'name'`, the context of an entry's error.
fn entry(kind: Kind, name: &str) -> impl FnOnce(ManageError) -> ApplyError {
    let what = format!(
        "{} '{}'",
        match kind {
            Kind::Role => "role",
            Kind::Client => "client",
            Kind::User => "user",
        },
        crate::names::escape(name)
    );
    move |e| match e {
        e @ ManageError::Db(_) => ApplyError::Manage(e),
        e => ApplyError::Entry(what, e),
    }
}

/// A run in progress: its time and what it did so far.
struct Run {
    now: i64,
    outcome: Outcome,
}

impl Run {
    fn change(&mut self, action: Action, kind: Kind, name: &str, fields: Vec<&'static str>) {
        self.outcome.changes.push(Change {
            action,
            kind,
            name: name.to_string(),
            fields,
        });
    }

    fn event(&mut self, event: Event) {
        self.outcome.events.push(event);
    }
}

/// How a transaction stops early.
enum Stop {
    Failed(ApplyError),
    /// A dry run's end: roll back, then report.
    DryRun(Outcome),
}

impl From<ApplyError> for Stop {
    fn from(e: ApplyError) -> Stop {
        Stop::Failed(e)
    }
}

impl From<diesel::result::Error> for Stop {
    fn from(e: diesel::result::Error) -> Stop {
        Stop::Failed(e.into())
    }
}

/// Makes the database hold what `file` describes, in one transaction;
/// nothing is changed when anything is refused, nor on a dry run.
/// Secrets are read first, from where the file says they are.
pub fn apply(
    conn: &mut AnyConnection,
    file: &ConfigFile,
    options: Options,
    now: i64,
) -> Result<Outcome, ApplyError> {
    file.check()?;
    let secrets: Vec<SecretSource> = file
        .clients
        .iter()
        .map(secrets::read)
        .collect::<Result<_, String>>()
        .map_err(FileError)?;
    let result = db::write_tx(conn, |conn| {
        let mut run = Run {
            now,
            outcome: Outcome::default(),
        };
        roles::upsert(conn, &file.roles, &mut run)?;
        clients::upsert(conn, &file.clients, &secrets, &mut run)?;
        let kept = users::upsert(conn, &file.users, &mut run)?;
        // Users before roles: a role the file drops from its users is
        // no longer held when it is deleted.
        if options.prune_users {
            users::prune(conn, &kept, &mut run)?;
        }
        if options.prune {
            clients::prune(conn, &file.clients, &mut run)?;
            roles::prune(conn, &file.roles, &mut run)?;
        }
        match options.dry_run {
            true => Err(Stop::DryRun(run.outcome)),
            false => Ok(run.outcome),
        }
    });
    match result {
        Ok(outcome) => Ok(outcome),
        Err(Stop::DryRun(outcome)) => Ok(Outcome {
            events: Vec::new(),
            ..outcome
        }),
        Err(Stop::Failed(e)) => Err(e),
    }
}
