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
    /// Change a role: its scopes (replaced), whether it requires a
    /// second factor, or both.
    #[command(group(clap::ArgGroup::new("change").required(true).multiple(true)))]
    Set {
        /// Role name.
        name: String,
        /// The scopes it grants from now on, space-separated; may be
        /// repeated. Replaces the old ones.
        #[arg(long = "scope", group = "change")]
        scopes: Vec<String>,
        /// Whether its users must have a second factor.
        #[arg(long, value_name = "true|false", group = "change")]
        require_mfa: Option<bool>,
    },
    /// Delete a role; refused while a user holds it, unless --force.
    Delete {
        /// Role name.
        name: String,
        /// Delete it even though users hold it: they lose it.
        #[arg(long)]
        force: bool,
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
        RoleCmd::Set {
            name,
            scopes,
            require_mfa,
        } => {
            let change = roles::RoleChange {
                scopes: (!scopes.is_empty()).then_some(scopes),
                require_mfa,
            };
            let role = roles::set(&mut ctx.conn, &name, &change)?;
            if change.scopes.is_some() {
                audit::role_scopes_set(&role.name, &role.scopes, Actor::Cli);
            }
            if let Some(required) = require_mfa {
                audit::role_require_mfa(&role.name, required, Actor::Cli);
            }
            output::print(ctx.json, &role, &describe(&role));
        }
        RoleCmd::Delete { name, force } => {
            let deleted = roles::delete(&mut ctx.conn, &name, force)?;
            audit::role_deleted(&deleted.name, deleted.users_removed, Actor::Cli);
            let text = format!(
                "role '{}' deleted; {} user(s) lost it",
                deleted.name, deleted.users_removed
            );
            output::print(ctx.json, &deleted, &text);
        }
        RoleCmd::List => {
            let all = roles::list(&mut ctx.conn)?;
            let text = all.iter().map(describe).collect::<Vec<_>>().join("\n");
            output::print(ctx.json, &all, &text);
        }
    }
    Ok(())
}
