//! Users: creation, listing, enable/disable, passwords, roles.

use std::collections::HashMap;

use serde::Serialize;

use super::{check_name, ManageError};
use crate::db::profiles::{self, Profile};
use crate::db::session_ends;
use crate::db::{self, login_failures, refresh_tokens, roles, users, AnyConnection};
use crate::names::username_key;
use crate::secret::random_id;

/// A user as shown to administrators (never the hash).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UserView {
    /// Stable id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Role names.
    pub roles: Vec<String>,
    /// Whether the user is disabled.
    pub disabled: bool,
    /// Their email address, if set.
    pub email: Option<String>,
    /// Whether that address is known to be theirs.
    pub email_verified: bool,
    /// Their full name, if set.
    pub name: Option<String>,
    /// Creation time (Unix seconds).
    pub created_at: i64,
}

/// A change to a user's profile: each field given replaces it (an empty
/// string clears it). A new email is unverified unless `email_verified`
/// says otherwise, as an address nobody confirmed proves nothing.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    /// A new email address.
    pub email: Option<String>,
    /// Whether the email is verified.
    pub email_verified: Option<bool>,
    /// A new full name.
    pub name: Option<String>,
}

/// The longest email address (RFC 5321 §4.5.3.1.3's path, less its
/// brackets).
const MAX_EMAIL: usize = 254;

/// The longest name, in characters.
const MAX_NAME: usize = 200;

impl ProfileChange {
    /// Checks what it sets, before anything is stored: an email is
    /// `local@domain` without spaces or control characters; a name has no
    /// control characters.
    pub fn check(&self) -> Result<(), ManageError> {
        if let Some(email) = self.email.as_deref().filter(|e| !e.is_empty()) {
            let well_formed = email.len() <= MAX_EMAIL
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
                && email.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty() && !domain.is_empty() && !domain.contains('@')
                });
            if !well_formed {
                return Err(ManageError::Invalid(format!(
                    "'{}' is not an email address (name@example.com)",
                    crate::names::escape(email)
                )));
            }
        }
        if let Some(name) = &self.name {
            if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
                return Err(ManageError::Invalid(format!(
                    "a name has at most {MAX_NAME} characters and no control characters"
                )));
            }
        }
        Ok(())
    }

    /// `old` with this change applied.
    pub(super) fn apply(&self, old: Profile) -> Profile {
        let given = |v: &Option<String>, old: Option<String>| match v {
            Some(v) if v.is_empty() => None,
            Some(v) => Some(v.clone()),
            None => old,
        };
        let email_changed = self.email.is_some() && self.email != old.email;
        let email_verified = match self.email_verified {
            Some(verified) => verified,
            None => old.email_verified && !email_changed,
        };
        let email = given(&self.email, old.email);
        Profile {
            email_verified: email_verified && email.is_some(),
            email,
            name: given(&self.name, old.name),
        }
    }
}

/// Changes a user's profile (checked first); the user as it is then.
pub fn set_profile(
    conn: &mut AnyConnection,
    username: &str,
    change: &ProfileChange,
    now: i64,
) -> Result<UserView, ManageError> {
    change.check()?;
    db::write_tx(conn, |conn| {
        let user = require(conn, username)?;
        let old = profiles::of(conn, &user.id)?.unwrap_or_default();
        profiles::set(conn, &user.id, &change.apply(old), now)?;
        view(conn, user)
    })
}

/// The form in which two usernames are the same name (NFKC, then lower
/// case; [`crate::names::fold`]): `Alice`, `ALICE` and `ａｌｉｃｅ` are all
/// `alice`. Unique among users, and what a login looks a user up by
/// ([`crate::db::users::by_username`]); use it for anything keyed by a
/// typed username (e.g. a lockout count), so that every spelling of a
/// name counts as that name.
pub fn fold_username(username: &str) -> String {
    crate::names::fold(username)
}

/// Checks a username before any costly work (hashing) is done.
pub fn check_username(username: &str) -> Result<(), ManageError> {
    check_name("user", username)
}

/// Creates a user with an already computed password hash and roles.
pub fn add(
    conn: &mut AnyConnection,
    username: &str,
    password_hash: &str,
    role_names: &[String],
    now: i64,
) -> Result<UserView, ManageError> {
    check_username(username)?;
    let mut wanted: Vec<String> = role_names.to_vec();
    wanted.sort();
    wanted.dedup();
    let user = users::User {
        id: random_id(),
        username: username.to_string(),
        password_hash: password_hash.to_string(),
        disabled: false,
        created_at: now,
        updated_at: now,
        tokens_valid_after: now,
        credential_generation: 0,
    };
    db::write_tx(conn, |conn| {
        if users::by_username(conn, username)?.is_some() {
            return Err(ManageError::UserExists(username.to_string()));
        }
        for role in &wanted {
            if !roles::exists(conn, role)? {
                return Err(ManageError::UnknownRole(role.clone()));
            }
        }
        users::insert(conn, &user).map_err(|e| {
            if db::is_unique_violation(&e) {
                ManageError::UserExists(username.to_string())
            } else {
                e.into()
            }
        })?;
        for role in &wanted {
            users::grant_role(conn, &user.id, role)?;
        }
        Ok(())
    })?;
    Ok(UserView {
        id: user.id,
        username: user.username,
        roles: wanted,
        disabled: false,
        email: None,
        email_verified: false,
        name: None,
        created_at: now,
    })
}

/// Every user with their roles (two queries, not one per user).
pub fn list(conn: &mut AnyConnection) -> Result<Vec<UserView>, ManageError> {
    let mut by_user: HashMap<String, Vec<String>> = HashMap::new();
    for (user_id, role) in users::all_roles(conn)? {
        by_user.entry(user_id).or_default().push(role);
    }
    let mut profiles: HashMap<String, Profile> = profiles::all(conn)?.into_iter().collect();
    Ok(users::list(conn)?
        .into_iter()
        .map(|u| {
            let profile = profiles.remove(&u.id).unwrap_or_default();
            UserView {
                roles: by_user.remove(&u.id).unwrap_or_default(),
                id: u.id,
                username: u.username,
                disabled: u.disabled,
                email: profile.email,
                email_verified: profile.email_verified,
                name: profile.name,
                created_at: u.created_at,
            }
        })
        .collect())
}

pub(super) fn require(
    conn: &mut AnyConnection,
    username: &str,
) -> Result<users::User, ManageError> {
    users::by_username(conn, username)?.ok_or_else(|| ManageError::UnknownUser(username.into()))
}

pub(super) fn view(conn: &mut AnyConnection, user: users::User) -> Result<UserView, ManageError> {
    let profile = profiles::of(conn, &user.id)?.unwrap_or_default();
    Ok(UserView {
        roles: users::roles_of(conn, &user.id)?,
        id: user.id,
        username: user.username,
        disabled: user.disabled,
        email: profile.email,
        email_verified: profile.email_verified,
        name: profile.name,
        created_at: user.created_at,
    })
}

/// The user with this name.
pub fn get(conn: &mut AnyConnection, username: &str) -> Result<UserView, ManageError> {
    let user = require(conn, username)?;
    view(conn, user)
}

/// Disables or enables a user. Disabling revokes their refresh tokens and
/// ends their sessions, queueing back-channel logout notices for the apps
/// they signed in to ([`session_ends::end_all_of_user`]).
pub fn set_disabled(
    conn: &mut AnyConnection,
    username: &str,
    disabled: bool,
    now: i64,
) -> Result<UserView, ManageError> {
    db::write_tx(conn, |conn| {
        let user = require(conn, username)?;
        store_disabled(conn, &user.id, disabled, now)?;
        let user = require(conn, username)?;
        view(conn, user)
    })
}

/// [`set_disabled`]'s writes, inside the caller's transaction: the flag,
/// and for a disable the refresh tokens revoked and the sessions ended.
pub(super) fn store_disabled(
    conn: &mut AnyConnection,
    user_id: &str,
    disabled: bool,
    now: i64,
) -> Result<session_ends::Ended, ManageError> {
    users::set_disabled(conn, user_id, disabled, now)?;
    if !disabled {
        return Ok(session_ends::Ended::default());
    }
    refresh_tokens::revoke_for_user(conn, user_id, now)?;
    Ok(session_ends::end_all_of_user(conn, user_id, now)?)
}

/// What a password reset did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordSet {
    /// Refresh tokens revoked.
    pub revoked: usize,
    /// Lock records cleared (see [`unlock`]).
    pub unlocked: usize,
}

/// Sets a new password hash, revokes the user's refresh tokens, ends their
/// sessions (queueing back-channel logout notices) and clears the
/// username's locks from every address, in one transaction: whoever was
/// locked out gets in with the new password at once.
pub fn set_password(
    conn: &mut AnyConnection,
    username: &str,
    password_hash: &str,
    now: i64,
) -> Result<PasswordSet, ManageError> {
    db::write_tx(conn, |conn| {
        let user = require(conn, username)?;
        users::set_password_hash(conn, &user.id, password_hash, true, now)?;
        let ended = session_ends::end_all_of_user(conn, &user.id, now)?;
        Ok(PasswordSet {
            revoked: ended.refresh_tokens + refresh_tokens::revoke_for_user(conn, &user.id, now)?,
            unlocked: login_failures::clear_username(conn, &username_key(&user.username))?,
        })
    })
}

/// Clears the username's failure counts and locks from every address;
/// returns the user and how many records there were (0 is no error: the
/// user was not locked).
pub fn unlock(conn: &mut AnyConnection, username: &str) -> Result<(UserView, usize), ManageError> {
    db::write_tx(conn, |conn| {
        let user = require(conn, username)?;
        let cleared = login_failures::clear_username(conn, &username_key(&user.username))?;
        Ok((view(conn, user)?, cleared))
    })
}

/// What `authd user mfa-reset` removed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MfaReset {
    /// The user.
    pub username: String,
    /// Whether a TOTP secret was removed.
    pub totp_removed: bool,
    /// How many unused recovery codes were removed.
    pub recovery_codes_removed: usize,
    /// How many passkeys were removed.
    pub passkeys_removed: usize,
}

/// Removes every second factor of the user (a lost device), in one
/// transaction. A user whose role requires one is taken to enrolment at
/// their next sign-in.
pub fn mfa_reset(
    conn: &mut AnyConnection,
    username: &str,
) -> Result<(String, MfaReset), ManageError> {
    db::write_tx(conn, |conn| {
        let user = require(conn, username)?;
        let (totp_removed, recovery_codes_removed) = crate::mfa::remove_totp(conn, &user.id)?;
        let passkeys_removed = db::passkeys::delete_all(conn, &user.id)?;
        Ok((
            user.id,
            MfaReset {
                username: user.username,
                totp_removed,
                recovery_codes_removed,
                passkeys_removed,
            },
        ))
    })
}

/// Grants (`grant = true`) or revokes a role.
pub fn change_role(
    conn: &mut AnyConnection,
    username: &str,
    role: &str,
    grant: bool,
) -> Result<UserView, ManageError> {
    db::write_tx(conn, |conn| {
        let user = require(conn, username)?;
        if !roles::exists(conn, role)? {
            return Err(ManageError::UnknownRole(role.to_string()));
        }
        if grant {
            users::grant_role(conn, &user.id, role)?;
        } else if !users::revoke_role(conn, &user.id, role)? {
            return Err(ManageError::Invalid(format!(
                "user '{}' does not have role '{}'",
                crate::names::escape(username),
                crate::names::escape(role)
            )));
        }
        view(conn, user)
    })
}

/// What `authd user delete` removed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Deleted {
    /// The user's id (the `sub` of their tokens).
    pub id: String,
    /// Their name.
    pub username: String,
    /// Always true: the JSON output says what happened.
    pub deleted: bool,
}

/// Deletes a user in one transaction. Their refresh tokens, codes,
/// sessions, consents and second factors go with them, and their lock
/// records, so that a new user of that name starts clean; access tokens
/// they held are refused by introspection and UserInfo from then on,
/// which find no user for their `sub` ([`crate::oauth::access_token`]).
/// Clients they registered stay, suspended, for an administrator to
/// remove.
pub fn delete(conn: &mut AnyConnection, username: &str, now: i64) -> Result<Deleted, ManageError> {
    db::write_tx(conn, |conn| {
        let user = require(conn, username)?;
        // Before the row goes: the sessions (and who signed in through
        // them) go with it, and their apps must still be told.
        session_ends::end_all_of_user(conn, &user.id, now)?;
        users::delete(conn, &user.id)?;
        login_failures::clear_username(conn, &username_key(&user.username))?;
        Ok(Deleted {
            id: user.id,
            username: user.username,
            deleted: true,
        })
    })
}
