//! The `password_params` table: the one set of Argon2id parameters that
//! every new password hash of this database is made with (one row, id 1).
//!
//! `authd serve` stores its settings at start ([`adopt`]): the server's
//! settings are the source of truth, and raising them upgrades stored
//! hashes at each user's next login. The admin commands hash with what is
//! stored ([`seed`]), whatever their own settings say, so that a hash made
//! from an admin shell with other settings never stands out by its cost
//! (a timing oracle on which users exist, OWASP ASVS 4.0.3 V2.2.1 / CWE-208).

use diesel::prelude::*;

use super::schema::password_params as pp;
use super::{write_tx, AnyConnection};
use crate::password::Cost;

/// The only row.
const ID: i64 = 1;

/// The stored parameters, if any.
pub fn stored(conn: &mut AnyConnection) -> QueryResult<Option<Cost>> {
    let row: Option<(i64, i64, i64)> = pp::table
        .find(ID)
        .select((pp::memory_kib, pp::iterations, pp::parallelism))
        .get_result(conn)
        .optional()?;
    row.map(|(m, t, p)| {
        let int = |v: i64| {
            u32::try_from(v).map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))
        };
        Ok(Cost {
            m_kib: int(m)?,
            t: int(t)?,
            p: int(p)?,
        })
    })
    .transpose()
}

/// The stored parameters; `cost` is stored first when there are none
/// (an admin command run before the first server start).
pub fn seed(conn: &mut AnyConnection, cost: Cost, now: i64) -> QueryResult<Cost> {
    let insert = diesel::insert_into(pp::table)
        .values((
            pp::id.eq(ID),
            pp::memory_kib.eq(i64::from(cost.m_kib)),
            pp::iterations.eq(i64::from(cost.t)),
            pp::parallelism.eq(i64::from(cost.p)),
            pp::updated_at.eq(now),
        ))
        .on_conflict(pp::id)
        .do_nothing();
    // Both backends speak ON CONFLICT, but diesel's MultiBackend cannot
    // express it: run it on the inner connection.
    match conn {
        AnyConnection::Sqlite(c) => insert.execute(c)?,
        AnyConnection::Postgres(c) => insert.execute(c)?,
    };
    stored(conn)?.ok_or(diesel::result::Error::NotFound)
}

/// Stores `cost` as the parameters of every new hash; returns the ones it
/// replaced, when they differed.
pub fn adopt(conn: &mut AnyConnection, cost: Cost, now: i64) -> QueryResult<Option<Cost>> {
    write_tx(conn, |conn| {
        let before = match stored(conn)? {
            None => {
                seed(conn, cost, now)?;
                return Ok(None);
            }
            Some(before) if before == cost => return Ok(None),
            Some(before) => before,
        };
        diesel::update(pp::table.find(ID))
            .set((
                pp::memory_kib.eq(i64::from(cost.m_kib)),
                pp::iterations.eq(i64::from(cost.t)),
                pp::parallelism.eq(i64::from(cost.p)),
                pp::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(Some(before))
    })
}
