//! The low-level connection code: one connection type over SQLite and
//! PostgreSQL, opening and checking a connection, transactions meant to
//! write, and what a driver's errors mean.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};

use super::{Backend, DatabaseUrl, DbError};

pub use self::multi::AnyConnection;

// The derive generates public items we cannot document.
#[allow(missing_docs)]
mod multi {
    use diesel::{PgConnection, SqliteConnection};

    /// A connection to either supported backend.
    ///
    /// Never built with `Connection::establish`, which tries each backend in
    /// turn and silently creates a SQLite file for anything it cannot parse:
    /// [`super::DatabaseUrl`] picks the variant from the URL scheme instead.
    #[derive(diesel::MultiConnection)]
    pub enum AnyConnection {
        /// PostgreSQL (production).
        Postgres(PgConnection),
        /// SQLite (embedded default).
        Sqlite(SqliteConnection),
    }
}

/// Runs `$body` with `$c` bound to the backend's own connection, for the
/// statements of a hot path: through [`AnyConnection`], diesel keys its
/// statement cache by the SQL text, which it builds from the query at
/// every call (for a wide select, a sizeable share of a request's CPU);
/// on the backend's connection, a query whose type identifies it is found
/// in the cache without building anything. The caller's transaction lives
/// on that connection too.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Postgres($c) => $body,
            $crate::db::AnyConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Opens one connection of the backend the URL names.
pub fn connect(url: &DatabaseUrl) -> Result<AnyConnection, DbError> {
    let failed = |e: diesel::ConnectionError| DbError::Connect {
        url: url.redacted(),
        reason: one_line(&e.to_string()),
    };
    match url.backend() {
        Backend::Postgres => PgConnection::establish(url.as_str())
            .map(AnyConnection::Postgres)
            .map_err(failed),
        Backend::Sqlite => {
            configure_sqlite();
            create_sqlite_file(url)?;
            let mut conn = SqliteConnection::establish(url.as_str()).map_err(failed)?;
            // busy_timeout turns lock contention into waiting instead of
            // SQLITE_BUSY errors; it comes first because switching a new
            // file to WAL takes a lock too, which instances starting at
            // once contend for. WAL lets readers proceed during a write;
            // FULL makes a commit durable before we answer.
            let pragmas = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";
            // Switching to WAL can answer SQLITE_BUSY without waiting in
            // the busy handler (another process holds a lock while it
            // does the same): retry for as long as the busy timeout.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                match conn.batch_execute(pragmas) {
                    Ok(()) => return Ok(AnyConnection::Sqlite(conn)),
                    Err(e) if is_locked(&e) && std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => {
                        return Err(DbError::Connect {
                            url: url.redacted(),
                            reason: e.to_string(),
                        })
                    }
                }
            }
        }
    }
}

/// Sets SQLite's process-wide options, once, before its first connection
/// opens. Both remove locks that every SQLite call took and that the
/// profile of the refresh grant showed contended between the pool's
/// threads and the writer:
/// - no memory statistics: with them, every allocation SQLite makes takes
///   one global mutex (and asks malloc for the block's size);
/// - multi-thread mode instead of serialized: no mutex per connection, as
///   diesel already never lets two threads use one connection at once
///   (`SqliteConnection` is not `Sync`; the pool lends each to one
///   thread).
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config must run before SQLite initializes and
        // not beside other SQLite calls; every connection of ours opens
        // through `connect`, which runs this first, and `Once` makes the
        // others wait. If something else initialized SQLite earlier, the
        // calls answer SQLITE_MISUSE and change nothing.
        let (memstatus, threading) = unsafe {
            (
                libsqlite3_sys::sqlite3_config(
                    libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS,
                    0 as std::os::raw::c_int,
                ),
                libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MULTITHREAD),
            )
        };
        if memstatus != libsqlite3_sys::SQLITE_OK || threading != libsqlite3_sys::SQLITE_OK {
            log::debug!("SQLite was initialized already: its defaults stay");
        }
    });
}

/// True for SQLite's "database is locked" (SQLITE_BUSY).
fn is_locked(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(_, info) if info.message().contains("locked"))
}

/// Creates a missing SQLite database file with mode 0600 before SQLite
/// opens it: SQLite would create it with the umask's mode (usually 0644),
/// and it gives the `-wal` and `-shm` files the main file's mode, so all
/// three stay private. An existing file is left as it is (see
/// [`warn_if_sqlite_open_to_others`]).
fn create_sqlite_file(url: &DatabaseUrl) -> Result<(), DbError> {
    let path = url.as_str();
    if path == ":memory:" {
        return Ok(());
    }
    crate::files::ensure_private(std::path::Path::new(path))
        .map(drop)
        .map_err(|e| DbError::Connect {
            url: url.redacted(),
            reason: format!("cannot create the database file: {e}"),
        })
}

/// Says at start when group or others may read an existing SQLite
/// database (e.g. one created before authd made it private): it holds
/// password hashes and sealed keys, and its `-wal`/`-shm` files copy its
/// mode.
pub(super) fn warn_if_sqlite_open_to_others(url: &DatabaseUrl) {
    if url.backend() != Backend::Sqlite || url.as_str() == ":memory:" {
        return;
    }
    let path = std::path::Path::new(url.as_str());
    if let Ok(Some(mode)) = crate::files::open_to_others(path) {
        log::warn!(
            "{}",
            crate::files::too_open("the SQLite database", path, mode)
        );
    }
}

/// Folds a driver's multi-line message into one line.
pub(super) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
/// A PostgreSQL connection lent out this recently is trusted without a
/// round trip; one idle longer is tested with a query, since a peer that
/// vanished without closing (a failover, a middlebox's idle timeout)
/// shows only when something is sent.
const TRUSTED_IDLE: Duration = Duration::from_secs(1);

/// Whether a connection idle for `idle` still stands; SQLite's always
/// do. First without a round trip: a server that ended the session (a
/// restart, `pg_terminate_backend`) has sent its last message and closed
/// the socket, and two non-blocking reads of what waits there find the end
/// of the stream (the first may only take that last message). A healthy
/// idle connection has nothing to read (authd never LISTENs). Then, only
/// for a connection idle longer than [`TRUSTED_IDLE`] or while the
/// database is believed unreachable, a `SELECT 1`: under load connections
/// are used again within milliseconds, and the query was one of the two
/// round trips of every client_credentials request.
pub(super) fn still_open(
    conn: &mut AnyConnection,
    idle: Duration,
    reachable: &AtomicBool,
) -> Result<(), DbError> {
    let AnyConnection::Postgres(pg) = conn else {
        return Ok(());
    };
    for _ in 0..2 {
        if let Some(Err(e)) = pg.notifications_iter().next() {
            return Err(DbError::Query(e));
        }
    }
    if idle > TRUSTED_IDLE || !reachable.load(Ordering::SeqCst) {
        diesel::sql_query("SELECT 1").execute(pg)?;
        // It answered, even if no new connection was needed to say so.
        mark_reachable(reachable, true);
    }
    Ok(())
}

/// Records whether the database answered, logging each change once:
/// when an outage begins and when it ends.
fn mark_reachable(flag: &AtomicBool, now: bool) {
    let before = flag.swap(now, Ordering::SeqCst);
    match (before, now) {
        (true, false) => log::warn!(
            "the database is unreachable: requests that need it get 503 until it answers again"
        ),
        (false, true) => log::info!("the database answers again"),
        _ => {}
    }
}

/// True when the connection is unusable between batches: diesel counts
/// a transaction left open as broken too.
pub(super) fn broken(conn: &mut AnyConnection) -> bool {
    <AnyConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
}

/// Runs `f` in a transaction meant to write. On SQLite it begins with
/// `BEGIN IMMEDIATE`, taking the write lock up front: a deferred transaction
/// that reads and then writes fails with SQLITE_BUSY (not waiting) when
/// another writer committed in between. PostgreSQL uses a plain `BEGIN`.
pub fn write_tx<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    in_write_tx(conn, f, E::from)
}

/// Whether `conn` is inside a transaction now.
pub fn in_transaction(conn: &mut AnyConnection) -> diesel::QueryResult<bool> {
    use diesel::connection::TransactionManager;
    Ok(
        <AnyConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn)
            .transaction_depth()?
            .is_some(),
    )
}

/// [`write_tx`] with the transaction's own errors turned into `E` by
/// `lift`, so that callers whose error type only wraps [`DbError`] can use
/// it too.
pub(super) fn in_write_tx<T, E, F>(
    conn: &mut AnyConnection,
    f: F,
    lift: impl Fn(diesel::result::Error) -> E,
) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    // Inside a transaction already (e.g. startup under `exclusive`), the
    // lock is held: nest with a savepoint.
    if in_transaction(conn).map_err(&lift)? {
        let mut inner = None;
        let outcome = conn.transaction(|conn| match f(conn) {
            Ok(value) => Ok(value),
            Err(e) => {
                inner = Some(e);
                Err(diesel::result::Error::RollbackTransaction)
            }
        });
        return match (outcome, inner) {
            (Ok(value), _) => Ok(value),
            (Err(_), Some(e)) => Err(e),
            (Err(e), None) => Err(lift(e)),
        };
    }
    match conn {
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE").map_err(&lift)?
        }
        AnyConnection::Postgres(c) => {
            <AnsiTransactionManager as TransactionManager<PgConnection>>::begin_transaction(c)
                .map_err(&lift)?
        }
    }
    // Commit and rollback go through AnyConnection, which hands them to the
    // inner connection's manager, the one that began the transaction.
    match f(conn) {
        Ok(value) => {
            <AnyConnection as Connection>::TransactionManager::commit_transaction(conn)
                .map_err(&lift)?;
            Ok(value)
        }
        Err(e) => {
            let _ = <AnyConnection as Connection>::TransactionManager::rollback_transaction(conn);
            Err(e)
        }
    }
}

/// True when PostgreSQL aborted the statement to break a deadlock
/// (SQLSTATE 40P01): nothing of it committed, and it may be run again.
/// diesel reports no SQLSTATE, and this one as an unknown kind, so the
/// server's message decides; a server whose `lc_messages` translates it
/// answers a 500 instead.
pub fn is_deadlock(e: &diesel::result::Error) -> bool {
    match e {
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::Unknown, info) => {
            info.message().starts_with("deadlock detected")
        }
        _ => false,
    }
}

/// The table a foreign key violation was about: a row that a write
/// referred to (its user, its client) was deleted meanwhile. PostgreSQL
/// names the referencing table's constraint; SQLite (whose single writer
/// leaves no such race) names nothing, which is `Some("")`.
pub fn foreign_key_violation(e: &diesel::result::Error) -> Option<String> {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            info,
        ) => Some(info.constraint_name().unwrap_or("").to_string()),
        _ => None,
    }
}

/// True when the error is a unique or primary-key violation.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
