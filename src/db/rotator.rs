//! PostgreSQL's refresh rotations, combined: concurrent requests queue
//! their rotation here, and one thread takes everything queued into one
//! statement ([`refresh_batch::rotate_many`]), so that under load many
//! rotations share one statement and one commit. An idle server answers a
//! lone rotation at once: the thread takes what is there as soon as it is
//! free, never waiting to fill a batch; the busier the server, the larger
//! the batches.
//!
//! One thread, not several: two took turns with batches of three
//! rotations instead of nine, and PostgreSQL spent more CPU on each
//! (`benches/load/run.sh`: 3,600–4,050 refreshes/s against 4,300–4,870
//! with one). The thread is its own, like SQLite's writer: it outlives any
//! request (a client hanging up never strands the rotations queued behind
//! its own) and does its blocking work directly, with no hop through the
//! blocking pool. Its connection is its own too, outside the pool, so it
//! never waits behind requests queued for the pool, and set to always use
//! the statement's generic plan ([`refresh_batch::dedicate`]). Every
//! caller hears its answer only after the statement holding its rotation
//! has committed. The thread ends when the last handle goes.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::refresh_batch::{self, Rotation};
use super::refresh_tokens::Claim;
use super::writer::WriterStats;
use super::{connect, mark_reachable, still_open, AnyConnection, DatabaseUrl, DbError};

/// The most rotations in one statement: enough to share one statement
/// among all the connections of a loaded server, few enough that the
/// statement stays short (about 50 µs of the backend's time a rotation).
const MAX_BATCH: usize = 128;

/// The queue's sending end; cheap to clone.
#[derive(Clone)]
pub struct Rotator {
    queue: mpsc::Sender<Waiting>,
    stats: Arc<WriterStats>,
    /// Whether the thread was found gone (logged once).
    gone: Arc<AtomicBool>,
}

/// A rotation's answer: its claim, or (when its token was locked
/// elsewhere and nothing was done) the rotation itself, given back.
type Answer = Result<Result<Claim, Box<Rotation>>, DbError>;

struct Waiting {
    rotation: Rotation,
    reply: oneshot::Sender<Answer>,
}

impl Rotator {
    /// Starts the rotation thread; it connects to `url` when it first has
    /// work, recording in `reachable` whether the database answered.
    pub fn start(url: &DatabaseUrl, reachable: Arc<AtomicBool>) -> Result<Rotator, DbError> {
        let (queue, waiting) = mpsc::channel();
        let stats = Arc::new(WriterStats::default());
        let thread = RotationThread {
            url: url.clone(),
            reachable,
            conn: None,
        };
        let thread_stats = stats.clone();
        std::thread::Builder::new()
            .name("authd-rotate".into())
            .spawn(move || thread.serve(&waiting, &thread_stats))
            .map_err(|e| DbError::Pool(format!("cannot start the rotation thread: {e}")))?;
        Ok(Rotator {
            queue,
            stats,
            gone: Arc::default(),
        })
    }

    /// What the rotation thread has done: batches (statements), their
    /// sizes and their time, in the writer's terms.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Queues `rotation` and waits until the statement holding it has
    /// committed (or failed). `Ok(Err(rotation))`: its token was locked
    /// elsewhere, and nothing was done ([`refresh_batch::rotate_many`]);
    /// the rotation comes back for the caller to make alone.
    ///
    /// Should the thread have ended (it should not, while a handle is
    /// left), the rotation comes back the same way: nothing was done.
    pub async fn rotate(&self, rotation: Rotation) -> Answer {
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::SendError(unsent)) = self.queue.send(Waiting { rotation, reply }) {
            if !self.gone.swap(true, Ordering::Relaxed) {
                log::error!("the rotation thread has stopped: rotations are made one at a time");
            }
            return Ok(Err(Box::new(unsent.rotation)));
        }
        // Dropped unanswered, its rotation may have committed: not to be
        // made again.
        answer.await.map_err(|_| DbError::Blocking)?
    }
}

/// The rotation thread's state: its connection (with when it last ran a
/// batch).
struct RotationThread {
    url: DatabaseUrl,
    reachable: Arc<AtomicBool>,
    conn: Option<(AnyConnection, Instant)>,
}

impl RotationThread {
    /// Takes what is queued, one statement at a time, until every handle
    /// is gone.
    fn serve(mut self, waiting: &mpsc::Receiver<Waiting>, stats: &WriterStats) {
        while let Some(mut batch) = next_batch(waiting) {
            // A caller that hung up before its rotation started: a
            // rotation nobody will hear of is better not made (the
            // client's retry would count as reuse).
            batch.retain(|w| !w.reply.is_closed());
            if batch.is_empty() {
                continue;
            }
            let (rotations, replies): (Vec<_>, Vec<_>) =
                batch.into_iter().map(|w| (w.rotation, w.reply)).unzip();
            let started = Instant::now();
            // A panic (in the driver, say) fails this batch, not the thread.
            let results = panic::catch_unwind(AssertUnwindSafe(|| {
                self.connection().map(|conn| run(conn, &rotations))
            }))
            .unwrap_or_else(|_| Err(DbError::Pool("a refresh rotation panicked".into())))
            .unwrap_or_else(|e| failed_all(&rotations, e));
            let ok = results.iter().all(Result::is_ok);
            stats.record(rotations.len(), started.elapsed(), ok);
            if !ok {
                // It may have died under the statement: a new one next time.
                self.conn = None;
            }
            for ((reply, result), rotation) in replies.into_iter().zip(results).zip(rotations) {
                // The caller may have gone: nobody to tell.
                let _ = reply.send(result.map(|claim| claim.ok_or_else(|| Box::new(rotation))));
            }
        }
    }

    /// The thread's connection, checked as the pool checks one it lends
    /// ([`super::Manager`]), or a new one.
    fn connection(&mut self) -> Result<&mut AnyConnection, DbError> {
        let kept = self.conn.take().and_then(|(mut conn, used)| {
            let open = still_open(&mut conn, used.elapsed(), &self.reachable).is_ok();
            open.then_some(conn)
        });
        let conn = match kept {
            Some(conn) => conn,
            None => {
                let opened = connect(&self.url).and_then(|mut conn| {
                    refresh_batch::dedicate(&mut conn)?;
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
fn next_batch(queue: &mpsc::Receiver<Waiting>) -> Option<Vec<Waiting>> {
    let mut batch = vec![queue.recv().ok()?];
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// The same failure for every rotation of a batch, logged once.
fn failed_all(rotations: &[Rotation], why: DbError) -> Vec<Result<Option<Claim>, DbError>> {
    log::error!(
        "a statement of {} refresh rotation(s) failed: {}",
        rotations.len(),
        crate::error_chain::chain(&why)
    );
    let failed = Arc::new(why);
    rotations
        .iter()
        .map(|_| Err(DbError::Batch(failed.clone())))
        .collect()
}

/// One batch, one answer per rotation. If its statement fails for
/// something other than the database being unavailable (a deadlock, say),
/// nothing of it was committed, and every rotation is handed back to be
/// made alone on the pool: one rotation's failure is then its own, and a
/// retry that waits for a lock does not hold up this thread.
fn run(conn: &mut AnyConnection, rotations: &[Rotation]) -> Vec<Result<Option<Claim>, DbError>> {
    let failed = match refresh_batch::rotate_many(conn, rotations) {
        Ok(claims) => return claims.into_iter().map(Ok).collect(),
        Err(e) => DbError::Query(e),
    };
    if failed.is_unavailable() {
        return failed_all(rotations, failed);
    }
    if rotations.len() == 1 {
        return vec![Err(failed)];
    }
    log::warn!(
        "a statement of {} refresh rotations failed, each is made alone: {}",
        rotations.len(),
        crate::error_chain::chain(&failed)
    );
    rotations.iter().map(|_| Ok(None)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::refresh_tokens::RefreshToken;

    #[actix_web::test]
    async fn with_the_thread_gone_a_rotation_comes_back_undone() {
        let (queue, waiting) = mpsc::channel();
        drop(waiting);
        let rotator = Rotator {
            queue,
            stats: Arc::default(),
            gone: Arc::default(),
        };
        let successor = RefreshToken {
            token_hash: "next".into(),
            family_id: "f".into(),
            parent_hash: Some("old".into()),
            user_id: "u".into(),
            client_id: "c".into(),
            scope: String::new(),
            issued_at: 1,
            expires_at: 2,
            used_at: None,
            revoked_at: None,
            generation: 0,
            family_expires_at: 3,
        };
        let rotation = Rotation {
            hash: "old".into(),
            successor,
            now: 1,
        };
        for _ in 0..2 {
            match rotator.rotate(rotation.clone()).await {
                Ok(Err(back)) => assert_eq!(back.hash, "old"),
                other => panic!("not handed back: {other:?}"),
            }
        }
        assert!(rotator.gone.load(Ordering::Relaxed));
    }
}
