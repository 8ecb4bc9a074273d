//! Storage: one connection type over SQLite and PostgreSQL, the pool, the
//! embedded migrations, and one module of queries per table.
//!
//! Query functions take `&mut AnyConnection` so that callers compose them
//! inside one transaction. They are blocking: async code reaches them only
//! through a [`Db`] entry point, which moves the work off the actix
//! workers. Where each kind of work runs, and why:
//!
//! | work | entry point | SQLite | PostgreSQL | why |
//! | --- | --- | --- | --- | --- |
//! | a write (a grant's issuing, a revocation, an admin change) | [`Db::write`] | the single writer thread: queued writes share one transaction, a savepoint each | the pool, a transaction each | SQLite allows one writer: one thread and group commit remove lock collisions and turn N fsyncs into one; PostgreSQL groups commits itself |
//! | a refresh rotation | [`Db::rotate`] | the single writer | the rotation thread: everything queued in one statement; a token locked elsewhere is rotated alone on the pool | one round trip and one commit for many rotations |
//! | a client lookup | [`Db::client`] | a read thread of its own | a read thread: one `= ANY($1)` statement for all queued | the hot path of `client_credentials` and introspection |
//! | an access token's standing | [`Db::access_standing`] | a read thread of its own | a read thread: one statement for all queued | introspection's hot path |
//! | other reads on a hot path (the refresh grant's) | [`Db::read`] | the SQLite read thread | the pool | a SQLite read of microseconds is cheaper than the pool's hop |
//! | anything else | [`Db::run`] | the pool | the pool | general work, bounded by `--db-timeout` |
//!
//! Every thread answers each caller after its batch commits, withdraws
//! callers that have gone, and hands back to the pool what it cannot take.
//! A lost race is never a 500 ([`DbError::is_unavailable`],
//! [`foreign_key_violation`]).
//!
//! Lookups by a primary or unique key use `get_result`, not `first`:
//! `first` adds `LIMIT ?`, and SQLite (built with STAT4) marks a statement
//! whose LIMIT is a bound value for re-preparing at every new binding, so
//! the statement cache never saved the parse.

pub mod access_standing;
pub mod auth_codes;
pub mod client_cache;
mod client_reader;
pub mod clients;
mod combined;
pub mod csrf_keys;
mod lane;
pub mod login_failures;
pub mod owners;
pub mod password_params;
pub mod profiles;
pub mod refresh_batch;
pub mod refresh_tokens;
pub mod revoked_access_tokens;
pub mod roles;
mod rotator;
#[allow(missing_docs)]
pub mod schema;
pub mod sessions;
pub mod signing_keys;
mod url;
pub mod users;
pub mod writer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use self::url::{Backend, DatabaseUrl};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

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

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no supported backend.
    #[error("{0}")]
    BadUrl(String),
    /// The database could not be opened or reached.
    #[error("cannot open database {url}: {reason}")]
    Connect {
        /// The URL without its password.
        url: String,
        /// What the driver said.
        reason: String,
    },
    /// No pooled connection became free in time.
    #[error("database unavailable: {0}")]
    Pool(String),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// The blocking thread pool or the writer is gone (shutdown).
    #[error("background task failed")]
    Blocking,
    /// The write transaction this write was batched into failed as a
    /// whole (its commit, or another write in it broke the transaction).
    #[error("the write transaction failed")]
    Batch(#[source] Arc<DbError>),
}

impl DbError {
    /// True when the database cannot serve now (unreachable, no free
    /// connection, the connection died under the query, or PostgreSQL
    /// aborted it for a concurrent update, SQLSTATE 40001, or to break a
    /// deadlock, 40P01): worth a 503 and a retry, unlike a fault of ours.
    pub fn is_unavailable(&self) -> bool {
        if let DbError::Query(e) = self {
            if is_deadlock(e) {
                return true;
            }
        }
        matches!(
            self,
            // A batch fails for a lock held elsewhere past the busy
            // timeout, a full disk, or another write: nothing this request
            // did, and worth a retry.
            DbError::Batch(_)
                | DbError::Pool(_)
                | DbError::Connect { .. }
                | DbError::Query(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ClosedConnection
                        | diesel::result::DatabaseErrorKind::SerializationFailure,
                    _,
                ))
        )
    }
}

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
fn warn_if_sqlite_open_to_others(url: &DatabaseUrl) {
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
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

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

/// Opens connections with [`connect`] for the pool, and records whether
/// the last attempt reached the database.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
    reachable: Arc<AtomicBool>,
}

/// A pooled connection with the time it was last lent out.
pub struct PoolConn {
    conn: AnyConnection,
    lent: Instant,
}

impl std::ops::Deref for PoolConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PoolConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

/// A PostgreSQL connection lent out this recently is trusted without a
/// round trip; one idle longer is tested with a query, since a peer that
/// vanished without closing (a failover, a middlebox's idle timeout)
/// shows only when something is sent.
const TRUSTED_IDLE: Duration = Duration::from_secs(1);

impl ManageConnection for Manager {
    type Connection = PoolConn;
    type Error = DbError;

    fn connect(&self) -> Result<PoolConn, DbError> {
        let result = connect(&self.url);
        mark_reachable(&self.reachable, result.is_ok());
        Ok(PoolConn {
            conn: result?,
            lent: Instant::now(),
        })
    }

    /// Whether an idle PostgreSQL connection still stands. First without
    /// a round trip: a server that ended the session (a restart,
    /// `pg_terminate_backend`) has sent its last message and closed the
    /// socket, and two non-blocking reads of what waits there find the end
    /// of the stream (the first may only take that last message). A
    /// healthy idle connection has nothing to read (authd never LISTENs).
    /// Then, only for a connection idle longer than [`TRUSTED_IDLE`] or
    /// while the database is believed unreachable, a `SELECT 1`: under
    /// load connections are lent again within milliseconds, and the query
    /// was one of the two round trips of every client_credentials request.
    fn is_valid(&self, pooled: &mut PoolConn) -> Result<(), DbError> {
        let idle = pooled.lent.elapsed();
        pooled.lent = Instant::now();
        still_open(&mut pooled.conn, idle, &self.reachable)
    }

    fn has_broken(&self, pooled: &mut PoolConn) -> bool {
        use diesel::connection::TransactionManager;
        <AnyConnection as Connection>::TransactionManager::is_broken_transaction_manager(
            &mut pooled.conn,
        )
    }
}

/// Whether a connection idle for `idle` still stands ([`Manager::is_valid`]
/// tells how); SQLite's always do.
fn still_open(
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

/// Records whether the database answered, logging each change once
/// (r2d2 logs every failed attempt; this says when an outage begins and
/// ends).
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

/// A pooled connection.
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// How long a request waits for a connection while the database is known
/// to be unreachable: enough to pick up a connection the pool's background
/// retry has just made, short enough that an outage is answered with a
/// quick 503 rather than a pile of requests each parked for the timeout.
const UNREACHABLE_WAIT: Duration = Duration::from_millis(100);

/// The longest `/healthz` waits for a connection, whatever the timeout:
/// a probe must answer before the prober gives up on it.
const PING_WAIT: Duration = Duration::from_secs(2);

/// The connection pool, cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    /// The longest wait for a connection while the database answers.
    timeout: Duration,
    /// False from a failed connection attempt until the next success.
    reachable: Arc<AtomicBool>,
    /// One permit per pooled connection: requests wait for a connection
    /// here, asynchronously, rather than as blocking threads parked in
    /// r2d2 (which grew to hundreds of threads under a flood).
    slots: Arc<tokio::sync::Semaphore>,
    /// Turns for rotations that wait on the pool for a token locked
    /// elsewhere ([`Db::rotate`]): half the pool.
    lock_waits: Arc<tokio::sync::Semaphore>,
    /// Waits for a connection that ended without one, for the metrics.
    timeouts: Arc<AtomicU64>,
    /// SQLite's single writer ([`writer`]); `None` on PostgreSQL, which
    /// takes concurrent writers and groups their commits itself.
    writer: Option<writer::Writer>,
    /// PostgreSQL's combined refresh rotations ([`rotator`]); `None` on
    /// SQLite, whose writer batches them with every other write.
    rotator: Option<rotator::Rotator>,
    /// Client lookups, combined ([`client_reader`]).
    client_reader: client_reader::ClientReader,
    /// Access tokens' standing reads, combined ([`access_standing`]).
    standing_reader: access_standing::StandingReader,
    /// SQLite's read thread ([`Db::read`]); `None` on PostgreSQL.
    sqlite_reads: Option<lane::Lane<combined::SqliteReads>>,
}

/// How the pool's connections are used at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections lent out.
    pub in_use: u32,
    /// Connections open and free.
    pub idle: u32,
}

impl Db {
    /// Opens a pool of `size` connections (one is opened now, so that a bad
    /// URL or an unreachable server fails here with a clear message).
    /// Taking a connection waits at most `timeout`, then fails with
    /// [`DbError::Pool`] (which requests answer with 503).
    pub fn open(url: &DatabaseUrl, size: u32, timeout: Duration) -> Result<Db, DbError> {
        // Check first with a direct connection: r2d2 would retry until its
        // timeout and then report only "timed out".
        connect(url)?;
        warn_if_sqlite_open_to_others(url);
        let reachable = Arc::new(AtomicBool::new(true));
        let postgres = url.backend() == Backend::Postgres;
        let pool = r2d2::Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(1))
            .connection_timeout(timeout)
            // A PostgreSQL server restart kills every pooled connection;
            // testing on checkout ([`Manager::is_valid`]) replaces them
            // instead of failing requests. SQLite
            // connections are files and do not break that way.
            .test_on_check_out(postgres)
            .build(Manager {
                url: url.clone(),
                reachable: reachable.clone(),
            })
            .map_err(|e| DbError::Pool(e.to_string()))?;
        Ok(Db {
            pool,
            timeout,
            slots: Arc::new(tokio::sync::Semaphore::new(size.max(1) as usize)),
            lock_waits: Arc::new(tokio::sync::Semaphore::new((size / 2).max(1) as usize)),
            timeouts: Arc::new(AtomicU64::new(0)),
            writer: match url.backend() {
                Backend::Sqlite => Some(writer::Writer::start(url)?),
                Backend::Postgres => None,
            },
            rotator: match postgres {
                true => Some(rotator::Rotator::start(url, timeout)?),
                false => None,
            },
            client_reader: client_reader::ClientReader::start(url, timeout)?,
            standing_reader: access_standing::StandingReader::start(url, timeout)?,
            sqlite_reads: combined::sqlite_reads(url, timeout)?,
            reachable,
        })
    }

    /// The pool's connections now, lent out and free.
    pub fn pool_use(&self) -> PoolUse {
        let state = self.pool.state();
        PoolUse {
            in_use: state.connections.saturating_sub(state.idle_connections),
            idle: state.idle_connections,
        }
    }

    /// How many waits for a connection have ended without one.
    pub fn timeouts(&self) -> u64 {
        self.timeouts.load(Ordering::Relaxed)
    }

    /// Counts a wait for a connection that ended without one.
    fn timed_out(&self, why: String) -> DbError {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
        DbError::Pool(why)
    }

    /// Takes a connection, blocking until one is free: at most the pool's
    /// timeout, or only briefly while the database is unreachable.
    pub fn get(&self) -> Result<PooledConn, DbError> {
        self.checkout(self.timeout)
    }

    fn checkout(&self, limit: Duration) -> Result<PooledConn, DbError> {
        let wait = if self.reachable.load(Ordering::SeqCst) {
            limit
        } else {
            limit.min(UNREACHABLE_WAIT)
        };
        // On PostgreSQL the checkout's test marks the database reachable
        // when a query proved it ([`Manager::is_valid`]); SQLite's files
        // are reachable once opened.
        self.pool
            .get_timeout(wait)
            .map_err(|e| self.timed_out(e.to_string()))
    }

    /// How long a request waits for the database: the timeout, or only
    /// briefly while the database is known to be unreachable.
    fn wait(&self) -> Duration {
        if self.reachable.load(Ordering::SeqCst) {
            self.timeout
        } else {
            self.timeout.min(UNREACHABLE_WAIT)
        }
    }

    /// Runs blocking storage work on actix's blocking thread pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let slot = self.slots.clone().acquire_owned();
        let permit = match tokio::time::timeout(self.wait(), slot).await {
            Ok(Ok(permit)) => permit,
            _ => {
                let why = "no database connection became free".to_string();
                return Err(E::from(self.timed_out(why)));
            }
        };
        let db = self.clone();
        // The permit moves into the job: it is freed when the storage work
        // is done, even if the request that asked for it has gone.
        actix_web::web::block(move || {
            let _permit = permit;
            let mut conn = db.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|_| E::from(DbError::Blocking))?
    }

    /// Runs write work in a transaction of its own, committed before this
    /// returns; `f`'s `Err` rolls its work back. On SQLite it goes through
    /// the single writer (batched with other writes, one commit for all);
    /// on PostgreSQL on a pooled connection like [`Db::run`].
    ///
    /// `f` should only read and write: CPU work (signing, hashing) inside
    /// it holds up every other write on SQLite.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.write(self.timeout, f).await,
            None => {
                self.run(move |conn| in_write_tx(conn, f, |e| E::from(DbError::Query(e))))
                    .await
            }
        }
    }

    /// What SQLite's writer, or PostgreSQL's rotation thread, has done.
    pub fn writer_stats(&self) -> Option<&writer::WriterStats> {
        match (&self.writer, &self.rotator) {
            (Some(writer), _) => Some(writer.stats()),
            (None, Some(rotator)) => Some(rotator.stats()),
            (None, None) => None,
        }
    }

    /// Answers whether the database responds (for `/healthz`).
    pub async fn ping(&self) -> bool {
        let db = self.clone();
        let probe = actix_web::web::block(move || -> Result<(), DbError> {
            let mut conn = db.checkout(db.timeout.min(PING_WAIT))?;
            diesel::sql_query("SELECT 1").execute(&mut **conn)?;
            Ok(())
        });
        matches!(probe.await, Ok(Ok(())))
    }
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
fn in_write_tx<T, E, F>(
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
