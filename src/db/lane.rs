//! A thread of its own, on a PostgreSQL connection of its own, that takes
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

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::writer::WriterStats;
use super::{connect, mark_reachable, still_open, AnyConnection, DatabaseUrl, DbError};

/// The most items in one statement: enough to share one statement among
/// all the connections of a loaded server, few enough that it stays short.
const MAX_BATCH: usize = 128;

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
    fn run(conn: &mut AnyConnection, items: &[Self::Item]) -> Vec<Result<Self::Answer, DbError>>;
}

/// The queue's sending end; cheap to clone.
pub(super) struct Lane<W: Work> {
    queue: mpsc::Sender<Waiting<W>>,
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
    reply: oneshot::Sender<Result<W::Answer, DbError>>,
}

impl<W: Work> Lane<W> {
    /// Starts the thread; it connects to `url` when it first has work,
    /// recording in `reachable` whether the database answered.
    pub fn start(url: &DatabaseUrl, reachable: Arc<AtomicBool>) -> Result<Lane<W>, DbError> {
        let (queue, waiting) = mpsc::channel();
        let stats = Arc::new(WriterStats::default());
        let thread = LaneThread::<W> {
            url: url.clone(),
            reachable,
            conn: None,
            work: std::marker::PhantomData,
        };
        let thread_stats = stats.clone();
        std::thread::Builder::new()
            .name(format!("authd-{}", W::NAME))
            .spawn(move || thread.serve(&waiting, &thread_stats))
            .map_err(|e| DbError::Pool(format!("cannot start the {} thread: {e}", W::NAME)))?;
        Ok(Lane::from_queue(queue, stats))
    }

    fn from_queue(queue: mpsc::Sender<Waiting<W>>, stats: Arc<WriterStats>) -> Lane<W> {
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
    /// `Err(item)`: the thread has gone (it should not, while a handle is
    /// left), and nothing was done. An item queued but dropped unanswered
    /// may have been acted on, so it is an error, not handed back.
    pub async fn send(&self, item: W::Item) -> Result<Result<W::Answer, DbError>, W::Item> {
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::SendError(unsent)) = self.queue.send(Waiting { item, reply }) {
            if !self.gone.swap(true, Ordering::Relaxed) {
                log::error!(
                    "the {} thread has stopped: its work goes to the pool",
                    W::NAME
                );
            }
            return Err(unsent.item);
        }
        Ok(answer.await.unwrap_or(Err(DbError::Blocking)))
    }
}

/// The thread's state: its connection (with when it last ran a batch).
struct LaneThread<W: Work> {
    url: DatabaseUrl,
    reachable: Arc<AtomicBool>,
    conn: Option<(AnyConnection, Instant)>,
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
            let (items, replies): (Vec<_>, Vec<_>) =
                batch.into_iter().map(|w| (w.item, w.reply)).unzip();
            let started = Instant::now();
            // A panic (in the driver, say) fails this batch, not the thread.
            let results = panic::catch_unwind(AssertUnwindSafe(|| {
                self.connection().map(|conn| W::run(conn, &items))
            }))
            .unwrap_or_else(|_| Err(DbError::Pool(format!("a {} batch panicked", W::NAME))))
            .unwrap_or_else(|e| failed_all::<W>(items.len(), e));
            let ok = results.iter().all(Result::is_ok);
            stats.record(items.len(), started.elapsed(), ok);
            if !ok {
                self.conn = None;
            }
            for (reply, result) in replies.into_iter().zip(results) {
                // The caller may have gone: nobody to tell.
                let _ = reply.send(result);
            }
        }
    }

    /// The thread's connection, checked as the pool checks one it lends,
    /// or a new one.
    fn connection(&mut self) -> Result<&mut AnyConnection, DbError> {
        let kept = self.conn.take().and_then(|(mut conn, used)| {
            let open = still_open(&mut conn, used.elapsed(), &self.reachable).is_ok();
            open.then_some(conn)
        });
        let conn = match kept {
            Some(conn) => conn,
            None => {
                let opened = connect(&self.url).and_then(|mut conn| {
                    W::prepare(&mut conn)?;
                    Ok(conn)
                });
                mark_reachable(&self.reachable, opened.is_ok());
                opened?
            }
        };
        Ok(&mut self.conn.insert((conn, Instant::now())).0)
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
        fn run(_: &mut AnyConnection, items: &[u32]) -> Vec<Result<u32, DbError>> {
            items.iter().map(|i| Ok(*i)).collect()
        }
    }

    #[actix_web::test]
    async fn with_the_thread_gone_an_item_comes_back_undone() {
        let (queue, waiting) = mpsc::channel();
        drop(waiting);
        let lane = Lane::<Echo>::from_queue(queue, Arc::default());
        for _ in 0..2 {
            assert!(matches!(lane.send(7).await, Err(7)));
        }
        assert!(lane.gone.load(Ordering::Relaxed));
    }
}
