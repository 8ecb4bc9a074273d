//! Successors kept for retried refreshes
//! (docs/interface.md "Token lifecycle", Retried refreshes): while the
//! grace is on, a rotation stores the successor's own token sealed beside
//! it, in `refresh_tokens.retry_sealed`
//! ([`super::refresh_tokens::rotate_sealed`]), and its claim wipes it. Here: finding it from its parent, and the
//! janitor's wipe once the grace has passed. Both go through the partial
//! index of the rows that hold one, which is empty while the grace is off.

use diesel::prelude::*;

use super::schema::refresh_tokens as rt;
use super::AnyConnection;

/// The successor of the token with hash `parent`, as `(token_hash,
/// sealed)`, if it still holds its sealed copy (unused, and not wiped).
pub fn sealed_successor(
    conn: &mut AnyConnection,
    parent: &str,
) -> QueryResult<Option<(String, String)>> {
    rt::table
        .filter(rt::parent_hash.eq(parent))
        .filter(rt::retry_sealed.is_not_null())
        .select((rt::token_hash, rt::retry_sealed.assume_not_null()))
        .get_result(conn)
        .optional()
}

/// Wipes the sealed copies of successors issued at or before `cutoff`
/// (their grace is over); returns how many.
///
/// On PostgreSQL it skips rows another transaction has locked, as the
/// janitor's purge does ([`super::refresh_tokens::purge_expired`]): it
/// never waits, so it never takes part in a deadlock with the rotations
/// and revocations that lock tokens in their own order; a claim wipes its
/// row itself, and the next run gets the rest.
pub fn wipe(conn: &mut AnyConnection, cutoff: i64) -> QueryResult<usize> {
    if let AnyConnection::Postgres(pg) = conn {
        return diesel::sql_query(
            "UPDATE refresh_tokens SET retry_sealed = NULL WHERE token_hash IN \
             (SELECT token_hash FROM refresh_tokens WHERE retry_sealed IS NOT NULL \
             AND issued_at <= $1 FOR UPDATE SKIP LOCKED)",
        )
        .bind::<diesel::sql_types::BigInt, _>(cutoff)
        .execute(pg);
    }
    diesel::update(
        rt::table
            .filter(rt::retry_sealed.is_not_null())
            .filter(rt::issued_at.le(cutoff)),
    )
    .set(rt::retry_sealed.eq(None::<String>))
    .execute(conn)
}

/// The sealed copy the token with hash `hash` holds, if any.
pub fn sealed_of(conn: &mut AnyConnection, hash: &str) -> QueryResult<Option<String>> {
    Ok(rt::table
        .find(hash)
        .select(rt::retry_sealed)
        .get_result::<Option<String>>(conn)
        .optional()?
        .flatten())
}
