//! The `session_clients` table: which clients got an ID token in which
//! sign-in session (`sid`), so that the session's end can be told to each
//! of them (Back-Channel Logout 1.0 §2.1: the OP keeps track of the RPs
//! that a session signed in to).

use diesel::prelude::*;

use super::schema::session_clients as sc;
use super::AnyConnection;

/// One client that got an ID token in one session.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = sc)]
pub struct SessionClient {
    /// The session's public name (the ID token's `sid`).
    pub sid: String,
    /// The client.
    pub client_id: String,
    /// The session's user (the ID token's `sub`).
    pub user_id: String,
    /// When it was first recorded (Unix seconds).
    pub created_at: i64,
    /// When no session or refresh family of that sign-in can be alive any
    /// more, and the row may go (Unix seconds).
    pub expires_at: i64,
}

/// Records it, unless the client is already recorded for the session.
/// Read first: on PostgreSQL an insert that meets an uncommitted row of
/// the same key waits for that transaction, so every exchange of a busy
/// session would queue behind the one before (a load test with one
/// session made the code exchange a quarter as fast). Then one `INSERT …
/// ON CONFLICT DO NOTHING`: two first grants of one session at once
/// cannot collide on the key.
pub fn record(conn: &mut AnyConnection, row: &SessionClient) -> QueryResult<()> {
    if exists(conn, &row.sid, &row.client_id)? {
        return Ok(());
    }
    let insert = diesel::insert_into(sc::table)
        .values(row)
        .on_conflict((sc::sid, sc::client_id))
        .do_nothing();
    // diesel's MultiBackend cannot express ON CONFLICT: on the inner
    // connection (both backends speak it).
    match conn {
        AnyConnection::Sqlite(c) => insert.execute(c)?,
        AnyConnection::Postgres(c) => insert.execute(c)?,
    };
    Ok(())
}

/// Whether the client is recorded for the session.
pub fn exists(conn: &mut AnyConnection, sid: &str, client_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(sc::table.find((sid, client_id)))).get_result(conn)
}

/// Whose rows [`take`] takes.
#[derive(Clone, Copy)]
enum Whose<'a> {
    Session(&'a str),
    User(&'a str),
}

/// Removes and returns the rows of a session or of a user. On PostgreSQL
/// they are locked first (`FOR UPDATE`), so that of two transactions
/// ending the same session only one gets them: the other waits, then its
/// read (a new snapshot) finds none. SQLite's single writer runs one
/// transaction at a time anyway.
fn take(conn: &mut AnyConnection, whose: Whose<'_>) -> QueryResult<Vec<SessionClient>> {
    let (column, value) = match whose {
        Whose::Session(sid) => ("sid", sid),
        Whose::User(user_id) => ("user_id", user_id),
    };
    if let AnyConnection::Postgres(pg) = conn {
        diesel::sql_query(format!(
            "SELECT 1 FROM session_clients WHERE {column} = $1 FOR UPDATE"
        ))
        .bind::<diesel::sql_types::Text, _>(value)
        .execute(pg)?;
    }
    let query = sc::table.select(SessionClient::as_select());
    let rows = match whose {
        Whose::Session(sid) => query.filter(sc::sid.eq(sid)).load(conn)?,
        Whose::User(user_id) => query.filter(sc::user_id.eq(user_id)).load(conn)?,
    };
    // Row by row: a row recorded since the read is left for the next end.
    for row in &rows {
        diesel::delete(sc::table.find((&row.sid, &row.client_id))).execute(conn)?;
    }
    Ok(rows)
}

/// Removes and returns the clients recorded for the session `sid`.
pub fn take_session(conn: &mut AnyConnection, sid: &str) -> QueryResult<Vec<SessionClient>> {
    take(conn, Whose::Session(sid))
}

/// Removes and returns the clients recorded for every session of the
/// user.
pub fn take_user(conn: &mut AnyConnection, user_id: &str) -> QueryResult<Vec<SessionClient>> {
    take(conn, Whose::User(user_id))
}

/// Deletes the rows past their `expires_at`.
pub fn purge_expired(conn: &mut AnyConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(sc::table.filter(sc::expires_at.lt(now))).execute(conn)
}
