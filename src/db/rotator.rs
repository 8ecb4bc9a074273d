//! PostgreSQL's refresh rotations, combined: concurrent requests queue
//! their rotation here, and a few lanes each take everything queued into
//! one statement ([`refresh_batch::rotate_many`]), so that under load many
//! rotations share one statement and one commit. An idle server answers a
//! lone rotation at once: a lane starts when one is free, never on a timer.
//!
//! Each lane is a task of its own (not the future of the request that
//! started it, which is dropped if its client hangs up) and works on a
//! connection of the pool reserved for the lanes, so that a lane never
//! waits behind the requests queued for the pool's other connections.
//! Every caller hears its answer only after the statement holding its
//! rotation has committed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::oneshot;

use super::refresh_batch::{self, Rotation};
use super::refresh_tokens::{self, Claim};
use super::writer::WriterStats;
use super::{AnyConnection, Db, DbError};

/// Lanes running at once: with two, one lane's statement runs while the
/// other waits for its commit's WAL flush. Each holds one connection.
pub const LANES: usize = 2;

/// The most rotations in one statement: enough to share one statement
/// among all the connections of a loaded server, few enough that the
/// statement stays short (about 35 µs of the backend's time a rotation).
const MAX_BATCH: usize = 128;

/// The queue and its lanes; cheap to clone.
#[derive(Clone, Default)]
pub struct Rotator {
    queue: Arc<Mutex<Queue>>,
    stats: Arc<WriterStats>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Waiting>,
    lanes: usize,
}

struct Waiting {
    rotation: Rotation,
    reply: oneshot::Sender<Result<Claim, DbError>>,
}

impl Rotator {
    /// What the lanes have done: batches (statements), their sizes and
    /// their time, in the writer's terms.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue is consistent between statements even if a holder
        // panicked: nothing in it is half-written.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `rotation` and waits until the statement holding it has
    /// committed (or failed).
    pub async fn rotate(&self, db: &Db, rotation: Rotation) -> Result<Claim, DbError> {
        let (reply, answer) = oneshot::channel();
        let start_lane = {
            let mut queue = self.lock();
            queue.waiting.push_back(Waiting { rotation, reply });
            let free = queue.lanes < LANES;
            if free {
                queue.lanes += 1;
            }
            free
        };
        if start_lane {
            actix_web::rt::spawn(self.clone().lane(db.clone()));
        }
        answer.await.map_err(|_| DbError::Blocking)?
    }

    /// Takes what is queued, one statement at a time, until the queue is
    /// empty.
    async fn lane(self, db: Db) {
        loop {
            let batch: Vec<Waiting> = {
                let mut queue = self.lock();
                // A caller that hung up before its rotation started: a
                // rotation nobody will hear of is better not made (the
                // client's retry would count as reuse).
                queue.waiting.retain(|w| !w.reply.is_closed());
                if queue.waiting.is_empty() {
                    queue.lanes -= 1;
                    return;
                }
                let n = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..n).collect()
            };
            let (rotations, replies): (Vec<_>, Vec<_>) =
                batch.into_iter().map(|w| (w.rotation, w.reply)).unzip();
            let size = rotations.len();
            let started = Instant::now();
            let results = db.run_reserved(move |conn| Ok(run(conn, &rotations))).await;
            let ok = matches!(&results, Ok(all) if all.iter().all(Result::is_ok));
            self.stats.record(size, started.elapsed(), ok);
            match results {
                Ok(results) => {
                    for (reply, result) in replies.into_iter().zip(results) {
                        // The caller may have gone: nobody to tell.
                        let _ = reply.send(result);
                    }
                }
                // No connection, or the blocking pool is gone.
                Err(e) => {
                    let failed = Arc::new(e);
                    for reply in replies {
                        let _ = reply.send(Err(DbError::Batch(failed.clone())));
                    }
                }
            }
        }
    }
}

/// One batch, one answer per rotation. If its statement fails for
/// something other than the database being unavailable (a deadlock with a
/// revocation, say), each rotation is retried alone, so that one
/// rotation's failure is its own.
fn run(conn: &mut AnyConnection, rotations: &[Rotation]) -> Vec<Result<Claim, DbError>> {
    let failed = match refresh_batch::rotate_many(conn, rotations) {
        Ok(claims) => return claims.into_iter().map(Ok).collect(),
        Err(e) => DbError::Query(e),
    };
    if rotations.len() > 1 && !failed.is_unavailable() {
        return rotations
            .iter()
            .map(|r| {
                refresh_tokens::rotate(conn, &r.hash, &r.successor, r.now).map_err(DbError::Query)
            })
            .collect();
    }
    log::error!(
        "a statement of {} refresh rotation(s) failed: {}",
        rotations.len(),
        crate::error_chain::chain(&failed)
    );
    let failed = Arc::new(failed);
    rotations
        .iter()
        .map(|_| Err(DbError::Batch(failed.clone())))
        .collect()
}
