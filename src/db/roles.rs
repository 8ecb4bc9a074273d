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
    insert_scopes(conn, name, scopes)
}

fn insert_scopes(conn: &mut AnyConnection, name: &str, scopes: &[String]) -> QueryResult<()> {
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

/// Makes the role require a second factor of its users, or not; whether
/// the role exists.
pub fn set_require_mfa(conn: &mut AnyConnection, name: &str, required: bool) -> QueryResult<bool> {
    diesel::update(roles::table.find(name))
        .set(roles::require_mfa.eq(required))
        .execute(conn)
        .map(|n| n > 0)
}

/// The roles that require a second factor, by name.
pub fn requiring_mfa(conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
    roles::table
        .filter(roles::require_mfa.eq(true))
        .select(roles::name)
        .order(roles::name.asc())
        .load(conn)
}

/// Whether any role of the user requires a second factor.
pub fn mfa_required_for(conn: &mut AnyConnection, user_id: &str) -> QueryResult<bool> {
    use super::schema::user_roles;
    diesel::select(diesel::dsl::exists(
        user_roles::table
            .inner_join(roles::table)
            .filter(user_roles::user_id.eq(user_id))
            .filter(roles::require_mfa.eq(true)),
    ))
    .get_result(conn)
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

/// Replaces the scopes the role grants; whether the role exists.
pub fn set_scopes(conn: &mut AnyConnection, name: &str, scopes: &[String]) -> QueryResult<bool> {
    if !exists(conn, name)? {
        return Ok(false);
    }
    diesel::delete(role_scopes::table.filter(role_scopes::role_name.eq(name))).execute(conn)?;
    insert_scopes(conn, name, scopes)?;
    Ok(true)
}

/// How many users hold the role.
pub fn holders(conn: &mut AnyConnection, name: &str) -> QueryResult<i64> {
    use super::schema::user_roles;
    user_roles::table
        .filter(user_roles::role_name.eq(name))
        .count()
        .get_result(conn)
}

/// Deletes the role; its scopes and every user's grant of it go with it
/// (cascade). Returns the rows deleted (0: no such role).
pub fn delete(conn: &mut AnyConnection, name: &str) -> QueryResult<usize> {
    diesel::delete(roles::table.find(name)).execute(conn)
}
