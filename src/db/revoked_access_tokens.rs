//! The `revoked_access_tokens` table: `jti`s revoked before they expire.

use diesel::prelude::*;

use super::schema::revoked_access_tokens as rat;
use super::AnyConnection;

/// Remembers a revoked `jti` until `expires_at`. Idempotent in one
/// statement: a check-then-insert lets two concurrent revocations of one
/// token both pass the check, and the second insert then fails on the
/// primary key (PostgreSQL's transactions do not serialize them).
pub fn insert(conn: &mut AnyConnection, jti: &str, expires_at: i64) -> QueryResult<()> {
    let insert = diesel::insert_into(rat::table)
        .values((rat::jti.eq(jti), rat::expires_at.eq(expires_at)))
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

/// Forgets entries whose tokens have expired anyway.
pub fn purge_expired(conn: &mut AnyConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(rat::table.filter(rat::expires_at.le(now))).execute(conn)
}
