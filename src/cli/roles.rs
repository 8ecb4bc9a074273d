//! `authd role …`

use clap::Subcommand;

use super::{output, CliError, Ctx};
use crate::audit::{self, Actor};
use crate::manage::roles;

/// Role commands.
#[derive(Debug, Subcommand)]
pub enum RoleCmd {
    /// Create a role that grants scopes.
    Add {
        /// Role name.
        name: String,
        /// Scopes it grants, space-separated; may be repeated.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List roles and their scopes.
    List,
}

pub(super) fn run(cmd: RoleCmd, ctx: &mut Ctx) -> Result<(), CliError> {
    match cmd {
        RoleCmd::Add { name, scopes } => {
            let role = roles::add(&mut ctx.conn, &name, &scopes, ctx.clock.now())?;
            audit::role_added(&role.name, &role.scopes, Actor::Cli);
            let text = format!(
                "role '{}' created, grants: {}",
                role.name,
                output::list(&role.scopes)
            );
            output::print(ctx.json, &role, &text);
        }
        RoleCmd::List => {
            let all = roles::list(&mut ctx.conn)?;
            let text = all
                .iter()
                .map(|r| format!("{}\t{}", r.name, output::list(&r.scopes)))
                .collect::<Vec<_>>()
                .join("\n");
            output::print(ctx.json, &all, &text);
        }
    }
    Ok(())
}
