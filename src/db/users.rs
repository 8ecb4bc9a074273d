//! The `users` and `user_roles` tables.

use std::collections::BTreeSet;

use diesel::prelude::*;

use super::schema::{role_scopes, user_roles, users};
use super::AnyConnection;
use crate::names::{escape, fold};

/// A stored user. No `Debug`: it carries the password hash.
#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = users)]
pub struct User {
    /// Stable id (the `sub` of the user's tokens).
    pub id: String,
    /// Unique login name.
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// A disabled user cannot log in or refresh.
    pub disabled: bool,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Last change (Unix seconds).
    pub updated_at: i64,
    /// Access tokens issued before this moment are inactive at
    /// introspection (set with the generation).
    pub tokens_valid_after: i64,
    /// Bumped by every password change and disable: refresh tokens and
    /// logins in flight from an older generation are refused.
    pub credential_generation: i64,
}

/// Inserts a user row, with its folded name ([`fold`]): a name that folds
/// like an existing one is a unique violation.
pub fn insert(conn: &mut AnyConnection, user: &User) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values((
            users::id.eq(&user.id),
            users::username.eq(&user.username),
            users::username_folded.eq(fold(&user.username)),
            users::password_hash.eq(&user.password_hash),
            users::disabled.eq(user.disabled),
            users::created_at.eq(user.created_at),
            users::updated_at.eq(user.updated_at),
            users::tokens_valid_after.eq(user.tokens_valid_after),
        ))
        .execute(conn)
        .map(drop)
}

/// The user this name names, if any: the one whose name folds like it
/// ([`fold`]: `ALICE` names `alice`), as Keycloak lowercases usernames.
/// One whose name is exactly this one wins, so that a user whose folded
/// name could not be stored (it clashed with an older user's, see
/// [`fill_folded`]) can still be named exactly.
pub fn by_username(conn: &mut AnyConnection, username: &str) -> QueryResult<Option<User>> {
    let found: Vec<User> = users::table
        .filter(
            users::username_folded
                .eq(fold(username))
                .or(users::username.eq(username)),
        )
        .select(User::as_select())
        .load(conn)?;
    // At most two rows: the exact name, and another that folds alike.
    let exact = found.iter().position(|u| u.username == username);
    Ok(match exact {
        Some(i) => found.into_iter().nth(i),
        None => found.into_iter().next(),
    })
}

/// Stores the folded name of every user who has none yet (users made
/// before the column existed, or by an older authd beside this one), in
/// creation order; called whenever migrations are applied. Never fails on
/// a clash: a user whose name folds like an older user's keeps no folded
/// name (a warning names both), still logs in by their exact name, and
/// blocks nobody's start; renaming or removing one of the two settles it.
/// Returns how many were filled.
pub fn fill_folded(conn: &mut AnyConnection) -> QueryResult<usize> {
    let missing: Vec<(String, String)> = users::table
        .filter(users::username_folded.is_null())
        .order((users::created_at.asc(), users::id.asc()))
        .select((users::id, users::username))
        .load(conn)?;
    let mut filled = 0;
    for (id, username) in missing {
        let folded = fold(&username);
        let holder: Option<String> = users::table
            .filter(users::username_folded.eq(&folded))
            .select(users::username)
            .get_result(conn)
            .optional()?;
        let stored = match holder {
            Some(_) => Ok(0),
            None => diesel::update(users::table.find(&id))
                .set(users::username_folded.eq(&folded))
                .execute(conn),
        };
        match (stored, holder) {
            (Ok(1), _) => filled += 1,
            (Ok(_), holder) => clash(&username, holder.as_deref()),
            (Err(e), _) if super::is_unique_violation(&e) => clash(&username, None),
            (Err(e), _) => return Err(e),
        }
    }
    Ok(filled)
}

/// Says that `username` folds like `holder`'s name and keeps no folded name.
fn clash(username: &str, holder: Option<&str>) {
    log::warn!(
        "user '{}' has a name that folds like user '{}' (case, width or accents aside, \
         they are the same name): it still logs in by its exact name, but rename or \
         remove one of the two",
        escape(username),
        escape(holder.unwrap_or("another user"))
    );
}

/// The stored password hash of the user whose id comes first at or after
/// `key` (wrapping around to the first id), if there is any user: with
/// random ids and a key hashed from a username, a stable pick of one
/// stored hash per username, each stored hash as likely as the others.
pub fn hash_near(conn: &mut AnyConnection, key: &str) -> QueryResult<Option<String>> {
    let from = users::table
        .filter(users::id.ge(key))
        .order(users::id)
        .select(users::password_hash)
        .limit(1)
        .get_result(conn)
        .optional()?;
    if from.is_some() {
        return Ok(from);
    }
    users::table
        .order(users::id)
        .select(users::password_hash)
        .limit(1)
        .get_result(conn)
        .optional()
}

/// The user with this id, if any.
pub fn by_id(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .get_result(conn)
        .optional()
}

/// The users with these ids, in no order (none for no ids).
pub fn by_ids(conn: &mut AnyConnection, ids: &[&str]) -> QueryResult<Vec<User>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let wanted = users::id.eq_any(ids);
    // diesel's MultiBackend cannot bind a list: on each inner connection.
    match conn {
        AnyConnection::Postgres(pg) => users::table
            .filter(wanted)
            .select(User::as_select())
            .load(pg),
        AnyConnection::Sqlite(lite) => users::table
            .filter(wanted)
            .select(User::as_select())
            .load(lite),
    }
}

/// Every user, by name.
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<User>> {
    users::table
        .order(users::username.asc())
        .select(User::as_select())
        .load(conn)
}

/// How many users exist.
pub fn count(conn: &mut AnyConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

/// Enables or disables; a disable also ends every refresh token issued so far.
pub fn set_disabled(
    conn: &mut AnyConnection,
    id: &str,
    disabled: bool,
    now: i64,
) -> QueryResult<usize> {
    let target = users::table.find(id);
    if disabled {
        diesel::update(target)
            .set((
                users::disabled.eq(true),
                users::updated_at.eq(now),
                users::tokens_valid_after.eq(now),
                users::credential_generation.eq(users::credential_generation + 1),
            ))
            .execute(conn)
    } else {
        diesel::update(target)
            .set((users::disabled.eq(false), users::updated_at.eq(now)))
            .execute(conn)
    }
}

/// Deletes the user; their roles, refresh tokens, codes, sessions,
/// consents and second factors go with the row (cascade), and their
/// clients lose their owner (which suspends them). Returns the rows
/// deleted (0: no such user).
///
/// On PostgreSQL the user's refresh tokens and codes are locked first, in
/// key order, as a client's are before it goes
/// ([`super::clients::delete`]): a rotation locks its token and then
/// shares a lock on the user row for its successor's foreign key.
pub fn delete(conn: &mut AnyConnection, id: &str) -> QueryResult<usize> {
    super::clients::lock_grants_of(conn, super::clients::GrantsOf::User, id)?;
    diesel::delete(users::table.find(id)).execute(conn)
}

/// Stores a new hash. With `end_sessions` (a password change) the
/// credential generation moves on, so refresh tokens issued until now and
/// logins still hashing stop working; see [`rehash`] for a transparent one.
pub fn set_password_hash(
    conn: &mut AnyConnection,
    id: &str,
    hash: &str,
    end_sessions: bool,
    now: i64,
) -> QueryResult<usize> {
    let target = users::table.find(id);
    if end_sessions {
        diesel::update(target)
            .set((
                users::password_hash.eq(hash),
                users::updated_at.eq(now),
                users::tokens_valid_after.eq(now),
                users::credential_generation.eq(users::credential_generation + 1),
            ))
            .execute(conn)
    } else {
        diesel::update(target)
            .set(users::password_hash.eq(hash))
            .execute(conn)
    }
}

/// Replaces the hash a login just verified with the same password hashed at
/// today's cost, only if it is still the stored one: a reset that landed
/// meanwhile wins (compare-and-set). `false` when it changed.
pub fn rehash(
    conn: &mut AnyConnection,
    id: &str,
    verified: &str,
    new_hash: &str,
) -> QueryResult<bool> {
    diesel::update(
        users::table
            .find(id)
            .filter(users::password_hash.eq(verified)),
    )
    .set(users::password_hash.eq(new_hash))
    .execute(conn)
    .map(|n| n == 1)
}

/// The names of the user's roles, sorted.
pub fn roles_of(conn: &mut AnyConnection, user_id: &str) -> QueryResult<Vec<String>> {
    user_roles::table
        .filter(user_roles::user_id.eq(user_id))
        .select(user_roles::role_name)
        .order(user_roles::role_name.asc())
        .load(conn)
}

/// Every (user id, role) pair, for listings without a query per user.
pub fn all_roles(conn: &mut AnyConnection) -> QueryResult<Vec<(String, String)>> {
    user_roles::table
        .select((user_roles::user_id, user_roles::role_name))
        .order((user_roles::user_id.asc(), user_roles::role_name.asc()))
        .load(conn)
}

/// Gives the user a role; `false` when they already had it.
///
/// One `INSERT … ON CONFLICT DO NOTHING`, whose affected-row count says
/// whether the role was new: a check followed by a plain insert loses a
/// race with another grant of the same role on PostgreSQL (both see no
/// row, the second insert fails on the primary key).
pub fn grant_role(conn: &mut AnyConnection, user_id: &str, role: &str) -> QueryResult<bool> {
    let insert = diesel::insert_into(user_roles::table)
        .values((
            user_roles::user_id.eq(user_id),
            user_roles::role_name.eq(role),
        ))
        .on_conflict((user_roles::user_id, user_roles::role_name))
        .do_nothing();
    // Both backends speak ON CONFLICT DO NOTHING, but diesel's
    // MultiBackend cannot express it: run it on the inner connection.
    let inserted = match conn {
        AnyConnection::Sqlite(c) => insert.execute(c)?,
        AnyConnection::Postgres(c) => insert.execute(c)?,
    };
    Ok(inserted == 1)
}

/// Takes a role away; `false` when the user did not have it.
pub fn revoke_role(conn: &mut AnyConnection, user_id: &str, role: &str) -> QueryResult<bool> {
    diesel::delete(
        user_roles::table
            .filter(user_roles::user_id.eq(user_id))
            .filter(user_roles::role_name.eq(role)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// Every scope the user's roles grant.
pub fn scopes_of(conn: &mut AnyConnection, user_id: &str) -> QueryResult<BTreeSet<String>> {
    let scopes: Vec<String> = user_roles::table
        .inner_join(role_scopes::table.on(role_scopes::role_name.eq(user_roles::role_name)))
        .filter(user_roles::user_id.eq(user_id))
        .select(role_scopes::scope)
        .load(conn)?;
    Ok(scopes.into_iter().collect())
}
