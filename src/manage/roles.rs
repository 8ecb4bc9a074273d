//! Roles and the scopes they grant.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{check_name, parse_scopes, ManageError};
use crate::db::{self, roles, AnyConnection};

/// A role as shown to administrators.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RoleView {
    /// Its name.
    pub name: String,
    /// The scopes it grants.
    pub scopes: Vec<String>,
    /// Whether its users must have a second factor (`--require-mfa`).
    pub require_mfa: bool,
}

/// Creates a role granting `scopes` (space-separated lists).
pub fn add(
    conn: &mut AnyConnection,
    name: &str,
    scopes: &[String],
    now: i64,
) -> Result<RoleView, ManageError> {
    add_with_policy(conn, name, scopes, false, now)
}

/// [`add`], and when `require_mfa`, a role whose users must have a second
/// factor (docs/interface.md "Second factors"), in the same transaction.
pub fn add_with_policy(
    conn: &mut AnyConnection,
    name: &str,
    scopes: &[String],
    require_mfa: bool,
    now: i64,
) -> Result<RoleView, ManageError> {
    check_name("role", name)?;
    let scopes = checked_scopes(name, scopes)?;
    db::write_tx(conn, |conn| {
        if roles::exists(conn, name)? {
            return Err(ManageError::RoleExists(name.to_string()));
        }
        roles::insert(conn, name, &scopes, now).map_err(|e| {
            if db::is_unique_violation(&e) {
                ManageError::RoleExists(name.to_string())
            } else {
                ManageError::from(e)
            }
        })?;
        if require_mfa {
            roles::set_require_mfa(conn, name, true)?;
        }
        Ok(())
    })?;
    Ok(RoleView {
        name: name.to_string(),
        scopes,
        require_mfa,
    })
}

/// The scopes given, parsed: at least one.
fn checked_scopes(name: &str, given: &[String]) -> Result<Vec<String>, ManageError> {
    let scopes: Vec<String> = parse_scopes(given)?.into_iter().collect();
    if scopes.is_empty() {
        return Err(ManageError::Invalid(format!(
            "role '{}' needs at least one scope (--scope \"S1 S2\")",
            crate::names::escape(name)
        )));
    }
    Ok(scopes)
}

/// A change to a role; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct RoleChange {
    /// The scopes it grants from now on (space-separated lists), replacing
    /// the old ones.
    pub scopes: Option<Vec<String>>,
    /// Whether its users must have a second factor.
    pub require_mfa: Option<bool>,
}

/// Changes a role in one transaction; the role as it is then. New scopes
/// count for what its users get from now on (tokens already issued keep
/// theirs). A role that requires a second factor takes a user without one
/// to enrolment at their next sign-in, and the password grant refuses
/// them until then.
pub fn set(
    conn: &mut AnyConnection,
    name: &str,
    change: &RoleChange,
) -> Result<RoleView, ManageError> {
    if change.scopes.is_none() && change.require_mfa.is_none() {
        return Err(ManageError::Invalid(
            "nothing to change: give at least one field".into(),
        ));
    }
    let scopes: Option<Vec<String>> = match &change.scopes {
        Some(given) => Some(checked_scopes(name, given)?),
        None => None,
    };
    db::write_tx(conn, |conn| {
        if !roles::exists(conn, name)? {
            return Err(ManageError::UnknownRole(name.to_string()));
        }
        if let Some(scopes) = &scopes {
            roles::set_scopes(conn, name, scopes)?;
        }
        if let Some(required) = change.require_mfa {
            roles::set_require_mfa(conn, name, required)?;
        }
        let scopes = roles::list(conn)?.remove(name).unwrap_or_default();
        Ok(RoleView {
            name: name.to_string(),
            scopes,
            require_mfa: roles::requiring_mfa(conn)?.iter().any(|r| r == name),
        })
    })
}

/// What deleting a role did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RoleDeleted {
    /// The role.
    pub name: String,
    /// How many users held it (and lost it).
    pub users_removed: i64,
}

/// Deletes a role. Refused ([`ManageError::RoleInUse`]) while a user holds
/// it, unless `force`, which takes it from them in the same transaction.
pub fn delete(
    conn: &mut AnyConnection,
    name: &str,
    force: bool,
) -> Result<RoleDeleted, ManageError> {
    db::write_tx(conn, |conn| {
        if !roles::exists(conn, name)? {
            return Err(ManageError::UnknownRole(name.to_string()));
        }
        let holders = roles::holders(conn, name)?;
        if holders > 0 && !force {
            return Err(ManageError::RoleInUse(name.to_string(), holders));
        }
        roles::delete(conn, name)?;
        Ok(RoleDeleted {
            name: name.to_string(),
            users_removed: holders,
        })
    })
}

/// Every role.
pub fn list(conn: &mut AnyConnection) -> Result<Vec<RoleView>, ManageError> {
    let all: BTreeMap<String, Vec<String>> = roles::list(conn)?;
    let requiring = roles::requiring_mfa(conn)?;
    Ok(all
        .into_iter()
        .map(|(name, scopes)| RoleView {
            require_mfa: requiring.contains(&name),
            name,
            scopes,
        })
        .collect())
}
