//! The command line: `serve` (default), `migrate`, `backup`, and the admin
//! commands.
//! Admin commands print one JSON document with `--json`, else plain lines;
//! errors are one line on stderr and a non-zero exit status.

mod apply;
mod backup;
mod clients;
mod keys;
mod output;
mod prompt;
mod roles;
mod users;

use clap::{Parser, Subcommand};

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{self, AnyConnection};

/// authd: a small, fast OAuth2 authorization server.
#[derive(Debug, Parser)]
#[command(name = "authd", version, about, long_about = None, args_override_self = true)]
pub struct Cli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub global: Settings,
    /// What to do; the server when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Manage roles (a role grants scopes).
    #[command(subcommand)]
    Role(roles::RoleCmd),
    /// Manage users.
    #[command(subcommand)]
    User(users::UserCmd),
    /// Manage client apps.
    #[command(subcommand)]
    Client(clients::ClientCmd),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Copy the SQLite database to FILE while the server runs (a
    /// consistent snapshot; PostgreSQL: use pg_dump).
    Backup {
        /// Where the copy goes; must not exist.
        file: std::path::PathBuf,
    },
    /// Make roles, clients and users what a configuration file says.
    Apply(apply::ApplyArgs),
    /// Print the roles, clients and users as a configuration file.
    Export,
}

/// A failed command: the one line printed on stderr.
#[derive(Debug)]
pub struct CliError(pub String);

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(e: E) -> CliError {
        CliError(e.to_string())
    }
}

/// What a command needs: settings and an open, migrated connection.
pub(crate) struct Ctx {
    pub settings: Settings,
    pub conn: AnyConnection,
    pub json: bool,
    /// The time admin changes are stamped with.
    pub clock: Clock,
}

impl Ctx {
    fn open(settings: Settings, json: bool) -> Result<Ctx, CliError> {
        let mut conn = db::connect(&settings.database_url)?;
        db::migrate(&mut conn)?;
        Ok(Ctx {
            settings,
            conn,
            json,
            clock: Clock::system(),
        })
    }
}

/// Runs the parsed command line; the server when no subcommand is given.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let settings = cli.global.validated()?;
    let json = settings.json;
    match cli.command {
        None | Some(Command::Serve) => crate::app::serve_forever(settings).map_err(CliError::from),
        Some(Command::Migrate) => {
            let mut conn = db::connect(&settings.database_url)?;
            let applied = db::migrate(&mut conn)?;
            output::print(
                json,
                &serde_json::json!({ "applied": applied }),
                &format!("{applied} migration(s) applied"),
            );
            Ok(())
        }
        Some(Command::Role(cmd)) => roles::run(cmd, &mut Ctx::open(settings, json)?),
        Some(Command::User(cmd)) => users::run(cmd, &mut Ctx::open(settings, json)?),
        Some(Command::Client(cmd)) => clients::run(cmd, &mut Ctx::open(settings, json)?),
        Some(Command::Keys(cmd)) => keys::run(cmd, &mut Ctx::open(settings, json)?),
        Some(Command::Backup { file }) => backup::run(&settings, &file),
        Some(Command::Apply(args)) => apply::run_apply(args, &mut Ctx::open(settings, json)?),
        Some(Command::Export) => apply::run_export(&mut Ctx::open(settings, json)?),
    }
}
