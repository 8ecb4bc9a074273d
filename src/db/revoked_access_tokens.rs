//! The `revoked_access_tokens` table: `jti`s revoked before they expire.

use diesel::prelude::*;

use super::schema::revoked_access_tokens as rat;
use super::AnyConnection;

/// Remembers a revoked `jti` until `expires_at` (idempotent).
pub fn insert(conn: &mut AnyConnection, jti: &str, expires_at: i64) -> QueryResult<()> {
    if is_revoked(conn, jti)? {
        return Ok(());
    }
    diesel::insert_into(rat::table)
        .values((rat::jti.eq(jti), rat::expires_at.eq(expires_at)))
        .execute(conn)
        .map(drop)
}

/// Whether the `jti` was revoked.
pub fn is_revoked(conn: &mut AnyConnection, jti: &str) -> QueryResult<bool> {
    rat::table
        .find(jti)
        .count()
        .get_result::<i64>(conn)
        .map(|n| n > 0)
}

/// Forgets entries whose tokens have expired anyway.
pub fn purge_expired(conn: &mut AnyConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(rat::table.filter(rat::expires_at.le(now))).execute(conn)
}
