//! Self-service sign-up (`/register`): the rules of `authd user add` (the
//! same username check, password policy and [`users::add`]), with the
//! password hashed by the logins' bounded hasher, never on a request
//! thread. The page renders what this decides.

use std::net::IpAddr;

use super::Logins;
use crate::audit::{self, Actor};
use crate::clock::Clock;
use crate::db::users as stored_users;
use crate::db::{Db, DbError};
use crate::manage::users::{self, ProfileChange};
use crate::manage::ManageError;
use crate::password::{self, PasswordError};
use crate::secret::Secret;

/// What a sign-up asks for, as typed.
pub struct Request<'a> {
    /// The username.
    pub username: &'a str,
    /// The password.
    pub password: Option<&'a str>,
    /// The password typed again.
    pub confirm: Option<&'a str>,
    /// An optional email address (stored unverified).
    pub email: Option<&'a str>,
    /// The client's address, for the audit record.
    pub remote: Option<IpAddr>,
}

/// Why a sign-up created nothing; its `Display` is the sentence shown.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// A field is missing.
    #[error("Choose a username and a password, and type it twice.")]
    Incomplete,
    /// The two passwords differ.
    #[error("The two passwords do not match.")]
    Mismatch,
    /// The username exists.
    #[error("That username is taken. Choose another one.")]
    Taken,
    /// A rule refused a field: the rule's own message, which the page
    /// shows as a sentence.
    #[error("{0}")]
    Invalid(String),
    /// The hashing queue is full: worth a retry in a moment.
    #[error("Too many requests are waiting. Try again in a moment.")]
    Busy,
}

/// A failure that is not the user's: the database, or an operator's
/// setting (an unknown role in `AUTHD_REGISTRATION_ROLES`).
#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Anything else that is ours to fix (logged, never shown).
    #[error("{0}")]
    Internal(String),
}

/// Checks the request, hashes the password and creates the user with
/// `roles`; `Ok(Err(refusal))` when it created nothing.
pub async fn sign_up(
    logins: &Logins,
    db: &Db,
    clock: &Clock,
    roles: Vec<String>,
    asked: Request<'_>,
) -> Result<Result<(), Refusal>, SignUpError> {
    let invalid = |e: &dyn std::fmt::Display| Ok(Err(Refusal::Invalid(e.to_string())));
    let (Some(password), Some(confirm)) = (asked.password, asked.confirm) else {
        return Ok(Err(Refusal::Incomplete));
    };
    if let Err(e) = users::check_username(asked.username) {
        return invalid(&e);
    }
    if password != confirm {
        return Ok(Err(Refusal::Mismatch));
    }
    // Optional, and unverified: nobody confirmed the address.
    let profile = ProfileChange {
        email: asked.email.filter(|e| !e.is_empty()).map(str::to_string),
        ..ProfileChange::default()
    };
    if let Err(e) = profile.check() {
        return invalid(&e);
    }
    if let Err(e) = password::check_policy(password) {
        return invalid(&e);
    }
    // A taken name costs no hash (the insert checks again).
    let name = asked.username.to_string();
    let taken = db
        .read(move |conn| stored_users::by_username(conn, &name).map_err(DbError::from))
        .await?
        .is_some();
    if taken {
        return Ok(Err(Refusal::Taken));
    }
    if logins.shed() {
        return Ok(Err(Refusal::Busy));
    }
    let hash = match logins.passwords().hash(Secret::new(password)).await {
        Ok(hash) => hash,
        Err(PasswordError::Busy) => return Ok(Err(Refusal::Busy)),
        Err(e) if password::refuses_password(&e) => return invalid(&e),
        Err(e) => return Err(SignUpError::Internal(e.to_string())),
    };
    let (name, clock) = (asked.username.to_string(), clock.clone());
    let added = db
        .write(move |conn| {
            let user = users::add(conn, &name, &hash, &roles, clock.now())?;
            match profile.email.is_some() {
                true => users::set_profile(conn, &name, &profile, clock.now()),
                false => Ok(user),
            }
        })
        .await;
    match added {
        Ok(user) => {
            let actor = Actor::Registration {
                remote: asked.remote,
            };
            audit::user_added(&user.id, &user.username, &user.roles, actor);
            Ok(Ok(()))
        }
        Err(ManageError::UserExists(_)) => Ok(Err(Refusal::Taken)),
        Err(ManageError::Invalid(m)) => invalid(&m),
        Err(ManageError::Db(e)) => Err(e.into()),
        // An unknown role in AUTHD_REGISTRATION_ROLES: the operator's to
        // fix, logged with the role's name.
        Err(e) => Err(SignUpError::Internal(format!(
            "registration (AUTHD_REGISTRATION_ROLES): {e}"
        ))),
    }
}
