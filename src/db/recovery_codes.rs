//! The `recovery_codes` table: a user's unused recovery codes, by hash
//! only (`crate::mfa::recovery`).

use diesel::prelude::*;

use super::connection::on_backend;
use super::schema::recovery_codes as r;
use super::AnyConnection;

/// Replaces the user's codes with these hashes (a new set voids the old).
pub fn replace(
    conn: &mut AnyConnection,
    user_id: &str,
    hashes: &[String],
    now: i64,
) -> QueryResult<()> {
    delete_all(conn, user_id)?;
    let rows: Vec<_> = hashes
        .iter()
        .map(|h| {
            (
                r::code_hash.eq(h),
                r::user_id.eq(user_id),
                r::created_at.eq(now),
            )
        })
        .collect();
    // One statement for the set; diesel's MultiBackend has no batch
    // insert, so it runs on the inner connection.
    let insert = diesel::insert_into(r::table).values(rows);
    on_backend!(conn, |c| insert.execute(c)).map(drop)
}

/// Whether the user has an unused code with this hash.
pub fn exists(conn: &mut AnyConnection, user_id: &str, hash: &str) -> QueryResult<bool> {
    r::table
        .find(hash)
        .filter(r::user_id.eq(user_id))
        .count()
        .get_result::<i64>(conn)
        .map(|n| n > 0)
}

/// Uses the code: deletes it, if it is still there. The affected-row
/// count decides, so two instances cannot both accept it.
pub fn consume(conn: &mut AnyConnection, user_id: &str, hash: &str) -> QueryResult<bool> {
    diesel::delete(r::table.find(hash).filter(r::user_id.eq(user_id)))
        .execute(conn)
        .map(|n| n == 1)
}

/// How many unused codes the user has.
pub fn count(conn: &mut AnyConnection, user_id: &str) -> QueryResult<i64> {
    r::table
        .filter(r::user_id.eq(user_id))
        .count()
        .get_result(conn)
}

/// Deletes every code of the user; how many there were.
pub fn delete_all(conn: &mut AnyConnection, user_id: &str) -> QueryResult<usize> {
    diesel::delete(r::table.filter(r::user_id.eq(user_id))).execute(conn)
}
