//! Users' profiles: the `email`, `email_verified` and `name` columns of
//! `users`, read apart from [`super::users::User`] (which every token
//! check loads) because only OpenID Connect's claims need them.

use diesel::prelude::*;

use super::schema::users;
use super::AnyConnection;

/// What a user's profile says (OpenID Connect Core 1.0 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct Profile {
    /// Their email address, if set.
    pub email: Option<String>,
    /// Whether that address is known to be theirs.
    pub email_verified: bool,
    /// Their full name, if set.
    pub name: Option<String>,
}

/// The profile of the user with this id.
pub fn of(conn: &mut AnyConnection, user_id: &str) -> QueryResult<Option<Profile>> {
    users::table
        .find(user_id)
        .select(Profile::as_select())
        .get_result(conn)
        .optional()
}

/// The profiles of the users with these ids, with their ids, in one
/// statement (`= ANY($1)` on PostgreSQL, `IN (…)` on SQLite); ids of no
/// user are left out.
pub fn of_many(conn: &mut AnyConnection, ids: &[&str]) -> QueryResult<Vec<(String, Profile)>> {
    users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, Profile::as_select()))
        .load(conn)
}

/// Every user's profile, by id.
pub fn all(conn: &mut AnyConnection) -> QueryResult<Vec<(String, Profile)>> {
    users::table
        .select((users::id, Profile::as_select()))
        .load(conn)
}

/// Stores `profile` as the user's; false if there is no such user.
pub fn set(
    conn: &mut AnyConnection,
    user_id: &str,
    profile: &Profile,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(users::table.find(user_id))
        .set((
            users::email.eq(&profile.email),
            users::email_verified.eq(profile.email_verified),
            users::name.eq(&profile.name),
            users::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
}
