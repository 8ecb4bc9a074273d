//! The `roles` and `role_scopes` tables.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::schema::{role_scopes, roles};
use super::AnyConnection;

/// Inserts a role and the scopes it grants.
pub fn insert(
    conn: &mut AnyConnection,
    name: &str,
    scopes: &[String],
    now: i64,
) -> QueryResult<()> {
    diesel::insert_into(roles::table)
        .values((roles::name.eq(name), roles::created_at.eq(now)))
        .execute(conn)?;
    for scope in scopes {
        diesel::insert_into(role_scopes::table)
            .values((
                role_scopes::role_name.eq(name),
                role_scopes::scope.eq(scope),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Whether the role exists.
pub fn exists(conn: &mut AnyConnection, name: &str) -> QueryResult<bool> {
    roles::table
        .find(name)
        .count()
        .get_result::<i64>(conn)
        .map(|n| n > 0)
}

/// Every role with its scopes, by name.
pub fn list(conn: &mut AnyConnection) -> QueryResult<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = roles::table
        .select(roles::name)
        .load::<String>(conn)?
        .into_iter()
        .map(|n| (n, Vec::new()))
        .collect();
    let pairs: Vec<(String, String)> = role_scopes::table
        .select((role_scopes::role_name, role_scopes::scope))
        .order((role_scopes::role_name.asc(), role_scopes::scope.asc()))
        .load(conn)?;
    for (role, scope) in pairs {
        out.entry(role).or_default().push(scope);
    }
    Ok(out)
}

/// Every scope some role grants, sorted (the metadata's `scopes_supported`).
pub fn all_scopes(conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
    role_scopes::table
        .select(role_scopes::scope)
        .distinct()
        .order(role_scopes::scope.asc())
        .load(conn)
}
