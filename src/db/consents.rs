//! The `consents` table: the scopes each user has allowed each client
//! (docs/interface.md "OpenID Connect", "Consent is remembered").

use diesel::prelude::*;

use super::schema::{clients, consents as c};
use super::AnyConnection;
use crate::scope::{self, ScopeSet};

/// A remembered consent, with the client's name for the account page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// The client.
    pub client_id: String,
    /// Its display name.
    pub client_name: String,
    /// The scopes allowed, sorted.
    pub scopes: ScopeSet,
    /// When they were last widened (Unix seconds).
    pub granted_at: i64,
}

/// The scopes `user_id` has allowed `client_id`; empty when none.
pub fn scopes(conn: &mut AnyConnection, user_id: &str, client_id: &str) -> QueryResult<ScopeSet> {
    let stored: Option<String> = c::table
        .find((user_id, client_id))
        .select(c::scopes)
        .get_result(conn)
        .optional()?;
    Ok(stored.map(|s| split(&s)).unwrap_or_default())
}

/// Remembers that `user_id` allowed `client_id` the scopes `allowed`,
/// widening what was allowed before (a later, wider allow must not make
/// the page show again for the earlier scopes). Run in a write
/// transaction: the read and the upsert are one step there.
pub fn allow(
    conn: &mut AnyConnection,
    user_id: &str,
    client_id: &str,
    allowed: &ScopeSet,
    now: i64,
) -> QueryResult<()> {
    let mut all = scopes(conn, user_id, client_id)?;
    all.extend(allowed.iter().cloned());
    let joined = scope::join(&all);
    let upsert = diesel::insert_into(c::table)
        .values((
            c::user_id.eq(user_id),
            c::client_id.eq(client_id),
            c::scopes.eq(&joined),
            c::granted_at.eq(now),
        ))
        .on_conflict((c::user_id, c::client_id))
        .do_update()
        .set((c::scopes.eq(&joined), c::granted_at.eq(now)));
    // diesel's MultiBackend cannot express ON CONFLICT: run it on the
    // inner connection (as `users::grant_role` does).
    match conn {
        AnyConnection::Sqlite(inner) => upsert.execute(inner)?,
        AnyConnection::Postgres(inner) => upsert.execute(inner)?,
    };
    Ok(())
}

/// Forgets what `user_id` allowed `client_id`; `false` when nothing was.
pub fn forget(conn: &mut AnyConnection, user_id: &str, client_id: &str) -> QueryResult<bool> {
    diesel::delete(c::table.find((user_id, client_id)))
        .execute(conn)
        .map(|n| n > 0)
}

/// Every client `user_id` has allowed, by client name.
pub fn of_user(conn: &mut AnyConnection, user_id: &str) -> QueryResult<Vec<Allowed>> {
    let rows: Vec<(String, String, String, i64)> = c::table
        .inner_join(clients::table)
        .filter(c::user_id.eq(user_id))
        .order((clients::name.asc(), c::client_id.asc()))
        .select((c::client_id, clients::name, c::scopes, c::granted_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(client_id, client_name, scopes, granted_at)| Allowed {
            client_id,
            client_name,
            scopes: split(&scopes),
            granted_at,
        })
        .collect())
}

fn split(stored: &str) -> ScopeSet {
    stored
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
