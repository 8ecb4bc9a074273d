//! Roles and the scopes they grant.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{check_name, parse_scopes, ManageError};
use crate::db::{self, roles, AnyConnection};

/// A role as shown to administrators.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
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
    let scopes: Vec<String> = parse_scopes(scopes)?.into_iter().collect();
    if scopes.is_empty() {
        return Err(ManageError::Invalid(format!(
            "role '{name}' needs at least one scope (--scope \"S1 S2\")"
        )));
    }
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

/// Makes a role require a second factor of its users, or not. A user of
/// such a role without one is taken to enrolment at their next sign-in,
/// and refused by the password grant until then.
pub fn set_require_mfa(
    conn: &mut AnyConnection,
    name: &str,
    required: bool,
) -> Result<RoleView, ManageError> {
    db::write_tx(conn, |conn| {
        if !roles::set_require_mfa(conn, name, required)? {
            return Err(ManageError::UnknownRole(name.to_string()));
        }
        let scopes = roles::list(conn)?.remove(name).unwrap_or_default();
        Ok(RoleView {
            name: name.to_string(),
            scopes,
            require_mfa: required,
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
