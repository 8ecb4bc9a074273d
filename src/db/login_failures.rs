//! The `login_failures` table: consecutive failed password checks per
//! username and client address, shared by every instance. Keys are made by
//! `crate::login::lock_key`: the record's own key, and the username's key
//! that all records of one username share.

use diesel::prelude::*;

use super::schema::login_failures as lf;
use super::AnyConnection;

/// The failure record of one username from one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = lf)]
pub struct Failures {
    /// Failures since the last success or lock.
    pub failures: i64,
    /// Locks in a row without a success.
    pub locks: i64,
    /// Until when the username is locked (Unix seconds; 0 = never was).
    pub locked_until: i64,
}

/// The record whose key is `key`, if any.
pub fn find(conn: &mut AnyConnection, key: &str) -> QueryResult<Option<Failures>> {
    lf::table
        .find(key)
        .select(Failures::as_select())
        .get_result(conn)
        .optional()
}

/// Counts one more failure and returns the record with it, in one upsert
/// (nothing can delete the row between creating and counting). Inside a
/// write transaction: the upsert takes the row lock (PostgreSQL) or the
/// database lock is already held (SQLite), so concurrent failures on
/// several instances all count.
pub fn add_failure(
    conn: &mut AnyConnection,
    key: &str,
    username_key: &str,
    now: i64,
) -> QueryResult<Failures> {
    let upsert = diesel::insert_into(lf::table)
        .values((
            lf::lock_key.eq(key),
            lf::username_hash.eq(username_key),
            lf::failures.eq(1i64),
            lf::locks.eq(0i64),
            lf::locked_until.eq(0i64),
            lf::updated_at.eq(now),
        ))
        .on_conflict(lf::lock_key)
        .do_update()
        .set((lf::failures.eq(lf::failures + 1), lf::updated_at.eq(now)));
    // Both backends speak ON CONFLICT … DO UPDATE, but diesel's
    // MultiBackend cannot express it: run it on the inner connection.
    match conn {
        AnyConnection::Sqlite(c) => upsert.execute(c)?,
        AnyConnection::Postgres(c) => upsert.execute(c)?,
    };
    lf::table
        .find(key)
        .select(Failures::as_select())
        .get_result(conn)
}

/// Stores the settled record.
pub fn store(conn: &mut AnyConnection, key: &str, f: &Failures) -> QueryResult<()> {
    diesel::update(lf::table.find(key))
        .set((
            lf::failures.eq(f.failures),
            lf::locks.eq(f.locks),
            lf::locked_until.eq(f.locked_until),
        ))
        .execute(conn)
        .map(drop)
}

/// Forgets `key`'s failures (a successful login from its address).
pub fn clear(conn: &mut AnyConnection, key: &str) -> QueryResult<usize> {
    diesel::delete(lf::table.find(key)).execute(conn)
}

/// Forgets every record of the username whose key is `username_key`,
/// from every address (an administrator's unlock or password reset);
/// returns how many there were.
pub fn clear_username(conn: &mut AnyConnection, username_key: &str) -> QueryResult<usize> {
    diesel::delete(lf::table.filter(lf::username_hash.eq(username_key))).execute(conn)
}

/// Deletes records untouched since `before` whose lock is over.
pub fn purge(conn: &mut AnyConnection, before: i64, now: i64) -> QueryResult<usize> {
    diesel::delete(
        lf::table
            .filter(lf::updated_at.lt(before))
            .filter(lf::locked_until.le(now)),
    )
    .execute(conn)
}
