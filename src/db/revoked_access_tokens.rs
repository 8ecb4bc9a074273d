//! The `revoked_access_tokens` table: `jti`s revoked before they expire.

use diesel::prelude::*;

use super::schema::revoked_access_tokens as rat;
use super::AnyConnection;

/// Remembers a revoked `jti` until `expires_at`, with its place in a
/// status list (`(list_id, idx)`) when it has one. Idempotent in one
/// statement: a check-then-insert lets two concurrent revocations of one
/// token both pass the check, and the second insert then fails on the
/// primary key (PostgreSQL's transactions do not serialize them).
pub fn insert(
    conn: &mut AnyConnection,
    jti: &str,
    expires_at: i64,
    status: Option<(i64, i64)>,
) -> QueryResult<()> {
    let insert = diesel::insert_into(rat::table)
        .values((
            rat::jti.eq(jti),
            rat::expires_at.eq(expires_at),
            rat::status_list.eq(status.map(|s| s.0)),
            rat::status_idx.eq(status.map(|s| s.1)),
        ))
        .on_conflict(rat::jti)
        .do_nothing();
    // Both backends speak `ON CONFLICT (jti) DO NOTHING`, but diesel's
    // MultiConnection backend has no upsert support: run it on the inner
    // connection (the caller's transaction lives there too).
    match conn {
        AnyConnection::Postgres(c) => insert.execute(c),
        AnyConnection::Sqlite(c) => insert.execute(c),
    }
    .map(drop)
}

/// The owner columns (`owner_id`, `owner_generation`) of the token's
/// client, if its `jti` is unrevoked and the client still registered, in
/// one round trip (introspection asks both of every token).
pub fn unrevoked_client_owner(
    conn: &mut AnyConnection,
    jti: &str,
    client_id: &str,
) -> QueryResult<Option<(Option<String>, Option<i64>)>> {
    use super::schema::clients;
    use diesel::dsl::{exists, not};
    clients::table
        .find(client_id)
        .filter(not(exists(rat::table.filter(rat::jti.eq(jti)))))
        .select((clients::owner_id, clients::owner_generation))
        .get_result(conn)
        .optional()
}

/// The indices in list `list_id` of revoked tokens still alive at `now`.
/// An index's earlier holders expired before its block was reserved again
/// (`super::status_blocks`), so their entries are not counted.
pub fn revoked_in_list(conn: &mut AnyConnection, list_id: i64, now: i64) -> QueryResult<Vec<i64>> {
    rat::table
        .filter(rat::status_list.eq(list_id))
        .filter(rat::expires_at.gt(now))
        .select(rat::status_idx.assume_not_null())
        .load(conn)
}

/// Forgets entries whose tokens have expired anyway.
pub fn purge_expired(conn: &mut AnyConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(rat::table.filter(rat::expires_at.le(now))).execute(conn)
}
