//! Storage: one connection type over SQLite and PostgreSQL, the pool, the
//! embedded migrations, and one module of queries per table.
//!
//! Query functions take `&mut AnyConnection` so that callers compose them
//! inside one transaction. They are blocking: async code reaches them only
//! through [`Db::run`], which moves the work off the actix workers.

pub mod clients;
pub mod login_failures;
pub mod refresh_tokens;
pub mod revoked_access_tokens;
pub mod roles;
#[allow(missing_docs)]
pub mod schema;
pub mod signing_keys;
mod url;
pub mod users;

use std::time::Duration;

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
    /// The blocking thread pool is gone (shutdown).
    #[error("background task failed")]
    Blocking,
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
            create_sqlite_file(url)?;
            let mut conn = SqliteConnection::establish(url.as_str()).map_err(failed)?;
            // WAL lets readers proceed during a write; FULL makes a commit
            // durable before we answer; busy_timeout turns lock contention
            // into waiting instead of SQLITE_BUSY errors.
            conn.batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
            )
            .map_err(|e| DbError::Connect {
                url: url.redacted(),
                reason: e.to_string(),
            })?;
            Ok(AnyConnection::Sqlite(conn))
        }
    }
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
pub fn migrate(conn: &mut AnyConnection) -> Result<usize, DbError> {
    conn.run_pending_migrations(MIGRATIONS)
        .map(|done| done.len())
        .map_err(|e| DbError::Migration(e.to_string()))
}

/// r2d2 manager that opens connections with [`connect`].
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = DbError;

    fn connect(&self) -> Result<AnyConnection, DbError> {
        connect(&self.url)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), DbError> {
        diesel::sql_query("SELECT 1").execute(conn)?;
        Ok(())
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        use diesel::connection::TransactionManager;
        <AnyConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

/// A pooled connection.
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// The connection pool, cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
}

impl Db {
    /// Opens a pool of `size` connections (one is opened now, so that a bad
    /// URL or an unreachable server fails here with a clear message).
    pub fn open(url: &DatabaseUrl, size: u32) -> Result<Db, DbError> {
        // Check first with a direct connection: r2d2 would retry until its
        // timeout and then report only "timed out".
        connect(url)?;
        warn_if_sqlite_open_to_others(url);
        let pool = r2d2::Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(5))
            // A PostgreSQL server restart kills every pooled connection;
            // testing on checkout replaces them instead of failing requests.
            // SQLite connections are files and do not break that way.
            .test_on_check_out(url.backend() == Backend::Postgres)
            .build(Manager { url: url.clone() })
            .map_err(|e| DbError::Pool(e.to_string()))?;
        Ok(Db { pool })
    }

    /// Takes a connection, blocking until one is free.
    pub fn get(&self) -> Result<PooledConn, DbError> {
        self.pool.get().map_err(|e| DbError::Pool(e.to_string()))
    }

    /// Runs blocking storage work on actix's blocking thread pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let db = self.clone();
        actix_web::web::block(move || {
            let mut conn = db.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|_| E::from(DbError::Blocking))?
    }

    /// Answers whether the database responds (for `/healthz`).
    pub async fn ping(&self) -> bool {
        let db = self.clone();
        let probe = actix_web::web::block(move || -> Result<(), DbError> {
            let mut conn = db
                .pool
                .get_timeout(Duration::from_secs(2))
                .map_err(|e| DbError::Pool(e.to_string()))?;
            diesel::sql_query("SELECT 1").execute(&mut *conn)?;
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
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        AnyConnection::Postgres(c) => {
            <AnsiTransactionManager as TransactionManager<PgConnection>>::begin_transaction(c)?
        }
    }
    // Commit and rollback go through AnyConnection, which hands them to the
    // inner connection's manager, the one that began the transaction.
    match f(conn) {
        Ok(value) => {
            <AnyConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            let _ = <AnyConnection as Connection>::TransactionManager::rollback_transaction(conn);
            Err(e)
        }
    }
}

/// True when the error is a unique or primary-key violation.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
