//! PostgreSQL's refresh rotations, combined: concurrent requests queue
//! their rotation on a [`Lane`], whose thread takes everything queued into
//! one statement ([`refresh_batch::rotate_many`]), so that under load many
//! rotations share one statement and one commit.
//!
//! One thread, not several: two took turns with batches of three
//! rotations instead of nine, and PostgreSQL spent more CPU on each
//! (`benches/load/run.sh`: 3,600–4,050 refreshes/s against 4,300–4,870
//! with one). Its connection is set to always use the statement's generic
//! plan ([`refresh_batch::dedicate`]).

use std::time::Duration;

use super::lane::{self, Lane, Work};
use super::refresh_batch::{self, Rotation};
use super::refresh_tokens::Claim;
use super::writer::WriterStats;
use super::{AnyConnection, DatabaseUrl, DbError};

/// The queue's sending end; cheap to clone.
#[derive(Clone)]
pub struct Rotator {
    lane: Lane<Rotations>,
}

/// A rotation's answer: its claim, or (when its token was locked
/// elsewhere and nothing was done) the rotation itself, given back.
type Answer = Result<Result<Claim, Box<Rotation>>, DbError>;

impl Rotator {
    /// Starts the rotation thread; it connects to `url` when it first has
    /// work, waiting at most `connect_timeout`.
    pub fn start(url: &DatabaseUrl, connect_timeout: Duration) -> Result<Rotator, DbError> {
        Ok(Rotator {
            lane: Lane::start(url, connect_timeout)?,
        })
    }

    /// What the rotation thread has done: batches (statements), their
    /// sizes and their time, in the writer's terms.
    pub fn stats(&self) -> &WriterStats {
        self.lane.stats()
    }

    /// Queues `rotation` and waits until the statement holding it has
    /// committed (or failed). `Ok(Err(rotation))`: its token was locked
    /// elsewhere, and nothing was done ([`refresh_batch::rotate_many`]);
    /// the rotation comes back for the caller to make alone. Should the
    /// thread have ended, it comes back the same way.
    pub async fn rotate(&self, rotation: Rotation) -> Answer {
        self.lane
            .send(rotation)
            .await
            .unwrap_or_else(|unsent| Ok(Err(Box::new(unsent))))
    }
}

/// The rotation thread's work.
struct Rotations;

impl Work for Rotations {
    type Item = Rotation;
    type Answer = Result<Claim, Box<Rotation>>;
    const NAME: &'static str = "rotate";

    fn prepare(conn: &mut AnyConnection) -> Result<(), DbError> {
        refresh_batch::dedicate(conn).map_err(DbError::Query)
    }

    /// One batch, one answer per rotation. If its statement fails for
    /// something other than the database being unavailable (a deadlock,
    /// say), nothing of it was committed, and every rotation is handed
    /// back to be made alone on the pool: one rotation's failure is then
    /// its own, and a retry that waits for a lock does not hold up this
    /// thread.
    fn run(
        conn: &mut AnyConnection,
        rotations: Vec<Rotation>,
    ) -> Vec<Result<Self::Answer, DbError>> {
        let failed = match refresh_batch::rotate_many(conn, &rotations) {
            Ok(claims) => {
                return claims
                    .into_iter()
                    .zip(rotations)
                    .map(|(claim, r)| Ok(claim.ok_or_else(|| Box::new(r))))
                    .collect()
            }
            Err(e) => DbError::Query(e),
        };
        // A deadlock is a race lost, not an outage: made alone, each
        // rotation gets its own try (and one more if it loses again).
        let deadlock = matches!(&failed, DbError::Query(e) if super::is_deadlock(e));
        if failed.is_unavailable() && !deadlock {
            return lane::failed_all::<Self>(rotations.len(), failed);
        }
        if rotations.len() == 1 && !deadlock {
            return vec![Err(failed)];
        }
        log::warn!(
            "a statement of {} refresh rotations failed, each is made alone: {}",
            rotations.len(),
            crate::error_chain::chain(&failed)
        );
        rotations
            .into_iter()
            .map(|r| Ok(Err(Box::new(r))))
            .collect()
    }
}
