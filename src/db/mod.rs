//! Storage: the [`Db`] facade, the embedded migrations, and one module of
//! queries per table.
//!
//! Query functions take `&mut AnyConnection` so that callers compose them
//! inside one transaction. They are blocking: async code reaches them only
//! through a [`Db`] entry point, which queues the work for threads that
//! own their connections ([`engine`]: one queue type, one rule for
//! deadlines and for callers that have gone, batches taken whole). Where
//! each kind of work runs, and why:
//!
//! | work | entry point | SQLite | PostgreSQL | why |
//! | --- | --- | --- | --- | --- |
//! | a read (a session, a user, a grant's checks) | [`Db::read`] | the connection threads, one job each | the same | blocking work off the actix workers, each thread on a connection of its own, no hop through a blocking pool |
//! | a write (a grant's issuing, a revocation, an admin change) | [`Db::write`] | the writer thread: queued writes share one transaction, a savepoint each ([`group_commit`]) | a connection thread, a transaction each | SQLite allows one writer: one thread and group commit remove lock collisions and turn N fsyncs into one; PostgreSQL groups commits itself |
//! | a refresh (its read and its rotation) | SQLite: [`Db::write`], PostgreSQL: [`Db::read`] then [`Db::rotate`] ([`Db::single_writer`] tells) | one write that reads the token itself | the read on a connection thread, then the rotation thread: everything queued in one statement; a token locked elsewhere is rotated alone on a connection thread | SQLite: every commit empties a reading connection's page cache, not the writer's, which finds the token's pages in memory, and one hand-off instead of two; PostgreSQL: one round trip and one commit for many rotations; with the retry grace on, the same statements also store the successor sealed ([`refresh_retries`]) |
//! | a client lookup | [`Db::client`] | the lookup thread: one `IN (…)` statement for all queued | the same, with `= ANY($1)` | the hot path of `client_credentials` and introspection |
//! | an access token's standing | [`Db::access_standing`] | the standing thread | the same, one statement for all queued | introspection's hot path |
//! | a user's profile | [`Db::profile`] | the profile thread: one `IN (…)` statement for all queued | the same, with `= ANY($1)` | UserInfo's hot path |
//!
//! Which backend gets which thread is decided in one place, [`Db::open`].
//! A caller waits at most `--db-timeout` for its work to start (then a
//! 503), and always for work that has started. Work a batching thread
//! cannot take goes to the connection threads. A lost race is never a 500
//! ([`DbError::is_unavailable`], [`foreign_key_violation`]).
//!
//! Lookups by a primary or unique key use `get_result`, not `first`:
//! `first` adds `LIMIT ?`, and SQLite (built with STAT4) marks a statement
//! whose LIMIT is a bound value for re-preparing at every new binding, so
//! the statement cache never saved the parse.

pub mod access_standing;
pub mod auth_codes;
pub mod backup;
pub mod client_cache;
pub mod clients;
mod connection;
pub mod consents;
pub mod cors_origins;
pub mod csrf_keys;
pub mod engine;
mod group_commit;
mod kinds;
pub mod login_failures;
pub mod logout_notices;
mod migrate;
pub mod owners;
pub mod passkeys;
pub mod password_params;
pub mod profiles;
mod queue;
pub mod recovery_codes;
pub mod refresh_batch;
mod refresh_claims;
pub mod refresh_retries;
pub mod refresh_tokens;
pub mod revoked_access_tokens;
pub mod roles;
#[allow(missing_docs)]
pub mod schema;
pub mod session_clients;
pub mod session_ends;
pub mod sessions;
pub mod signing_keys;
pub mod status_blocks;
pub mod totp_secrets;
mod url;
pub mod users;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::RunQueryDsl;
use tokio::sync::oneshot;

pub use self::connection::{
    connect, foreign_key_violation, in_transaction, is_deadlock, is_unique_violation, write_tx,
    AnyConnection,
};
pub use self::engine::{BatchStats, Use as PoolUse, BATCH_BUCKETS};
pub use self::migrate::{exclusive, migrate};
pub use self::url::{Backend, DatabaseUrl};

use self::connection::in_write_tx;
use self::engine::{Engine, Sent};
use self::group_commit::{Missed, Writes};
use self::kinds::{ClientLookups, Job, Jobs, ProfileLookups, Rotations, Standings};

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
    /// The work did not start in time, or no thread could take it.
    #[error("database unavailable: {0}")]
    Pool(String),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// The storage threads are gone (shutdown).
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

/// How long a request waits for its work to start while the database is
/// known to be unreachable: enough to pick up a connection just made,
/// short enough that an outage is answered with a quick 503 rather than a
/// pile of requests each parked for the timeout.
const UNREACHABLE_WAIT: Duration = Duration::from_millis(100);

/// The longest `/healthz` waits, whatever the timeout: a probe must answer
/// before the prober gives up on it.
const PING_WAIT: Duration = Duration::from_secs(2);

/// The pauses before a lone rotation that lost a deadlock is made again:
/// long enough for the winning transaction's queued lock to be granted.
const DEADLOCK_PAUSES_MS: [u64; 2] = [20, 100];

/// The storage threads' handles, cheap to clone.
#[derive(Clone)]
pub struct Db {
    /// The connection threads (the pool): reads, PostgreSQL's writes, and
    /// whatever a batching thread hands back.
    jobs: Engine<Jobs>,
    /// SQLite's single writer ([`group_commit`]); `None` on PostgreSQL,
    /// which takes concurrent writers and groups their commits itself.
    writer: Option<Engine<Writes>>,
    /// PostgreSQL's combined refresh rotations; `None` on SQLite, whose
    /// writer batches them with every other write.
    rotator: Option<Engine<Rotations>>,
    clients: Engine<ClientLookups>,
    standings: Engine<Standings>,
    profiles: Engine<ProfileLookups>,
    /// The longest wait for work to start while the database answers.
    timeout: Duration,
    /// Turns for rotations that wait on a connection thread for a token
    /// locked elsewhere ([`Db::rotate`]): half the threads.
    lock_waits: Arc<tokio::sync::Semaphore>,
    /// Waits that ended before the work started, for the metrics.
    timeouts: Arc<AtomicU64>,
}

impl Db {
    /// Starts `size` connection threads and the batching threads for the
    /// backend the URL names. The first connection thread's connection
    /// (and SQLite's writer's) opens now, so that a bad URL or an
    /// unreachable server fails here with a clear message; the other
    /// threads connect when they first have work. Work waits at most
    /// `timeout` to start, then fails with [`DbError::Pool`] (a 503).
    pub fn open(url: &DatabaseUrl, size: u32, timeout: Duration) -> Result<Db, DbError> {
        let first = connect(url)?;
        connection::warn_if_sqlite_open_to_others(url);
        let own = url.for_own_thread(timeout);
        let sqlite = url.backend() == Backend::Sqlite;
        let writer = match sqlite {
            true => Some(Engine::start_with(&own, 1, Some(connect(url)?))?),
            false => None,
        };
        Ok(Db {
            jobs: Engine::start_with(&own, size.max(1) as usize, Some(first))?,
            writer,
            rotator: (!sqlite).then(|| Engine::start(&own, 1)).transpose()?,
            clients: Engine::start(&own, 1)?,
            standings: Engine::start(&own, 1)?,
            profiles: Engine::start(&own, 1)?,
            timeout,
            lock_waits: Arc::new(tokio::sync::Semaphore::new((size / 2).max(1) as usize)),
            timeouts: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The connection threads' connections now, running work and idle.
    pub fn pool_use(&self) -> PoolUse {
        self.jobs.connections()
    }

    /// How many waits for the database ended before the work started.
    pub fn timeouts(&self) -> u64 {
        self.timeouts.load(Ordering::Relaxed)
    }

    /// Counts a wait that ended without the work starting.
    fn timed_out(&self, why: String) -> DbError {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
        DbError::Pool(why)
    }

    /// What a caller hears when its work was not started in time.
    fn late(&self) -> DbError {
        self.timed_out("the database did not take the work in time".into())
    }

    /// What a caller hears when no thread could take its work: the
    /// database is unreachable, or the queue is full.
    fn undone(&self) -> DbError {
        let why = match self.jobs.reachable() {
            true => "the database is overloaded",
            false => "the database is unreachable",
        };
        self.timed_out(why.into())
    }

    /// How long a caller waits for its work to start: the timeout, or only
    /// briefly while the database is known to be unreachable.
    fn wait(&self) -> Duration {
        if self.jobs.reachable() {
            self.timeout
        } else {
            self.timeout.min(UNREACHABLE_WAIT)
        }
    }

    /// Runs storage work on a connection thread and returns its result.
    /// Meant for reads; writes go through [`Db::write`].
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.on_connection(self.wait(), f).await
    }

    async fn on_connection<T, E, F>(&self, wait: Duration, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        // In the caller's span: what the work logs names its request.
        let span = tracing::Span::current();
        let job: Job = Box::new(move |conn| {
            // The caller may have gone: nobody to tell.
            let _ = reply.send(span.in_scope(|| f(conn)));
        });
        match self.jobs.send(job, wait).await {
            Sent::Done(Ok(())) => answer.await.map_err(|_| E::from(DbError::Blocking))?,
            Sent::Done(Err(e)) => Err(E::from(e)),
            Sent::Undone(_) => Err(E::from(self.undone())),
            Sent::Late => Err(E::from(self.late())),
        }
    }

    /// Runs write work in a transaction of its own, committed before this
    /// returns; `f`'s `Err` rolls its work back. On SQLite it goes through
    /// the single writer (batched with other writes, one commit for all);
    /// on PostgreSQL on a connection thread.
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
            Some(writer) => match group_commit::write(writer, self.wait(), f).await {
                Ok(done) => done,
                Err(Missed::Late) => Err(E::from(self.late())),
                Err(Missed::Undone) => Err(E::from(self.undone())),
            },
            None => {
                self.read(move |conn| in_write_tx(conn, f, |e| E::from(DbError::Query(e))))
                    .await
            }
        }
    }

    /// Claims the token with hash `rotation.hash` and, if this caller
    /// claimed it, stores `rotation.successor`: both or neither, committed
    /// before this returns ([`refresh_tokens::rotate`]). On SQLite through
    /// the single writer; on PostgreSQL combined with the rotations of
    /// other requests into one statement ([`kinds::Rotations`]).
    pub async fn rotate(
        &self,
        rotation: refresh_batch::Rotation,
    ) -> Result<refresh_tokens::Claim, DbError> {
        let Some(rotator) = &self.rotator else {
            return self
                .write(move |conn| rotation.make_alone(conn).map_err(DbError::Query))
                .await;
        };
        let alone = match rotator.send(rotation, self.wait()).await {
            Sent::Done(Ok(Ok(claim))) => return Ok(claim),
            Sent::Done(Ok(Err(r))) => *r,
            Sent::Done(Err(e)) => return Err(e),
            Sent::Late => return Err(self.late()),
            Sent::Undone(r) => r,
        };
        // Its token was locked elsewhere, or the thread could not take it:
        // alone, on a connection thread, waiting for any lock. At most
        // half of them wait for locked tokens: a long lock elsewhere (a
        // client's removal) must not take the connections every other
        // request needs.
        let turn = self.lock_waits.clone().acquire_owned();
        let Ok(Ok(turn)) = tokio::time::timeout(self.timeout, turn).await else {
            return Err(self.timed_out("too many refreshes wait for locked tokens".into()));
        };
        self.read(move |conn| {
            let _turn = turn;
            // Alone, it can lose a deadlock to a transaction that locks its
            // user or client row, then its token (40P01). Its one statement
            // left nothing behind, so it is made again, after a pause that
            // lets the winner take the lock it was waiting for (made at
            // once, it can grab the token first and lose the same deadlock
            // again). A third loss is a 503.
            let mut made = alone.make_alone(conn);
            for pause_ms in DEADLOCK_PAUSES_MS {
                match &made {
                    Err(e) if is_deadlock(e) => {
                        std::thread::sleep(Duration::from_millis(pause_ms));
                        made = alone.make_alone(conn);
                    }
                    _ => break,
                }
            }
            made.map_err(DbError::Query)
        })
        .await
    }

    /// The client with this id, read in one statement with the lookups of
    /// concurrent requests ([`kinds::ClientLookups`]).
    pub async fn client(&self, client_id: &str) -> Result<Option<clients::Client>, DbError> {
        match self.clients.send(client_id.to_string(), self.wait()).await {
            Sent::Done(found) => found,
            Sent::Late => Err(self.late()),
            Sent::Undone(id) => {
                self.read(move |conn| clients::find(conn, &id).map_err(DbError::Query))
                    .await
            }
        }
    }

    /// What the database says now of a verified access token
    /// ([`access_standing`]), read with those of concurrent requests (in
    /// one statement on PostgreSQL).
    pub async fn access_standing(
        &self,
        asked: access_standing::Asked,
    ) -> Result<access_standing::Standing, DbError> {
        match self.standings.send(asked, self.wait()).await {
            Sent::Done(standing) => standing,
            Sent::Late => Err(self.late()),
            Sent::Undone(asked) => {
                self.read(move |conn| access_standing::read(conn, &asked).map_err(DbError::Query))
                    .await
            }
        }
    }

    /// The profile of the user with this id, read in one statement with
    /// those of concurrent requests ([`kinds::ProfileLookups`]).
    pub async fn profile(&self, user_id: &str) -> Result<Option<profiles::Profile>, DbError> {
        match self.profiles.send(user_id.to_string(), self.wait()).await {
            Sent::Done(found) => found,
            Sent::Late => Err(self.late()),
            Sent::Undone(id) => {
                self.read(move |conn| profiles::of(conn, &id).map_err(DbError::Query))
                    .await
            }
        }
    }

    /// Whether writes go through one writer thread (SQLite). Its
    /// connection's page cache outlives its commits, while each commit
    /// empties a reading connection's (WAL): work that reads what it then
    /// writes is cheapest made whole in one write there.
    pub fn single_writer(&self) -> bool {
        self.writer.is_some()
    }

    /// What SQLite's writer, or PostgreSQL's rotation thread, has done.
    pub fn writer_stats(&self) -> Option<&BatchStats> {
        match (&self.writer, &self.rotator) {
            (Some(writer), _) => Some(writer.stats()),
            (None, Some(rotator)) => Some(rotator.stats()),
            (None, None) => None,
        }
    }

    /// Answers whether the database responds (for `/healthz`).
    pub async fn ping(&self) -> bool {
        let wait = self.wait().min(PING_WAIT);
        let probe = self.on_connection(wait, |conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok::<_, DbError>(())
        });
        probe.await.is_ok()
    }
}
