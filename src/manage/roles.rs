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
}

/// Creates a role granting `scopes` (space-separated lists).
pub fn add(
    conn: &mut AnyConnection,
    name: &str,
    scopes: &[String],
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
                e.into()
            }
        })
    })?;
    Ok(RoleView {
        name: name.to_string(),
        scopes,
    })
}

/// Every role.
pub fn list(conn: &mut AnyConnection) -> Result<Vec<RoleView>, ManageError> {
    let all: BTreeMap<String, Vec<String>> = roles::list(conn)?;
    Ok(all
        .into_iter()
        .map(|(name, scopes)| RoleView { name, scopes })
        .collect())
}
