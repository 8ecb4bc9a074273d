//! The one execution model of storage: threads that each own a database
//! connection and take their work from one queue. Every kind of work runs
//! on such threads ([`super`]'s table says which), under the same rules:
//!
//! - **Batching**: a thread takes everything queued, up to its kind's
//!   [`Work::MAX_BATCH`], into one call (one statement, or one
//!   transaction). An idle server answers a lone item at once: a thread
//!   never waits to fill a batch; the busier the server, the larger the
//!   batches.
//! - **Deadline**: a caller waits at most its deadline for its item to
//!   start; one not started by then is withdrawn and never runs (the
//!   caller answers 503). Once started, an item is always waited for: it
//!   may commit, and the answer must say so.
//! - **Callers that have gone**: an item whose caller was dropped before
//!   it started (its client hung up) is withdrawn too. A refresh nobody
//!   will hear of is better not made, or the client's retry would count as
//!   reuse.
//! - **No connection**: items a thread cannot take (its queue full, no
//!   connection opens) go back to their caller undone, and the caller
//!   decides ([`super::Db`]: another thread, or a 503).
//!
//! The threads do their blocking work directly, with no hop through a
//! blocking pool; they outlive any request and end when the last handle
//! goes.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::connection::{broken, connect, still_open};
use super::queue::{self, Refused, Taker};
use super::{AnyConnection, DatabaseUrl, DbError};

/// Items queued at most per engine; beyond, they go back undone.
const QUEUE: usize = 4096;

/// After a failed connection attempt, how long work goes back undone
/// before the next attempt (each costs PostgreSQL a process).
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// Upper bounds of the batch-size histogram's buckets.
pub const BATCH_BUCKETS: [u64; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/// A kind of work: what its callers queue and how a thread runs a batch.
pub(super) trait Work: 'static {
    /// What a caller queues.
    type Item: Send + 'static;
    /// What it hears back.
    type Answer: Send + 'static;
    /// The threads' name, and what log lines call an item.
    const NAME: &'static str;
    /// The most items one batch takes.
    const MAX_BATCH: usize;

    /// Readies a newly opened connection.
    fn prepare(_conn: &mut AnyConnection) -> Result<(), DbError> {
        Ok(())
    }

    /// One batch, one answer per item in order. An `Err` answer drops the
    /// connection (it may have died under the statement).
    fn run(conn: &mut AnyConnection, items: Vec<Self::Item>) -> Vec<Result<Self::Answer, DbError>>;
}

/// What became of a queued item.
pub(super) enum Sent<W: Work> {
    /// It ran (or failed, perhaps after committing).
    Done(Result<W::Answer, DbError>),
    /// Nothing was done for it: the queue was full, no connection opened,
    /// or the threads have gone.
    Undone(W::Item),
    /// It had not started by its deadline, and never will.
    Late,
}

/// What the threads of an engine have done, for the metrics.
#[derive(Debug, Default)]
pub struct BatchStats {
    /// Batches run.
    pub batches: AtomicU64,
    /// Items run.
    pub writes: AtomicU64,
    /// Batches per [`BATCH_BUCKETS`] bucket (not cumulative).
    pub batch_sizes: [AtomicU64; BATCH_BUCKETS.len()],
    /// Time spent running batches (statements and commit), in
    /// microseconds.
    pub commit_micros: AtomicU64,
    /// Batches that failed as a whole.
    pub failed: AtomicU64,
}

impl BatchStats {
    fn record(&self, size: usize, took: Duration, ok: bool) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.writes.fetch_add(size as u64, Ordering::Relaxed);
        let bucket = BATCH_BUCKETS
            .iter()
            .position(|b| size as u64 <= *b)
            .unwrap_or(BATCH_BUCKETS.len() - 1);
        self.batch_sizes[bucket].fetch_add(1, Ordering::Relaxed);
        self.commit_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What an engine's handles and threads share.
#[derive(Debug)]
struct Shared {
    stats: BatchStats,
    /// Whether the last connection attempt succeeded (each change logged
    /// once).
    reachable: AtomicBool,
    /// Connections open, and threads running a batch now.
    open: AtomicU32,
    busy: AtomicU32,
    /// Whether the threads were found gone (logged once).
    gone: AtomicBool,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            stats: BatchStats::default(),
            reachable: AtomicBool::new(true),
            open: AtomicU32::new(0),
            busy: AtomicU32::new(0),
            gone: AtomicBool::new(false),
        }
    }
}

/// An engine's sending end; cheap to clone.
pub(super) struct Engine<W: Work> {
    queue: queue::Sender<Waiting<W>>,
    shared: Arc<Shared>,
}

impl<W: Work> Clone for Engine<W> {
    fn clone(&self) -> Self {
        Engine {
            queue: self.queue.clone(),
            shared: self.shared.clone(),
        }
    }
}

struct Waiting<W: Work> {
    item: W::Item,
    reply: oneshot::Sender<Outcome<W>>,
    start: Arc<Start>,
}

enum Outcome<W: Work> {
    Done(Result<W::Answer, DbError>),
    Undone(W::Item),
}

/// Who decides a queued item's fate: a thread starting it, or its caller
/// withdrawing it. Exactly one wins, so an item answered as late never
/// runs later, and one that started is always waited for.
#[derive(Default)]
struct Start(AtomicU8);

impl Start {
    const QUEUED: u8 = 0;
    const STARTED: u8 = 1;
    const WITHDRAWN: u8 = 2;

    fn take(&self, to: u8) -> bool {
        self.0
            .compare_exchange(Self::QUEUED, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Withdraws its item, if not started yet, when dropped: a caller that
/// has gone takes its work with it.
struct Withdraw(Arc<Start>);

impl Drop for Withdraw {
    fn drop(&mut self) {
        self.0.take(Start::WITHDRAWN);
    }
}

/// How many connections an engine has open, and how many of them run a
/// batch now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Use {
    /// Connections running a batch.
    pub in_use: u32,
    /// Connections open and waiting for work.
    pub idle: u32,
}

impl<W: Work> Engine<W> {
    /// Starts `threads` threads on one queue; each connects to `url` when
    /// it first has work.
    pub fn start(url: &DatabaseUrl, threads: usize) -> Result<Engine<W>, DbError> {
        Engine::start_with(url, threads, None)
    }

    /// [`Engine::start`], the first thread with `opened` as its
    /// connection: it stays open from the start (SQLite keeps its WAL
    /// files while a connection is open) and the first work finds it.
    pub fn start_with(
        url: &DatabaseUrl,
        threads: usize,
        mut opened: Option<AnyConnection>,
    ) -> Result<Engine<W>, DbError> {
        let queue = queue::bounded(QUEUE);
        let shared = Arc::new(Shared::new());
        for n in 0..threads.max(1) {
            let conn = match opened.take() {
                Some(mut conn) => {
                    W::prepare(&mut conn)?;
                    shared.open.fetch_add(1, Ordering::Relaxed);
                    Some((conn, Instant::now()))
                }
                None => None,
            };
            let thread = Thread::<W> {
                url: url.clone(),
                conn,
                retry_at: None,
                shared: shared.clone(),
                work: std::marker::PhantomData,
            };
            let waiting = queue.taker();
            std::thread::Builder::new()
                .name(format!("authd-{}-{n}", W::NAME))
                .spawn(move || thread.serve(waiting))
                .map_err(|e| DbError::Pool(format!("cannot start a {} thread: {e}", W::NAME)))?;
        }
        Ok(Engine { queue, shared })
    }

    /// What the threads have done.
    pub fn stats(&self) -> &BatchStats {
        &self.shared.stats
    }

    /// Whether the threads' last connection attempt succeeded.
    pub fn reachable(&self) -> bool {
        self.shared.reachable.load(Ordering::SeqCst)
    }

    /// The threads' connections now.
    pub fn connections(&self) -> Use {
        let open = self.shared.open.load(Ordering::Relaxed);
        let busy = self.shared.busy.load(Ordering::Relaxed).min(open);
        Use {
            in_use: busy,
            idle: open - busy,
        }
    }

    /// Items queued and not yet taken by a thread.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Queues `item` and waits until the batch holding it has ended, or
    /// for at most `deadline` if it has not started by then.
    pub async fn send(&self, item: W::Item, deadline: Duration) -> Sent<W> {
        let (reply, mut answer) = oneshot::channel();
        let start = Arc::new(Start::default());
        let waiting = Waiting {
            item,
            reply,
            start: start.clone(),
        };
        match self.queue.push(waiting) {
            Ok(()) => {}
            Err(Refused::Full(unsent)) => return Sent::Undone(unsent.item),
            Err(Refused::Closed(unsent)) => {
                if !self.shared.gone.swap(true, Ordering::Relaxed) {
                    log::error!("the {} threads have stopped", W::NAME);
                }
                return Sent::Undone(unsent.item);
            }
        }
        let _withdraw = Withdraw(start.clone());
        let outcome = match tokio::time::timeout(deadline, &mut answer).await {
            Ok(outcome) => outcome,
            Err(_) if start.take(Start::WITHDRAWN) => return Sent::Late,
            // Started meanwhile: its outcome is on its way.
            Err(_) => answer.await,
        };
        match outcome {
            Ok(Outcome::Done(result)) => Sent::Done(result),
            Ok(Outcome::Undone(item)) => Sent::Undone(item),
            Err(_) => Sent::Done(Err(DbError::Blocking)),
        }
    }
}

/// One thread's state: its connection, with when it last ran a batch.
struct Thread<W: Work> {
    url: DatabaseUrl,
    conn: Option<(AnyConnection, Instant)>,
    /// No connection attempt before this, after a failed one.
    retry_at: Option<Instant>,
    shared: Arc<Shared>,
    work: std::marker::PhantomData<fn() -> W>,
}

impl<W: Work> Thread<W> {
    /// Takes what is queued, a batch at a time, until every handle is gone.
    fn serve(mut self, waiting: Taker<Waiting<W>>) {
        while let Some(mut batch) = waiting.take(W::MAX_BATCH) {
            // Withdrawn, or its caller gone: not done.
            batch.retain(|w| !w.reply.is_closed() && w.start.take(Start::STARTED));
            if batch.is_empty() {
                continue;
            }
            // A panic (in the driver, say) fails this batch, not the thread.
            let opened = panic::catch_unwind(AssertUnwindSafe(|| self.connection().is_some()));
            if !matches!(opened, Ok(true)) {
                for w in batch {
                    let _ = w.reply.send(Outcome::Undone(w.item));
                }
                continue;
            }
            let (items, replies): (Vec<_>, Vec<_>) =
                batch.into_iter().map(|w| (w.item, w.reply)).unzip();
            let n = items.len();
            self.shared.busy.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let results = panic::catch_unwind(AssertUnwindSafe(|| match self.conn.as_mut() {
                Some((conn, _)) => W::run(conn, items),
                None => failed_all::<W>(n, DbError::Blocking),
            }))
            .unwrap_or_else(|_| {
                let why = DbError::Pool(format!("a {} batch panicked", W::NAME));
                failed_all::<W>(n, why)
            });
            let took = started.elapsed();
            self.shared.busy.fetch_sub(1, Ordering::Relaxed);
            // An error may have been the connection dying; work that left
            // a transaction open leaves it unusable.
            let ok = results.iter().all(Result::is_ok);
            let sound = ok && self.conn.as_mut().is_some_and(|(c, _)| !broken(c));
            self.shared.stats.record(n, took, ok);
            if !sound {
                self.drop_connection();
            }
            for (reply, result) in replies.into_iter().zip(results) {
                // The caller may have gone: nobody to tell.
                let _ = reply.send(Outcome::Done(result));
            }
        }
        self.drop_connection();
    }

    fn drop_connection(&mut self) {
        if self.conn.take().is_some() {
            self.shared.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The thread's connection, checked before use ([`still_open`]), or a
    /// new one; `None` when none opens (logged once until one does), and
    /// for [`RECONNECT_PAUSE`] after.
    fn connection(&mut self) -> Option<&mut AnyConnection> {
        if let Some((conn, used)) = self.conn.as_mut() {
            if still_open(conn, used.elapsed(), &self.shared.reachable).is_err() {
                self.drop_connection();
            }
        }
        if self.conn.is_none() {
            if self.retry_at.is_some_and(|at| Instant::now() < at) {
                return None;
            }
            let opened = connect(&self.url).and_then(|mut conn| {
                W::prepare(&mut conn)?;
                Ok(conn)
            });
            match opened {
                Ok(conn) => {
                    if !self.shared.reachable.swap(true, Ordering::SeqCst) {
                        log::info!("the {} threads reach the database again", W::NAME);
                    }
                    self.retry_at = None;
                    self.shared.open.fetch_add(1, Ordering::Relaxed);
                    self.conn = Some((conn, Instant::now()));
                }
                Err(e) => {
                    if self.shared.reachable.swap(false, Ordering::SeqCst) {
                        log::warn!(
                            "the {} threads cannot reach the database ({}): their work \
                             is answered 503 or done elsewhere until it answers",
                            W::NAME,
                            crate::error_chain::chain(&e)
                        );
                    }
                    self.retry_at = Some(Instant::now() + RECONNECT_PAUSE);
                    return None;
                }
            }
        }
        let (conn, used) = self.conn.as_mut()?;
        *used = Instant::now();
        Some(conn)
    }
}

/// The same failure for each of a batch's `n` items, logged once.
pub(super) fn failed_all<W: Work>(n: usize, why: DbError) -> Vec<Result<W::Answer, DbError>> {
    log::error!(
        "a batch of {n} {}(s) failed: {}",
        W::NAME,
        crate::error_chain::chain(&why)
    );
    let failed = Arc::new(why);
    (0..n)
        .map(|_| Err(DbError::Batch(failed.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;

    impl Work for Echo {
        type Item = u32;
        type Answer = u32;
        const NAME: &'static str = "echo";
        const MAX_BATCH: usize = 8;
        fn run(_: &mut AnyConnection, items: Vec<u32>) -> Vec<Result<u32, DbError>> {
            items.into_iter().map(Ok).collect()
        }
    }

    fn sqlite() -> (tempfile::TempDir, DatabaseUrl) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.db");
        let url = DatabaseUrl::parse(path.to_str().unwrap()).unwrap();
        (dir, url)
    }

    #[actix_web::test]
    async fn an_item_is_answered_in_its_batch() {
        let (_dir, url) = sqlite();
        let engine = Engine::<Echo>::start(&url, 2).unwrap();
        assert!(matches!(
            engine.send(7, Duration::from_secs(5)).await,
            Sent::Done(Ok(7))
        ));
        assert_eq!(engine.stats().writes.load(Ordering::Relaxed), 1);
    }

    #[actix_web::test]
    async fn with_the_threads_gone_an_item_comes_back_undone() {
        // A queue whose taker has gone.
        let queue = queue::bounded(1);
        drop(queue.taker());
        let engine = Engine::<Echo> {
            queue,
            shared: Arc::new(Shared::new()),
        };
        for _ in 0..2 {
            assert!(matches!(
                engine.send(7, Duration::from_secs(1)).await,
                Sent::Undone(7)
            ));
        }
        assert!(engine.shared.gone.load(Ordering::Relaxed));
    }

    #[actix_web::test]
    async fn threads_without_a_connection_hand_their_work_back() {
        let url =
            DatabaseUrl::parse("postgres://authd@127.0.0.1:1/none?connect_timeout=2").unwrap();
        let engine = Engine::<Echo>::start(&url, 1).unwrap();
        // Refused at once: handed back, and again within the pause.
        for item in [1, 2] {
            assert!(matches!(
                engine.send(item, Duration::from_secs(5)).await,
                Sent::Undone(i) if i == item
            ));
        }
        assert!(!engine.reachable());
    }
}
