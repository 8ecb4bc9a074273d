//! Hands out status-list indices to the access tokens this instance
//! issues: it reserves a block of indices with one database write
//! ([`status_blocks::reserve`]) and then hands them out from memory, so
//! that issuing a token costs a lock and an increment, never a write.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::db::status_blocks::{self, Reserved, BLOCK_SIZE};
use crate::db::{Db, DbError};

/// How long an instance hands out the indices of one block: its tokens
/// then expire at most this long after a token issued when it was
/// reserved, and the block is free again soon after.
pub const HAND_OUT_SECS: i64 = 60;

/// The block in use and the next index in it.
#[derive(Debug, Clone, Copy)]
struct Current {
    block: Reserved,
    next: i64,
}

/// This instance's indices; cheap to clone (clones share the block).
#[derive(Clone, Default)]
pub struct StatusIndices {
    current: Arc<Mutex<Option<Current>>>,
    /// One reservation at a time: requests that find the block used up
    /// wait for the one that reserves the next rather than each reserving.
    reserving: Arc<tokio::sync::Mutex<()>>,
    /// Blocks reserved since start (for tests and the curious).
    reserved: Arc<AtomicU64>,
}

impl StatusIndices {
    /// An instance with no block yet.
    pub fn new() -> StatusIndices {
        StatusIndices::default()
    }

    /// `(list_id, idx)` for a token issued at `now` that expires at `exp`:
    /// from the current block while it has indices and outlives `exp`,
    /// else from a new block reserved until `now + HAND_OUT_SECS + ttl`.
    pub async fn next(&self, db: &Db, now: i64, exp: i64) -> Result<(i64, i64), DbError> {
        if let Some(found) = self.take(exp) {
            return Ok(found);
        }
        let _turn = self.reserving.lock().await;
        // Another request may have reserved one while this one waited.
        if let Some(found) = self.take(exp) {
            return Ok(found);
        }
        let until = exp + HAND_OUT_SECS;
        let block = db
            .write(move |conn| status_blocks::reserve(conn, now, until).map_err(DbError::Query))
            .await?
            .ok_or_else(|| DbError::Pool("no free status-list block could be reserved".into()))?;
        self.reserved.fetch_add(1, Ordering::Relaxed);
        let mut current = self.lock();
        *current = Some(Current {
            block,
            next: block.first_idx() + 1,
        });
        Ok((block.list_id, block.first_idx()))
    }

    /// The next index of the current block, if it has one for a token
    /// that expires at `exp`.
    fn take(&self, exp: i64) -> Option<(i64, i64)> {
        let mut current = self.lock();
        let c = current.as_mut()?;
        if c.next >= c.block.first_idx() + BLOCK_SIZE || exp > c.block.expires_at {
            return None;
        }
        let idx = c.next;
        c.next += 1;
        Some((c.block.list_id, idx))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Current>> {
        // The guarded value is two integers, whole after any panic.
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many blocks this instance has reserved since it started.
    pub fn blocks_reserved(&self) -> u64 {
        self.reserved.load(Ordering::Relaxed)
    }
}
