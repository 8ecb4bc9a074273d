//! The `sessions` table: browser sessions of the login form, found by the
//! SHA-256 of their cookie value (the value itself is never stored).

use diesel::prelude::*;

use super::schema::{sessions as s, users};
use super::AnyConnection;

/// A session row. No `Debug`: it carries the session's CSRF token.
#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = s)]
pub struct SessionRow {
    /// SHA-256 of the cookie value.
    pub id_hash: String,
    /// Whose session it is.
    pub user_id: String,
    /// The user's credential generation at login.
    pub credential_generation: i64,
    /// What the session's own forms must send back as `csrf_token`.
    pub csrf_secret: String,
    /// The login (Unix seconds).
    pub created_at: i64,
    /// The last request that used it (Unix seconds), kept up to date
    /// coarsely (see [`touch`]).
    pub last_seen_at: i64,
    /// What the login used (`amr` values, space-separated); `None` in
    /// sessions older than second factors: a password.
    pub amr: Option<String>,
    /// Its public name; `None` in rows older than the column, whose name
    /// is [`sid_of`] their `id_hash` (see [`SessionRow::sid`]).
    pub sid: Option<String>,
}

impl SessionRow {
    /// The session's public name (OpenID Connect's `sid`).
    pub fn sid(&self) -> String {
        self.sid.clone().unwrap_or_else(|| sid_of(&self.id_hash))
    }
}

/// What a session's validity depends on in its user's row, as stored now.
#[derive(Queryable, Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Login name.
    pub username: String,
    /// A disabled user has no live session.
    pub disabled: bool,
    /// Must still equal the session's generation.
    pub credential_generation: i64,
}

/// The columns of [`Owner`], in its order.
const OWNER: (
    users::username,
    users::disabled,
    users::credential_generation,
) = (
    users::username,
    users::disabled,
    users::credential_generation,
);

/// The public name of the browser session whose id hashes to `id_hash`,
/// OpenID Connect's `sid` (Front- and Back-Channel Logout 1.0 §2): a hash
/// of the id hash, so that it names the session to apps without being the
/// key it is stored by.
pub fn sid_of(id_hash: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("sid:{id_hash}"));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// Inserts a session.
pub fn insert(conn: &mut AnyConnection, row: &SessionRow) -> QueryResult<()> {
    diesel::insert_into(s::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The session with this hash and its user, in one query; `None` when
/// either is gone.
pub fn find(conn: &mut AnyConnection, id_hash: &str) -> QueryResult<Option<(SessionRow, Owner)>> {
    s::table
        .inner_join(users::table)
        .filter(s::id_hash.eq(id_hash))
        .select((SessionRow::as_select(), OWNER))
        .get_result(conn)
        .optional()
}

/// Records a use at `now`, only if the stored time is older than
/// `before`: a page view then costs a write only once in a while, not
/// every time.
pub fn touch(conn: &mut AnyConnection, id_hash: &str, now: i64, before: i64) -> QueryResult<usize> {
    diesel::update(s::table.find(id_hash).filter(s::last_seen_at.lt(before)))
        .set(s::last_seen_at.eq(now))
        .execute(conn)
}

/// Deletes a session (logout, a replaced or dead session).
pub fn delete(conn: &mut AnyConnection, id_hash: &str) -> QueryResult<usize> {
    diesel::delete(s::table.find(id_hash)).execute(conn)
}

/// Every session of `user_id` with its user, most recently used first,
/// dead ones included (the caller decides what is live).
pub fn of_user(conn: &mut AnyConnection, user_id: &str) -> QueryResult<Vec<(SessionRow, Owner)>> {
    s::table
        .inner_join(users::table)
        .filter(s::user_id.eq(user_id))
        .order((s::last_seen_at.desc(), s::created_at.desc()))
        .select((SessionRow::as_select(), OWNER))
        .load(conn)
}

/// Deletes every session of `user_id` (sign out everywhere).
pub fn delete_of_user(conn: &mut AnyConnection, user_id: &str) -> QueryResult<usize> {
    diesel::delete(s::table.filter(s::user_id.eq(user_id))).execute(conn)
}

/// Deletes sessions unused since `before`.
pub fn purge_idle(conn: &mut AnyConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(s::table.filter(s::last_seen_at.lt(before))).execute(conn)
}

/// The session with this hash, without its user.
pub fn row(conn: &mut AnyConnection, id_hash: &str) -> QueryResult<Option<SessionRow>> {
    s::table
        .find(id_hash)
        .select(SessionRow::as_select())
        .get_result(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sid_names_a_session_without_being_its_key() {
        let sid = sid_of("some-id-hash");
        assert_eq!(sid, sid_of("some-id-hash"));
        assert_ne!(sid, sid_of("other-id-hash"));
        assert_eq!(sid.len(), 22, "128 bits, base64url");
        assert!(!sid.contains("some-id-hash"));
    }
}
