//! The embedded migrations, and startup work that must run in one
//! process at a time.

use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::connection::{in_write_tx, one_line};
use super::{users, AnyConnection, DbError};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Applies every pending embedded migration; returns how many ran.
///
/// Safe to run from several processes at once on one database (instances
/// starting together, an admin command beside a starting server): the
/// work runs under [`exclusive`], so the first applies each migration and
/// the others then find nothing pending. Without it, two processes both
/// create `__diesel_schema_migrations` or both apply the same migration,
/// and one of them fails.
pub fn migrate(conn: &mut AnyConnection) -> Result<usize, DbError> {
    exclusive(conn, |conn| {
        let done = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|done| done.len())
            .map_err(|e| DbError::Migration(e.to_string()))?;
        // SQL cannot compute the folded names that a migration added.
        users::fill_folded(conn)?;
        if let AnyConnection::Postgres(_) = conn {
            leave_room_for_claims(conn)?;
        }
        Ok(done)
    })
}

/// PostgreSQL: fills `refresh_tokens` pages only to 70 %. A claim or a
/// revocation changes no indexed column, so with room left on the row's
/// page PostgreSQL updates it in place (a HOT update) instead of writing
/// a new entry into each of the table's five indexes. At the default 100 %
/// a token's page is full long before the token is rotated. Not a
/// migration: a storage parameter is PostgreSQL's own syntax, and the
/// migrations are portable SQL. It applies to pages filled from now on.
///
/// Only while the table has no fill factor at all, so one an operator set
/// stays. Never fatal: a role that does not own the table, or a lock that
/// a VACUUM holds past the timeout, leaves the default and a warning.
fn leave_room_for_claims(conn: &mut AnyConnection) -> Result<(), DbError> {
    #[derive(diesel::QueryableByName)]
    struct Set {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        set: bool,
    }
    let Set { set } = diesel::sql_query(
        "SELECT COALESCE(EXISTS (SELECT 1 FROM unnest(reloptions) o \
           WHERE o LIKE 'fillfactor=%'), false) AS set \
         FROM pg_class WHERE oid = 'refresh_tokens'::regclass",
    )
    .get_result(conn)?;
    if set {
        return Ok(());
    }
    let altered = diesel::sql_query("SET lock_timeout = '2s'")
        .execute(conn)
        .and_then(|_| {
            diesel::sql_query("ALTER TABLE refresh_tokens SET (fillfactor = 70)").execute(conn)
        });
    diesel::sql_query("RESET lock_timeout").execute(conn)?;
    if let Err(e) = altered {
        log::warn!(
            "could not set fillfactor = 70 on refresh_tokens ({}); rotations stay correct \
             but cost PostgreSQL more. Run `ALTER TABLE refresh_tokens SET (fillfactor = 70)` \
             as the table's owner",
            one_line(&e.to_string())
        );
    }
    Ok(())
}

/// The PostgreSQL advisory lock key that serializes [`exclusive`] work
/// across processes: "authd" in ASCII, then 1. Any fixed value works as
/// long as every authd uses the same one and nothing else on the database
/// takes it.
const STARTUP_LOCK_KEY: i64 = 0x6175_7468_6400_0001;

/// Runs `f` while no other process runs `exclusive` work on this database,
/// for startup steps that check and then create (migrations, the first
/// signing key).
///
/// PostgreSQL: a session advisory lock ([`STARTUP_LOCK_KEY`]) held around
/// `f` and released afterwards, whatever `f` returned; `f` may nest
/// `exclusive` (the lock counts). If the session ends while holding it
/// (a crash), the server releases it. SQLite: `f` runs in one `BEGIN
/// IMMEDIATE` transaction (SQLite's write lock), committed when `f`
/// succeeds and rolled back when it fails; it must not begin another
/// transaction of its own with [`write_tx`] or nest `exclusive`.
pub fn exclusive<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<DbError>,
{
    match conn {
        AnyConnection::Sqlite(_) => in_write_tx(conn, f, |e| E::from(DbError::Query(e))),
        AnyConnection::Postgres(_) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({STARTUP_LOCK_KEY})"))
                .execute(conn)
                .map_err(|e| E::from(DbError::Query(e)))?;
            let result = f(conn);
            let unlocked =
                diesel::sql_query(format!("SELECT pg_advisory_unlock({STARTUP_LOCK_KEY})"))
                    .execute(conn);
            match (result, unlocked) {
                (Ok(value), Ok(_)) => Ok(value),
                // Unlocking fails only on a broken session, and PostgreSQL
                // releases a session's locks when it ends.
                (Ok(_), Err(e)) => Err(E::from(DbError::Query(e))),
                (Err(e), _) => Err(e),
            }
        }
    }
}
