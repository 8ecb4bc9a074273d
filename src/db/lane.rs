//! A thread of its own, on a database connection of its own, that takes
//! everything queued into one call: concurrent requests queue an item
//! each, and under load many share one statement (and one commit, for a
//! write). An idle server answers a lone item at once: the thread takes
//! what is there as soon as it is free, never waiting to fill a batch; the
//! busier the server, the larger the batches.
//!
//! The thread outlives any request (a client hanging up never strands the
//! items queued behind its own) and does its blocking work directly, with
//! no hop through the blocking pool. Its connection is outside the pool,
//! so it never waits behind requests queued for one, and it is checked
//! the way the pool checks its own ([`super::Manager`]). Every caller hears
//! its answer only after the statement holding its item has ended. The
//! thread ends when the last handle goes.
//!
//! Whatever the thread cannot take on (its queue full, no connection of
//! its own: a server at its connection limit, say) goes back to its caller
//! undone, to be done on the pool, which has its own outage handling.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::writer::WriterStats;
use super::{connect, still_open, AnyConnection, DatabaseUrl, DbError};

/// The most items in one statement: enough to share one statement among
/// all the connections of a loaded server, few enough that it stays short.
const MAX_BATCH: usize = 128;

/// Items queued at most; beyond, callers go to the pool.
const QUEUE: usize = 4096;

/// After a failed connection attempt, how long work goes back undone
/// before the next attempt (each costs PostgreSQL a process).
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// What a lane's thread does with a batch.
pub(super) trait Work: 'static {
    /// What a caller queues.
    type Item: Send + 'static;
    /// What it hears back.
    type Answer: Send + 'static;
    /// The thread's name, and what its log lines call an item.
    const NAME: &'static str;

    /// Readies a newly opened connection.
    fn prepare(conn: &mut AnyConnection) -> Result<(), DbError>;

    /// One batch, one answer per item in order. An `Err` answer drops the
    /// connection (it may have died under the statement).
    fn run(conn: &mut AnyConnection, items: Vec<Self::Item>) -> Vec<Result<Self::Answer, DbError>>;
}

/// The queue's sending end; cheap to clone.
pub(super) struct Lane<W: Work> {
    queue: mpsc::SyncSender<Waiting<W>>,
    stats: Arc<WriterStats>,
    /// Whether the thread was found gone (logged once).
    gone: Arc<AtomicBool>,
}

impl<W: Work> Clone for Lane<W> {
    fn clone(&self) -> Self {
        Lane {
            queue: self.queue.clone(),
            stats: self.stats.clone(),
            gone: self.gone.clone(),
        }
    }
}

struct Waiting<W: Work> {
    item: W::Item,
    reply: oneshot::Sender<Outcome<W>>,
}

/// What became of an item taken from the queue.
enum Outcome<W: Work> {
    /// Its statement ran (or failed, perhaps after committing).
    Done(Result<W::Answer, DbError>),
    /// Nothing was sent for it: the thread had no connection.
    Undone(W::Item),
}

impl<W: Work> Lane<W> {
    /// Starts the thread; it connects to `url` when it first has work,
    /// waiting at most `connect_timeout` for a connection.
    pub fn start(url: &DatabaseUrl, connect_timeout: Duration) -> Result<Lane<W>, DbError> {
        let (queue, waiting) = mpsc::sync_channel(QUEUE);
        let stats = Arc::new(WriterStats::default());
        let thread = LaneThread::<W> {
            url: url.for_own_thread(connect_timeout),
            open: AtomicBool::new(true),
            conn: None,
            retry_at: None,
            work: std::marker::PhantomData,
        };
        let thread_stats = stats.clone();
        std::thread::Builder::new()
            .name(format!("authd-{}", W::NAME))
            .spawn(move || thread.serve(&waiting, &thread_stats))
            .map_err(|e| DbError::Pool(format!("cannot start the {} thread: {e}", W::NAME)))?;
        Ok(Lane::from_queue(queue, stats))
    }

    fn from_queue(queue: mpsc::SyncSender<Waiting<W>>, stats: Arc<WriterStats>) -> Lane<W> {
        Lane {
            queue,
            stats,
            gone: Arc::default(),
        }
    }

    /// What the thread has done: batches (statements), their sizes and
    /// their time, in the writer's terms.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Queues `item` and waits until the statement holding it has ended.
    /// `Err(item)`: nothing was done for it (the queue was full, the
    /// thread had no connection, or it has gone). An item queued and
    /// dropped unanswered may have been acted on: an error, not handed
    /// back.
    pub async fn send(&self, item: W::Item) -> Result<Result<W::Answer, DbError>, W::Item> {
        let (reply, answer) = oneshot::channel();
        match self.queue.try_send(Waiting { item, reply }) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(unsent)) => return Err(unsent.item),
            Err(mpsc::TrySendError::Disconnected(unsent)) => {
                if !self.gone.swap(true, Ordering::Relaxed) {
                    log::error!(
                        "the {} thread has stopped: its work goes to the pool",
                        W::NAME
                    );
                }
                return Err(unsent.item);
            }
        }
        match answer.await {
            Ok(Outcome::Done(result)) => Ok(result),
            Ok(Outcome::Undone(item)) => Err(item),
            Err(_) => Ok(Err(DbError::Blocking)),
        }
    }
}

/// The thread's state: its connection (with when it last ran a batch).
struct LaneThread<W: Work> {
    url: DatabaseUrl,
    /// Whether its own connection last answered (the pool's outage flag
    /// stays the pool's: this connection may fail alone).
    open: AtomicBool,
    conn: Option<(AnyConnection, Instant)>,
    /// No connection attempt before this, after a failed one.
    retry_at: Option<Instant>,
    work: std::marker::PhantomData<fn() -> W>,
}

impl<W: Work> LaneThread<W> {
    /// Takes what is queued, one statement at a time, until every handle
    /// is gone.
    fn serve(mut self, waiting: &mpsc::Receiver<Waiting<W>>, stats: &WriterStats) {
        while let Some(mut batch) = next_batch(waiting) {
            // A caller that hung up before its item started: work nobody
            // will hear of is better not done (a refresh client's retry
            // would count as reuse).
            batch.retain(|w| !w.reply.is_closed());
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
            let started = Instant::now();
            let results = panic::catch_unwind(AssertUnwindSafe(|| match self.conn.as_mut() {
                Some((conn, _)) => W::run(conn, items),
                None => failed_all::<W>(n, DbError::Blocking),
            }))
            .unwrap_or_else(|_| {
                let why = DbError::Pool(format!("a {} batch panicked", W::NAME));
                failed_all::<W>(n, why)
            });
            let ok = results.iter().all(Result::is_ok);
            stats.record(n, started.elapsed(), ok);
            if !ok {
                // It may have died under the statement: a new one next time.
                self.conn = None;
            }
            for (reply, result) in replies.into_iter().zip(results) {
                // The caller may have gone: nobody to tell.
                let _ = reply.send(Outcome::Done(result));
            }
        }
    }

    /// The thread's connection, checked as the pool checks one it lends,
    /// or a new one; `None` when none opens (logged once until one does),
    /// and for [`RECONNECT_PAUSE`] after.
    fn connection(&mut self) -> Option<&mut AnyConnection> {
        let kept = self.conn.take().and_then(|(mut conn, used)| {
            let open = still_open(&mut conn, used.elapsed(), &self.open).is_ok();
            open.then_some(conn)
        });
        let conn = match kept {
            Some(conn) => conn,
            None => {
                if self.retry_at.is_some_and(|at| Instant::now() < at) {
                    return None;
                }
                let opened = connect(&self.url).and_then(|mut conn| {
                    W::prepare(&mut conn)?;
                    Ok(conn)
                });
                match opened {
                    Ok(conn) => {
                        if !self.open.swap(true, Ordering::SeqCst) {
                            log::info!("the {} thread has a connection again", W::NAME);
                        }
                        self.retry_at = None;
                        conn
                    }
                    Err(e) => {
                        if self.open.swap(false, Ordering::SeqCst) {
                            log::warn!(
                                "the {} thread cannot connect ({}): its work goes to the pool",
                                W::NAME,
                                crate::error_chain::chain(&e)
                            );
                        }
                        self.retry_at = Some(Instant::now() + RECONNECT_PAUSE);
                        return None;
                    }
                }
            }
        };
        Some(&mut self.conn.insert((conn, Instant::now())).0)
    }
}

/// Everything queued, up to [`MAX_BATCH`], waiting for the first; `None`
/// when every handle is gone.
fn next_batch<T>(queue: &mpsc::Receiver<T>) -> Option<Vec<T>> {
    let mut batch = vec![queue.recv().ok()?];
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// The same failure for each of a batch's `n` items, logged once.
pub(super) fn failed_all<W: Work>(n: usize, why: DbError) -> Vec<Result<W::Answer, DbError>> {
    log::error!(
        "a statement of {n} {}(s) failed: {}",
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
        fn prepare(_: &mut AnyConnection) -> Result<(), DbError> {
            Ok(())
        }
        fn run(_: &mut AnyConnection, items: Vec<u32>) -> Vec<Result<u32, DbError>> {
            items.into_iter().map(Ok).collect()
        }
    }

    #[actix_web::test]
    async fn with_the_thread_gone_an_item_comes_back_undone() {
        let (queue, waiting) = mpsc::sync_channel(1);
        drop(waiting);
        let lane = Lane::<Echo>::from_queue(queue, Arc::default());
        for _ in 0..2 {
            assert!(matches!(lane.send(7).await, Err(7)));
        }
        assert!(lane.gone.load(Ordering::Relaxed));
    }

    #[actix_web::test]
    async fn with_the_queue_full_an_item_comes_back_undone() {
        let (queue, _waiting) = mpsc::sync_channel(1);
        let lane = Lane::<Echo>::from_queue(queue, Arc::default());
        let (reply, _answer) = oneshot::channel();
        assert!(lane.queue.try_send(Waiting { item: 1, reply }).is_ok());
        assert!(matches!(lane.send(2).await, Err(2)));
        assert!(!lane.gone.load(Ordering::Relaxed));
    }

    #[actix_web::test]
    async fn a_thread_without_a_connection_hands_its_work_back() {
        let url = DatabaseUrl::parse("postgres://authd@127.0.0.1:1/none").unwrap();
        let lane = Lane::<Echo>::start(&url, Duration::from_secs(2)).unwrap();
        // Refused at once: handed back, and again within the pause.
        for item in [1, 2] {
            assert!(matches!(lane.send(item).await, Err(i) if i == item));
        }
    }
}
