//! The `csrf_keys` table: random keys that every instance sharing the
//! database must agree on, made by whichever instance needs one first.

use diesel::prelude::*;

use super::schema::csrf_keys as k;
use super::AnyConnection;

/// The key called `name`, storing `candidate` as that key if there is
/// none yet. Instances racing here all get the same key: the insert
/// leaves an existing row alone, and the key is read back afterwards.
pub fn get_or_create(
    conn: &mut AnyConnection,
    name: &str,
    candidate: &str,
    now: i64,
) -> QueryResult<String> {
    let insert = diesel::insert_into(k::table)
        .values((
            k::name.eq(name),
            k::secret.eq(candidate),
            k::created_at.eq(now),
        ))
        .on_conflict(k::name)
        .do_nothing();
    // Both backends speak ON CONFLICT DO NOTHING, but diesel's
    // MultiBackend cannot express it: run it on the inner connection.
    match conn {
        AnyConnection::Sqlite(c) => insert.execute(c)?,
        AnyConnection::Postgres(c) => insert.execute(c)?,
    };
    k::table.find(name).select(k::secret).get_result(conn)
}
