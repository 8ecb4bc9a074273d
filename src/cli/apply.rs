//! `authd apply` and `authd export`
//! (docs/interface.md "Declarative configuration").

use std::path::PathBuf;

use serde::Serialize;

use super::{output, CliError, Ctx};
use crate::audit::Actor;
use crate::manage::apply::{self, export, Action, Change, ConfigFile, Kind, Options};

/// What `apply` reads.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The configuration file (TOML with [[role]], [[client]], [[user]]).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: PathBuf,
    /// Print what would change, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also delete roles and clients the file does not name (not clients
    /// users registered in the console).
    #[arg(long)]
    prune: bool,
    /// With --prune: also delete users the file does not name.
    #[arg(long, requires = "prune")]
    prune_users: bool,
}

#[derive(Serialize)]
struct Changes<'a> {
    changes: &'a [Change],
}

fn describe(c: &Change) -> String {
    let action = match c.action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
    };
    let kind = match c.kind {
        Kind::Role => "role",
        Kind::Client => "client",
        Kind::User => "user",
    };
    let mut line = format!("{action} {kind} '{}'", c.name.escape_debug());
    if !c.fields.is_empty() {
        line.push_str(&format!(" ({})", c.fields.join(", ")));
    }
    line
}

pub(super) fn run_apply(args: ApplyArgs, ctx: &mut Ctx) -> Result<(), CliError> {
    let shown = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| CliError(format!("cannot read {}: {e}", shown.escape_debug())))?;
    let file =
        ConfigFile::parse(&text).map_err(|e| CliError(format!("{}: {e}", shown.escape_debug())))?;
    let options = Options {
        dry_run: args.dry_run,
        prune: args.prune,
        prune_users: args.prune_users,
    };
    let outcome = apply::apply(&mut ctx.conn, &file, options, ctx.clock.now())?;
    outcome.audit(Actor::Cli);
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
    let mut lines: Vec<String> = outcome.changes.iter().map(describe).collect();
    if lines.is_empty() {
        lines.push("no changes".into());
    }
    if args.dry_run {
        lines.push("(dry run: nothing was changed)".into());
    }
    let json = Changes {
        changes: &outcome.changes,
    };
    output::print(ctx.json, &json, &lines.join("\n"));
    Ok(())
}

pub(super) fn run_export(ctx: &mut Ctx) -> Result<(), CliError> {
    let file = export::export(&mut ctx.conn)?;
    // With --json, the same document as JSON: `{"role": […], …}`.
    match ctx.json {
        true => output::print(true, &file, ""),
        false => print!("{}", file.to_toml()?),
    }
    Ok(())
}
