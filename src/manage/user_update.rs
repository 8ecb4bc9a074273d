//! Changing a user in one step (`PATCH /admin/v1/users/{username}`): the
//! profile, whether they are disabled, and their roles, in one
//! transaction, each part with the rules and effects of its own command
//! (`authd user set`, `user disable`/`enable`, `grant-role`/`revoke-role`).

use super::users::{require, store_disabled, view, ProfileChange, UserView};
use super::ManageError;
use crate::db::{self, profiles, roles, users, AnyConnection};

/// What to change; `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    /// Profile fields (an empty string clears one).
    pub profile: ProfileChange,
    /// Disable (`true`) or enable (`false`) the user.
    pub disabled: Option<bool>,
    /// The roles the user holds from now on, replacing the old ones.
    pub roles: Option<Vec<String>>,
}

impl UserChange {
    /// Whether it changes nothing at all.
    pub fn is_empty(&self) -> bool {
        let p = &self.profile;
        p.email.is_none()
            && p.email_verified.is_none()
            && p.name.is_none()
            && self.disabled.is_none()
            && self.roles.is_none()
    }
}

/// What an update did: the user as it is now, and what the audit trail
/// records.
#[derive(Debug, Clone)]
pub struct UserUpdated {
    /// The user now.
    pub user: UserView,
    /// Whether a profile field was given.
    pub profile_set: bool,
    /// The new disabled state, when it changed.
    pub disabled: Option<bool>,
    /// Roles granted.
    pub granted: Vec<String>,
    /// Roles revoked.
    pub revoked: Vec<String>,
}

/// Applies `change` to the user in one transaction, all of it or nothing:
/// a bad email or an unknown role leaves the user as they were. A
/// disable revokes their refresh tokens and ends their sessions
/// (queueing back-channel logout notices), as `authd user disable` does.
pub fn update(
    conn: &mut AnyConnection,
    username: &str,
    change: &UserChange,
    now: i64,
) -> Result<UserUpdated, ManageError> {
    if change.is_empty() {
        return Err(ManageError::Invalid(
            "nothing to change: give at least one field".into(),
        ));
    }
    change.profile.check()?;
    db::write_tx(conn, |conn| {
        let user = require(conn, username)?;
        let p = &change.profile;
        let profile_set = p.email.is_some() || p.email_verified.is_some() || p.name.is_some();
        if profile_set {
            let old = profiles::of(conn, &user.id)?.unwrap_or_default();
            profiles::set(conn, &user.id, &p.apply(old), now)?;
        }
        let disabled = change.disabled.filter(|d| *d != user.disabled);
        if let Some(d) = disabled {
            store_disabled(conn, &user.id, d, now)?;
        }
        let (mut granted, mut revoked) = (Vec::new(), Vec::new());
        if let Some(wanted) = &change.roles {
            let mut wanted = wanted.clone();
            wanted.sort();
            wanted.dedup();
            for role in &wanted {
                if !roles::exists(conn, role)? {
                    return Err(ManageError::UnknownRole(role.clone()));
                }
            }
            let held = users::roles_of(conn, &user.id)?;
            for role in wanted.iter().filter(|r| !held.contains(r)) {
                users::grant_role(conn, &user.id, role)?;
                granted.push(role.clone());
            }
            for role in held.iter().filter(|r| !wanted.contains(r)) {
                users::revoke_role(conn, &user.id, role)?;
                revoked.push(role.clone());
            }
        }
        let user = require(conn, username)?;
        Ok(UserUpdated {
            user: view(conn, user)?,
            profile_set,
            disabled,
            granted,
            revoked,
        })
    })
}
