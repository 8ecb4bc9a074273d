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
        /// Its users must have a second factor: one without is taken to
        /// enrolment right after the password.
        #[arg(long)]
        require_mfa: bool,
    },
    /// Change a role.
    Set {
        /// Role name.
        name: String,
        /// Whether its users must have a second factor.
        #[arg(long, value_name = "true|false", required = true)]
        require_mfa: Option<bool>,
    },
    /// List roles and their scopes.
    List,
}

fn describe(role: &roles::RoleView) -> String {
    let mfa = if role.require_mfa {
        "\t(requires a second factor)"
    } else {
        ""
    };
    format!("{}\t{}{mfa}", role.name, output::list(&role.scopes))
}

pub(super) fn run(cmd: RoleCmd, ctx: &mut Ctx) -> Result<(), CliError> {
    match cmd {
        RoleCmd::Add {
            name,
            scopes,
            require_mfa,
        } => {
            let now = ctx.clock.now();
            let role = roles::add_with_policy(&mut ctx.conn, &name, &scopes, require_mfa, now)?;
            audit::role_added(&role.name, &role.scopes, Actor::Cli);
            if require_mfa {
                audit::role_require_mfa(&role.name, true, Actor::Cli);
            }
            let text = format!(
                "role '{}' created, grants: {}{}",
                role.name,
                output::list(&role.scopes),
                if require_mfa {
                    "; requires a second factor"
                } else {
                    ""
                }
            );
            output::print(ctx.json, &role, &text);
        }
        RoleCmd::Set { name, require_mfa } => {
            // clap requires the flag; more settings may join it.
            let Some(required) = require_mfa else {
                return Ok(());
            };
            let role = roles::set_require_mfa(&mut ctx.conn, &name, required)?;
            audit::role_require_mfa(&role.name, required, Actor::Cli);
            output::print(ctx.json, &role, &describe(&role));
        }
        RoleCmd::List => {
            let all = roles::list(&mut ctx.conn)?;
            let text = all.iter().map(describe).collect::<Vec<_>>().join("\n");
            output::print(ctx.json, &all, &text);
        }
    }
    Ok(())
}
