//! `authd user …`

use clap::Subcommand;

use super::{output, prompt, CliError, Ctx};
use crate::audit::{self, Actor};
use crate::db::password_params;
use crate::manage::users::{self, ProfileChange, UserView};
use crate::manage::ManageError;
use crate::password::Passwords;

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a user.
    Add {
        /// Login name.
        username: String,
        /// A role to grant; may be repeated.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Read the password as one line from stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// Their email address (unverified; see `user set`).
        #[arg(long)]
        email: Option<String>,
        /// Their full name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Change a user's profile, the claims apps get with the `profile`
    /// and `email` scopes; an empty value clears a field.
    Set {
        /// Login name.
        username: String,
        /// Their email address (a new one is unverified unless
        /// --email-verified true is given too).
        #[arg(long)]
        email: Option<String>,
        /// Whether the email address is known to be theirs.
        #[arg(long, value_name = "true|false")]
        email_verified: Option<bool>,
        /// Their full name.
        #[arg(long)]
        name: Option<String>,
    },
    /// List users.
    List,
    /// Show one user (never the password hash).
    Show {
        /// Login name.
        username: String,
    },
    /// Delete a user: their refresh tokens, codes and sessions go with
    /// them, and their access tokens stop passing authd's checks at once.
    Delete {
        /// Login name.
        username: String,
    },
    /// Disable a user: no more logins, refresh tokens revoked.
    Disable {
        /// Login name.
        username: String,
    },
    /// Enable a disabled user.
    Enable {
        /// Login name.
        username: String,
    },
    /// Set a new password; revokes the user's refresh tokens.
    SetPassword {
        /// Login name.
        username: String,
        /// Read the password as one line from stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Clear the user's failed-login counts and locks, from every address.
    Unlock {
        /// Login name.
        username: String,
    },
    /// Remove the user's second factors (TOTP and recovery codes), for a
    /// lost device.
    MfaReset {
        /// Login name.
        username: String,
    },
    /// Grant a role.
    GrantRole {
        /// Login name.
        username: String,
        /// Role name.
        role: String,
    },
    /// Revoke a role.
    RevokeRole {
        /// Login name.
        username: String,
        /// Role name.
        role: String,
    },
}

fn describe(u: &UserView) -> String {
    format!(
        "{}\t{}\troles: {}{}",
        u.username,
        u.id,
        output::list(&u.roles),
        if u.disabled { "\t(disabled)" } else { "" }
    )
}

/// A hasher with the database's Argon2 parameters (the server's), which
/// this command's own settings only seed when none are stored yet: so
/// every hash costs what the dummy hash of unknown users costs.
fn passwords(ctx: &mut Ctx) -> Result<Passwords, CliError> {
    let now = ctx.clock.now();
    let cost = password_params::seed(&mut ctx.conn, ctx.settings.argon2.cost(), now)?;
    Ok(Passwords::new(cost, 1, 0)?)
}

pub(super) fn run(cmd: UserCmd, ctx: &mut Ctx) -> Result<(), CliError> {
    match cmd {
        UserCmd::Add {
            username,
            roles,
            password_stdin,
            email,
            name,
        } => {
            // Check what is cheap first so that a typo costs no prompt.
            users::check_username(&username)?;
            let profile = ProfileChange {
                email,
                email_verified: None,
                name,
            };
            profile.check()?;
            if users::get(&mut ctx.conn, &username).is_ok() {
                return Err(ManageError::UserExists(username).into());
            }
            let password = prompt::new_password(password_stdin)?;
            let hash = passwords(ctx)?.hash_blocking(password.expose())?;
            let user = users::add(&mut ctx.conn, &username, &hash, &roles, ctx.clock.now())?;
            audit::user_added(&user.id, &user.username, &user.roles, Actor::Cli);
            let user = match profile.email.is_some() || profile.name.is_some() {
                true => users::set_profile(&mut ctx.conn, &username, &profile, ctx.clock.now())?,
                false => user,
            };
            let json = serde_json::json!({
                "id": user.id, "username": user.username, "roles": user.roles,
                "email": user.email, "email_verified": user.email_verified, "name": user.name,
            });
            output::print(
                ctx.json,
                &json,
                &format!("user created: {}", describe(&user)),
            );
        }
        UserCmd::Set {
            username,
            email,
            email_verified,
            name,
        } => {
            let change = ProfileChange {
                email,
                email_verified,
                name,
            };
            let user = users::set_profile(&mut ctx.conn, &username, &change, ctx.clock.now())?;
            audit::user_profile_set(&user.id, &user.username, Actor::Cli);
            output::print(ctx.json, &user, &describe(&user));
        }
        UserCmd::List => {
            let all = users::list(&mut ctx.conn)?;
            let text = all.iter().map(describe).collect::<Vec<_>>().join("\n");
            output::print(ctx.json, &all, &text);
        }
        UserCmd::Show { username } => {
            let user = users::get(&mut ctx.conn, &username)?;
            let mut text = describe(&user);
            for (label, value) in [("email", &user.email), ("name", &user.name)] {
                if let Some(value) = value {
                    text.push_str(&format!("\n{label}: {}", value.escape_debug()));
                }
            }
            output::print(ctx.json, &user, &text);
        }
        UserCmd::Delete { username } => {
            let deleted = users::delete(&mut ctx.conn, &username, ctx.clock.now())?;
            audit::user_deleted(&deleted.id, &deleted.username, Actor::Cli);
            let text = format!("user '{}' deleted", deleted.username.escape_debug());
            output::print(ctx.json, &deleted, &text);
        }
        UserCmd::Disable { username } => {
            let user = users::set_disabled(&mut ctx.conn, &username, true, ctx.clock.now())?;
            audit::user_disabled(&user.id, &user.username, true, Actor::Cli);
            output::print(ctx.json, &user, &format!("user '{username}' disabled"));
        }
        UserCmd::Enable { username } => {
            let user = users::set_disabled(&mut ctx.conn, &username, false, ctx.clock.now())?;
            audit::user_disabled(&user.id, &user.username, false, Actor::Cli);
            output::print(ctx.json, &user, &format!("user '{username}' enabled"));
        }
        UserCmd::SetPassword {
            username,
            password_stdin,
        } => {
            let user = users::get(&mut ctx.conn, &username)?;
            let password = prompt::new_password(password_stdin)?;
            let hash = passwords(ctx)?.hash_blocking(password.expose())?;
            let set = users::set_password(&mut ctx.conn, &username, &hash, ctx.clock.now())?;
            audit::password_set(&user.id, &username, set.revoked, Actor::Cli);
            if set.unlocked > 0 {
                audit::user_unlocked(&user.id, &username, set.unlocked, Actor::Cli);
            }
            let json = serde_json::json!({
                "username": username, "refresh_tokens_revoked": set.revoked,
                "lock_records_cleared": set.unlocked,
            });
            let text = format!(
                "password set for '{username}'; {} refresh token(s) revoked",
                set.revoked
            );
            output::print(ctx.json, &json, &text);
        }
        UserCmd::Unlock { username } => {
            let (user, cleared) = users::unlock(&mut ctx.conn, &username)?;
            audit::user_unlocked(&user.id, &user.username, cleared, Actor::Cli);
            let json = serde_json::json!({ "username": user.username, "cleared": cleared });
            let text = format!("user '{username}' unlocked; {cleared} lock record(s) cleared");
            output::print(ctx.json, &json, &text);
        }
        UserCmd::MfaReset { username } => {
            let (id, reset) = users::mfa_reset(&mut ctx.conn, &username)?;
            let (totp, codes) = (reset.totp_removed, reset.recovery_codes_removed);
            let passkeys = reset.passkeys_removed;
            audit::mfa_reset(&id, &reset.username, (totp, codes, passkeys), Actor::Cli);
            let text = match (totp, passkeys) {
                (true, 0) => format!(
                    "second factors of '{}' removed (TOTP and {codes} recovery code(s))",
                    reset.username
                ),
                (totp, n) if totp || n > 0 => format!(
                    "second factors of '{}' removed (TOTP: {}, {codes} recovery code(s), \
                     {n} passkey(s))",
                    reset.username,
                    if totp { "yes" } else { "no" }
                ),
                _ => format!("user '{}' had no second factor", reset.username),
            };
            output::print(ctx.json, &reset, &text);
        }
        UserCmd::GrantRole { username, role } => {
            let user = users::change_role(&mut ctx.conn, &username, &role, true)?;
            audit::user_role_changed(&user.id, &username, &role, true, Actor::Cli);
            output::print(ctx.json, &user, &describe(&user));
        }
        UserCmd::RevokeRole { username, role } => {
            let user = users::change_role(&mut ctx.conn, &username, &role, false)?;
            audit::user_role_changed(&user.id, &username, &role, false, Actor::Cli);
            output::print(ctx.json, &user, &describe(&user));
        }
    }
    Ok(())
}
