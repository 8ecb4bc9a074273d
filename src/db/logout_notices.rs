//! The `logout_notices` table: the back-channel outbox (Back-Channel
//! Logout 1.0). A row is a logout token still to deliver to one client:
//! written in the transaction that ends the session, so that nothing is
//! lost to a crash or a restart, and removed once delivered or given up
//! ([`crate::backchannel`]).
//!
//! Several instances may share the database: one sends a row only after
//! claiming it, a conditional UPDATE that moves `lease_until` past now
//! while it still lies in the past. Of two instances that read the same
//! row as due, the UPDATE lets one win (on PostgreSQL the second waits for
//! the first's row lock, then finds the lease taken).

use diesel::prelude::*;

use super::schema::logout_notices as ln;
use super::AnyConnection;

/// A logout token to deliver.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = ln)]
pub struct Notice {
    /// Its own id.
    pub id: String,
    /// The client to tell (its `backchannel_logout_uri` is read when the
    /// notice is sent).
    pub client_id: String,
    /// The session's user (the token's `sub`).
    pub user_id: String,
    /// The session (the token's `sid`).
    pub sid: String,
    /// When the session ended (Unix seconds).
    pub created_at: i64,
    /// Deliveries tried so far.
    pub attempts: i64,
    /// Not to be sent before (Unix seconds).
    pub next_attempt_at: i64,
    /// Claimed by an instance until then (Unix seconds); in the past when
    /// nobody holds it.
    pub lease_until: i64,
    /// Why the last attempt failed, for whoever reads the table.
    pub last_error: Option<String>,
}

/// Queues notices.
pub fn queue(conn: &mut AnyConnection, notices: &[Notice]) -> QueryResult<usize> {
    // One statement each: diesel's MultiBackend has no batch insert, and
    // a session signs in to a handful of apps.
    let mut queued = 0;
    for notice in notices {
        queued += diesel::insert_into(ln::table)
            .values(notice)
            .execute(conn)?;
    }
    Ok(queued)
}

/// At most `limit` notices due at `now` and not claimed, the longest
/// waiting first.
pub fn due(conn: &mut AnyConnection, now: i64, limit: i64) -> QueryResult<Vec<Notice>> {
    ln::table
        .filter(ln::next_attempt_at.le(now))
        .filter(ln::lease_until.le(now))
        .order(ln::next_attempt_at.asc())
        .limit(limit)
        .select(Notice::as_select())
        .load(conn)
}

/// Claims the notice until `until` if it is still due and unclaimed at
/// `now`; `true` when this caller got it.
pub fn claim(conn: &mut AnyConnection, id: &str, now: i64, until: i64) -> QueryResult<bool> {
    diesel::update(
        ln::table
            .find(id)
            .filter(ln::next_attempt_at.le(now))
            .filter(ln::lease_until.le(now)),
    )
    .set(ln::lease_until.eq(until))
    .execute(conn)
    .map(|n| n == 1)
}

/// Removes a notice: delivered, given up, or without a client to tell.
pub fn remove(conn: &mut AnyConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(ln::table.find(id)).execute(conn)
}

/// Records a failed attempt (the `attempts`-th) and frees the notice for
/// another try at `next_attempt_at`.
pub fn retry_at(
    conn: &mut AnyConnection,
    id: &str,
    attempts: i64,
    next_attempt_at: i64,
    error: &str,
) -> QueryResult<usize> {
    diesel::update(ln::table.find(id))
        .set((
            ln::attempts.eq(attempts),
            ln::next_attempt_at.eq(next_attempt_at),
            ln::lease_until.eq(0),
            ln::last_error.eq(Some(error)),
        ))
        .execute(conn)
}

/// Every notice still queued, oldest first (for tests and inspection).
pub fn all(conn: &mut AnyConnection) -> QueryResult<Vec<Notice>> {
    ln::table
        .order((ln::created_at.asc(), ln::id.asc()))
        .select(Notice::as_select())
        .load(conn)
}
