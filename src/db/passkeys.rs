//! The `passkeys` table: a user's registered WebAuthn credentials
//! (`crate::mfa::passkey`), each with the name the user gave it.

use diesel::prelude::*;

use super::schema::passkeys as t;
use super::AnyConnection;

/// A registered passkey.
#[derive(Debug, Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = t)]
pub struct PasskeyRow {
    /// The credential id, base64url without padding.
    pub credential_id: String,
    /// Whose it is.
    pub user_id: String,
    /// What the user calls it.
    pub name: String,
    /// webauthn-rs's record (public key, counter, flags) as JSON.
    pub passkey: String,
    /// When it was registered (Unix seconds).
    pub created_at: i64,
    /// When it last signed someone in.
    pub last_used_at: Option<i64>,
    /// The SHA-256 of the challenge it last answered.
    pub last_challenge: Option<String>,
}

/// The user's passkeys, oldest first.
pub fn of_user(conn: &mut AnyConnection, user_id: &str) -> QueryResult<Vec<PasskeyRow>> {
    t::table
        .filter(t::user_id.eq(user_id))
        .order((t::created_at.asc(), t::credential_id.asc()))
        .select(PasskeyRow::as_select())
        .load(conn)
}

/// Whether the user has any passkey.
pub fn any_of_user(conn: &mut AnyConnection, user_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(t::table.filter(t::user_id.eq(user_id)))).get_result(conn)
}

/// The passkey with this credential id.
pub fn find(conn: &mut AnyConnection, credential_id: &str) -> QueryResult<Option<PasskeyRow>> {
    t::table
        .find(credential_id)
        .select(PasskeyRow::as_select())
        .get_result(conn)
        .optional()
}

/// Stores a new passkey; a unique violation if the credential is
/// registered already (to anyone).
pub fn insert(conn: &mut AnyConnection, row: &PasskeyRow) -> QueryResult<()> {
    diesel::insert_into(t::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Renames the user's passkey; whether it was theirs.
pub fn rename(
    conn: &mut AnyConnection,
    user_id: &str,
    credential_id: &str,
    name: &str,
) -> QueryResult<bool> {
    diesel::update(t::table.find(credential_id).filter(t::user_id.eq(user_id)))
        .set(t::name.eq(name))
        .execute(conn)
        .map(|n| n == 1)
}

/// Removes the user's passkey; whether it was theirs.
pub fn delete(conn: &mut AnyConnection, user_id: &str, credential_id: &str) -> QueryResult<bool> {
    diesel::delete(t::table.find(credential_id).filter(t::user_id.eq(user_id)))
        .execute(conn)
        .map(|n| n == 1)
}

/// Removes every passkey of the user; how many there were.
pub fn delete_all(conn: &mut AnyConnection, user_id: &str) -> QueryResult<usize> {
    diesel::delete(t::table.filter(t::user_id.eq(user_id))).execute(conn)
}

/// One use of a passkey, as the ceremony that checked it saw it.
pub struct Use<'a> {
    /// The credential.
    pub credential_id: &'a str,
    /// Its record as read before the check (a change since refuses).
    pub read: &'a str,
    /// Its record with the counter the check saw.
    pub updated: &'a str,
    /// The SHA-256 of the ceremony's challenge.
    pub challenge: &'a str,
    /// When the ceremony started.
    pub started_at: i64,
    /// Now.
    pub now: i64,
}

/// Takes a use: only if the record is still the one checked, no use came
/// after this ceremony started, and this challenge was not the last
/// answered. The affected-row count decides, so one authenticator answer
/// is taken once, on any instance (a replay loses here).
pub fn take_use(conn: &mut AnyConnection, u: &Use<'_>) -> QueryResult<bool> {
    diesel::update(
        t::table
            .find(u.credential_id)
            .filter(t::passkey.eq(u.read))
            .filter(
                t::last_used_at
                    .is_null()
                    .or(t::last_used_at.le(u.started_at)),
            )
            .filter(
                t::last_challenge
                    .is_null()
                    .or(t::last_challenge.ne(u.challenge)),
            ),
    )
    .set((
        t::passkey.eq(u.updated),
        t::last_used_at.eq(u.now),
        t::last_challenge.eq(u.challenge),
    ))
    .execute(conn)
    .map(|n| n == 1)
}
