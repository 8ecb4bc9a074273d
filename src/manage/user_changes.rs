//! Users created by the running server (the admin HTTP API): the checks
//! and order of `authd user add`, with the password hashed on the
//! bounded hashing threads ([`Passwords::hash`]) and the user and profile
//! stored in one write.

use super::users::{self, ProfileChange, UserView};
use super::ManageError;
use crate::clock::Clock;
use crate::db::{users as stored_users, Db, DbError};
use crate::password::Passwords;
use crate::secret::Secret;

/// A user to create.
#[derive(Debug, Default)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Their password; `None` makes a user who cannot sign in with a
    /// password until one is set (`authd user set-password`).
    pub password: Option<Secret>,
    /// Roles to grant.
    pub roles: Vec<String>,
    /// Their email address (unverified).
    pub email: Option<String>,
    /// Their full name.
    pub name: Option<String>,
}

/// Creates the user: the username, the profile, a taken name and the
/// password policy are checked in that order, as `authd user add` checks
/// them, and a taken name costs no hash.
pub async fn create(
    db: &Db,
    passwords: &Passwords,
    clock: &Clock,
    new: NewUser,
) -> Result<UserView, ManageError> {
    users::check_username(&new.username)?;
    let profile = ProfileChange {
        email: new.email,
        email_verified: None,
        name: new.name,
    };
    profile.check()?;
    let name = new.username.clone();
    let taken = db
        .read(move |conn| stored_users::by_username(conn, &name).map_err(DbError::from))
        .await?
        .is_some();
    if taken {
        return Err(ManageError::UserExists(new.username));
    }
    // Without a password, the hash of a random one nobody knows: the
    // user exists like any other (a login attempt costs the same time)
    // but no password signs them in.
    let password = new.password.unwrap_or_else(Secret::generate);
    let hash = passwords.hash(password).await?;
    let (username, roles, clock) = (new.username, new.roles, clock.clone());
    db.write(move |conn| {
        let user = users::add(conn, &username, &hash, &roles, clock.now())?;
        match profile.email.is_some() || profile.name.is_some() {
            true => users::set_profile(conn, &username, &profile, clock.now()),
            false => Ok(user),
        }
    })
    .await
}
