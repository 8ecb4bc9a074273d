//! SQLite's writes, group-committed: one engine thread ([`super::engine`])
//! runs every write of the server, so that no two of our write
//! transactions ever contend for SQLite's one write lock (contending
//! writers sleep in the busy handler, whose back-off reaches 100 ms a
//! sleep: that was the refresh grant's 950 ms p99).
//!
//! The thread takes every write queued while it was busy into one
//! transaction, each in a savepoint of its own, so a batch costs one fsync
//! however many writes it holds. A write whose own work fails is rolled
//! back to its savepoint alone; the others commit. Each caller hears its
//! result only after the transaction holding its write has committed (or
//! failed), so an answer never reports work that a crash could undo.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::{Connection, RunQueryDsl};
use tokio::sync::oneshot;

use super::engine::{Engine, Sent, Work};
use super::{AnyConnection, DbError};

/// The savepoint each write runs in. Ours, not diesel's: diesel hides a
/// failed `ROLLBACK TO` (it reports the write's own error and marks the
/// transaction for a later rollback we cannot see), and a batch that went
/// on to commit would then keep half of that write.
#[cfg(test)]
const SAVEPOINT: &str = "authd_write";

/// A statement of fixed SQL run as a prepared statement that diesel
/// caches per connection (`batch_execute` parses its SQL at every call,
/// and these run for every write).
macro_rules! fixed_statement {
    ($name:ident, $sql:literal) => {
        struct $name;

        impl diesel::query_builder::QueryFragment<Backend> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, Backend>,
            ) -> diesel::QueryResult<()> {
                out.push_sql($sql);
                Ok(())
            }
        }

        impl diesel::query_builder::QueryId for $name {
            type QueryId = $name;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl RunQueryDsl<AnyConnection> for $name {}
    };
}

type Backend = <AnyConnection as Connection>::Backend;

fixed_statement!(Savepoint, "SAVEPOINT authd_write");
fixed_statement!(Release, "RELEASE authd_write");
fixed_statement!(RollbackTo, "ROLLBACK TO authd_write");

/// One queued write: runs inside the batch's transaction, then hears how
/// the batch ended.
pub(super) trait Job: Send {
    /// Runs the write in a savepoint of its own. `Err` when the savepoint
    /// could not be released or rolled back: the transaction no longer
    /// holds exactly the other writes' work, and the batch must fail.
    fn run(&mut self, conn: &mut AnyConnection) -> diesel::QueryResult<()>;
    /// Answers the caller: its own result if the batch committed, else
    /// the batch's failure.
    fn finish(self: Box<Self>, batch: Result<(), Arc<DbError>>);
}

struct Typed<T, E, F> {
    work: Option<F>,
    result: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> Job for Typed<T, E, F>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send,
    T: Send,
    E: From<DbError> + Send,
{
    fn run(&mut self, conn: &mut AnyConnection) -> diesel::QueryResult<()> {
        let Some(work) = self.work.take() else {
            return Ok(());
        };
        Savepoint.execute(conn)?;
        let result = work(conn);
        let failed = result.is_err();
        self.result = Some(result);
        if failed {
            RollbackTo.execute(conn)?;
        }
        // ROLLBACK TO leaves the savepoint open: release it either way.
        Release.execute(conn).map(drop)
    }

    fn finish(self: Box<Self>, batch: Result<(), Arc<DbError>>) {
        let answer = match (batch, self.result) {
            (Ok(()), Some(result)) => result,
            (Err(failed), _) => Err(E::from(DbError::Batch(failed))),
            (Ok(()), None) => Err(E::from(DbError::Blocking)),
        };
        // The caller may have gone (its client hung up): nobody to tell.
        let _ = self.reply.send(answer);
    }
}

/// The writer thread's work: a batch of writes, one transaction.
pub(super) struct Writes;

impl Work for Writes {
    type Item = Box<dyn Job>;
    type Answer = ();
    const NAME: &'static str = "writer";
    /// Enough to share an fsync among all the connections a loaded server
    /// has, few enough that the first write of a batch does not wait long
    /// behind the others.
    const MAX_BATCH: usize = 256;

    fn run(conn: &mut AnyConnection, mut jobs: Vec<Box<dyn Job>>) -> Vec<Result<(), DbError>> {
        let n = jobs.len();
        let outcome = run_batch(conn, &mut jobs).map_err(Arc::new);
        if let Err(e) = &outcome {
            log::error!(
                "a write transaction of {n} write(s) failed: {}",
                crate::error_chain::chain(&**e)
            );
        }
        for job in jobs {
            job.finish(outcome.clone());
        }
        (0..n)
            .map(|_| outcome.clone().map_err(DbError::Batch))
            .collect()
    }
}

/// Why a write was not made: it had not started by its deadline, or the
/// writer could not take it (no connection, its queue full).
#[derive(Debug)]
pub(super) enum Missed {
    Late,
    Undone,
}

/// Queues `f` on the writer and waits until the transaction holding it
/// has ended. `f` runs in a savepoint: its `Err` undoes its own work only.
/// Waiting for the writer to start `f` is bounded by `wait` (then `f`
/// never runs); waiting for the commit once `f` has started is not (it
/// may commit, and the answer must say so).
///
/// `f` must return the database errors it meets, not carry on past them:
/// after some (a full disk, an I/O error) SQLite has rolled the whole
/// transaction back, and statements run after that would commit on their
/// own, outside the batch.
pub(super) async fn write<T, E, F>(
    writer: &Engine<Writes>,
    wait: Duration,
    f: F,
) -> Result<Result<T, E>, Missed>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    // In the caller's span: what the write logs names its request.
    let span = tracing::Span::current();
    let job: Box<dyn Job> = Box::new(Typed {
        work: Some(move |conn: &mut AnyConnection| span.in_scope(|| f(conn))),
        result: None,
        reply,
    });
    match writer.send(job, wait).await {
        // The job has answered: its batch committed.
        Sent::Done(Ok(())) => {}
        Sent::Done(Err(e)) => return Ok(Err(E::from(e))),
        Sent::Undone(_) => return Err(Missed::Undone),
        Sent::Late => return Err(Missed::Late),
    }
    Ok(answer
        .await
        .unwrap_or_else(|_| Err(E::from(DbError::Blocking))))
}

/// True when the batch's transaction is open at its own level, as a write
/// that ended cleanly (released or rolled back its savepoint) leaves it.
fn still_in_batch(conn: &mut AnyConnection) -> bool {
    let depth =
        <AnyConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn)
            .transaction_depth();
    matches!(depth, Ok(Some(d)) if d.get() == 1)
}
/// Runs one batch in one `BEGIN IMMEDIATE` transaction, committed when
/// every write ended cleanly.
fn run_batch(conn: &mut AnyConnection, batch: &mut [Box<dyn Job>]) -> Result<(), DbError> {
    begin(conn)?;
    for job in batch.iter_mut() {
        let ran = panic::catch_unwind(AssertUnwindSafe(|| job.run(conn)));
        // A panic, or a savepoint that could not be released or rolled
        // back, leaves the transaction in an unknown state: give the whole
        // batch up.
        let why = match ran {
            Err(_) => Some("a write panicked"),
            Ok(Err(_)) => Some("a write's savepoint could not be ended"),
            Ok(Ok(())) if !still_in_batch(conn) => Some("a write left its transaction level"),
            Ok(Ok(())) => None,
        };
        if let Some(why) = why {
            rollback(conn);
            return Err(DbError::Pool(why.into()));
        }
    }
    <AnyConnection as Connection>::TransactionManager::commit_transaction(conn).map_err(|e| {
        rollback(conn);
        DbError::Query(e)
    })
}

fn begin(conn: &mut AnyConnection) -> diesel::QueryResult<()> {
    match conn {
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        // Only SQLite has a writer; PostgreSQL groups commits itself.
        AnyConnection::Postgres(c) => <AnsiTransactionManager as TransactionManager<
            diesel::PgConnection,
        >>::begin_transaction(c),
    }
}

/// Rolls back every open level (a panic may leave a savepoint open); a
/// failure leaves the connection broken, and the writer reopens it.
fn rollback(conn: &mut AnyConnection) {
    type Manager = <AnyConnection as Connection>::TransactionManager;
    while let Ok(Some(_)) = Manager::transaction_manager_status_mut(conn).transaction_depth() {
        if Manager::rollback_transaction(conn).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;

    use actix_web::rt::{spawn, task::JoinHandle};
    use diesel::connection::SimpleConnection;

    use std::sync::atomic::Ordering;

    use super::*;
    use crate::db::{self, DatabaseUrl};

    struct Fixture {
        _dir: tempfile::TempDir,
        url: DatabaseUrl,
        writer: Writer,
    }

    /// The writer engine, with the wait of each write given per call.
    #[derive(Clone)]
    struct Writer(Engine<Writes>);

    impl Writer {
        async fn write<F>(&self, wait: Duration, f: F) -> Result<(), DbError>
        where
            F: FnOnce(&mut AnyConnection) -> Result<(), DbError> + Send + 'static,
        {
            match write(&self.0, wait, f).await {
                Ok(done) => done,
                Err(missed) => Err(DbError::Pool(format!("{missed:?}"))),
            }
        }

        fn stats(&self) -> &crate::db::engine::BatchStats {
            self.0.stats()
        }

        /// Waits until `n` writes are queued behind the one running.
        async fn until_queued(&self, n: usize) {
            while self.0.queued() < n {
                tokio::task::yield_now().await;
            }
        }
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("w.db").display()))
            .expect("url");
        db::migrate(&mut db::connect(&url).expect("connect")).expect("migrate");
        let writer = Writer(Engine::start(&url, 1).expect("writer"));
        Fixture {
            _dir: dir,
            url,
            writer,
        }
    }

    fn add_role(conn: &mut AnyConnection, name: &str) -> Result<(), DbError> {
        diesel::sql_query(format!(
            "INSERT INTO roles (name, created_at) VALUES ('{name}', 0)"
        ))
        .execute(conn)?;
        Ok(())
    }

    fn roles(url: &DatabaseUrl) -> Vec<String> {
        use crate::db::schema::roles::dsl;
        use diesel::QueryDsl;
        let mut conn = db::connect(url).expect("connect");
        let mut names: Vec<String> = dsl::roles.select(dsl::name).load(&mut conn).expect("roles");
        names.sort();
        names
    }

    /// Holds the writer inside a first write until `release` is sent, so
    /// that the writes queued meanwhile form one batch.
    async fn hold(f: &Fixture) -> (std_mpsc::Sender<()>, JoinHandle<Result<(), DbError>>) {
        let (release, held) = std_mpsc::channel::<()>();
        let (started, running) = oneshot::channel::<()>();
        let writer = f.writer.clone();
        let first = spawn(async move {
            writer
                .write(Duration::from_secs(5), move |conn| {
                    let _ = started.send(());
                    let _ = held.recv();
                    add_role(conn, "first")
                })
                .await
        });
        running.await.expect("the first write started");
        (release, first)
    }

    async fn queue_then_release(
        f: &Fixture,
        names: &[&str],
        failing: &str,
    ) -> Vec<Result<(), DbError>> {
        let (release, first) = hold(f).await;
        let mut queued = Vec::new();
        for name in names {
            let (writer, name, failing) = (f.writer.clone(), name.to_string(), failing.to_string());
            queued.push(spawn(async move {
                writer
                    .write(Duration::from_secs(5), move |conn| {
                        add_role(conn, &name)?;
                        if name == failing {
                            return Err(DbError::Pool("refused".into()));
                        }
                        Ok(())
                    })
                    .await
            }));
        }
        // Let every write reach the queue before the writer goes on.
        f.writer.until_queued(names.len()).await;
        release.send(()).expect("release");
        first.await.expect("join").expect("the first write");
        let mut results = Vec::new();
        for q in queued {
            results.push(q.await.expect("join"));
        }
        results
    }

    /// Releases the held first write, makes one more, and checks that
    /// only those two committed: a withdrawn write queued between them
    /// never ran (the writer has passed it by the time the later one is
    /// answered).
    async fn assert_only_held_and_later_committed(
        f: &Fixture,
        release: std_mpsc::Sender<()>,
        first: JoinHandle<Result<(), DbError>>,
    ) {
        release.send(()).expect("release");
        first.await.expect("join").expect("the first write");
        f.writer
            .write(Duration::from_secs(5), |conn| add_role(conn, "after"))
            .await
            .expect("a later write");
        assert_eq!(roles(&f.url), ["after", "first"]);
    }

    #[actix_web::test]
    async fn a_write_not_started_in_time_is_withdrawn_and_never_runs() {
        let f = fixture();
        let (release, first) = hold(&f).await;
        let waited = f
            .writer
            .write(Duration::from_millis(50), |conn| add_role(conn, "late"))
            .await;
        assert!(
            matches!(&waited, Err(e) if e.is_unavailable()),
            "a 503 for the caller: {waited:?}"
        );
        assert_only_held_and_later_committed(&f, release, first).await;
    }

    #[actix_web::test]
    async fn a_write_whose_caller_is_gone_before_it_starts_never_runs() {
        let f = fixture();
        let (release, first) = hold(&f).await;
        let writer = f.writer.clone();
        let abandoned = spawn(async move {
            writer
                .write(Duration::from_secs(5), |conn| add_role(conn, "abandoned"))
                .await
        });
        f.writer.until_queued(1).await;
        // What actix does to a handler whose client hung up.
        abandoned.abort();
        let _ = abandoned.await;
        assert_only_held_and_later_committed(&f, release, first).await;
    }

    #[actix_web::test]
    async fn queued_writes_share_one_commit_and_fail_alone() {
        let f = fixture();
        let names = ["a", "b", "c", "d", "e"];
        let results = queue_then_release(&f, &names, "c").await;
        for (name, result) in names.iter().zip(&results) {
            assert_eq!(result.is_ok(), *name != "c", "{name}: {result:?}");
        }
        // "c" rolled back to its savepoint; the others committed.
        assert_eq!(roles(&f.url), ["a", "b", "d", "e", "first"]);
        let stats = f.writer.stats();
        assert_eq!(stats.writes.load(Ordering::Relaxed), 6);
        // The held write alone, then the five queued behind it together.
        assert_eq!(stats.batches.load(Ordering::Relaxed), 2);
        assert_eq!(
            stats.batch_sizes[3].load(Ordering::Relaxed),
            1,
            "a batch of 5"
        );
    }

    #[actix_web::test]
    async fn a_panicking_write_fails_its_batch_and_the_writer_goes_on() {
        let f = fixture();
        let (other, bad) = beside_other(&f, |_conn| -> Result<(), DbError> {
            panic!("a bug in a write")
        })
        .await;
        assert!(matches!(other, Err(DbError::Batch(_))));
        assert!(matches!(bad, Err(DbError::Batch(_))));
        assert_eq!(
            roles(&f.url),
            ["first"],
            "nothing of the failed batch stays"
        );
        // The writer still serves.
        f.writer
            .write(Duration::from_secs(5), |conn| add_role(conn, "after"))
            .await
            .expect("a write after the failed batch");
        assert_eq!(roles(&f.url), ["after", "first"]);
        assert_eq!(f.writer.stats().failed.load(Ordering::Relaxed), 1);
    }

    /// Runs `bad` in a batch beside a write adding "other".
    async fn beside_other<F>(f: &Fixture, bad: F) -> (Result<(), DbError>, Result<(), DbError>)
    where
        F: FnOnce(&mut AnyConnection) -> Result<(), DbError> + Send + 'static,
    {
        let (release, first) = hold(f).await;
        let writer = f.writer.clone();
        let other = spawn(async move {
            writer
                .write(Duration::from_secs(5), |conn| add_role(conn, "other"))
                .await
        });
        let writer = f.writer.clone();
        let bad = spawn(async move { writer.write(Duration::from_secs(5), bad).await });
        f.writer.until_queued(2).await;
        release.send(()).expect("release");
        first.await.expect("join").expect("the first write");
        (other.await.expect("join"), bad.await.expect("join"))
    }

    #[actix_web::test]
    async fn a_savepoint_that_cannot_be_rolled_back_fails_the_batch() {
        let f = fixture();
        // The write ends the writer's savepoint itself, so rolling its
        // work back fails; committing the batch would keep "half".
        let (other, bad) = beside_other(&f, |conn| {
            add_role(conn, "half")?;
            conn.batch_execute(&format!("RELEASE {SAVEPOINT}"))
                .map_err(DbError::Query)?;
            Err(DbError::Pool("refused".into()))
        })
        .await;
        assert!(matches!(other, Err(DbError::Batch(_))), "{other:?}");
        assert!(matches!(bad, Err(DbError::Batch(_))), "{bad:?}");
        assert_eq!(
            roles(&f.url),
            ["first"],
            "nothing of the failed batch stays"
        );
        assert_eq!(f.writer.stats().failed.load(Ordering::Relaxed), 1);
    }

    #[actix_web::test]
    async fn while_no_connection_opens_writes_come_back_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = dir.path().join("not-yet");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", folder.join("w.db").display()))
            .expect("url");
        let writer = Engine::<Writes>::start(&url, 1).expect("writer");
        let during = tokio::time::timeout(
            Duration::from_secs(5),
            write(&writer, Duration::from_secs(5), |conn| {
                add_role(conn, "during")
            }),
        )
        .await
        .expect("answered during the outage, not left waiting");
        assert!(matches!(during, Err(Missed::Undone)), "{during:?}");
        // Once the database can be opened again, the writer has it.
        std::fs::create_dir(&folder).expect("mkdir");
        db::migrate(&mut db::connect(&url).expect("connect")).expect("migrate");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match write(&writer, Duration::from_secs(5), |conn| {
                add_role(conn, "after")
            })
            .await
            {
                Ok(done) => break done.expect("the write"),
                Err(_) => assert!(std::time::Instant::now() < deadline, "never reopened"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(roles(&url), ["after"]);
    }
}
