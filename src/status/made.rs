//! The status lists this instance signed this second: a flood of fetches
//! signs each list at most once a second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::indices::StatusIndices;

/// A list id's signed list and the second it was made.
type Made = HashMap<i64, (i64, Arc<str>)>;

/// This instance's status lists: the indices it hands out, and the lists it
/// signed this second. Cheap to clone.
#[derive(Clone, Default)]
pub struct StatusLists {
    /// The indices this instance hands out.
    pub indices: StatusIndices,
    /// List id → (the second it was made, the signed list).
    made: Arc<Mutex<Made>>,
}

impl StatusLists {
    /// No block reserved, nothing made yet.
    pub fn new() -> StatusLists {
        StatusLists::default()
    }

    fn made(&self) -> std::sync::MutexGuard<'_, Made> {
        // A map of finished entries: whole after any panic.
        self.made.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The list `list_id` made at second `now`, if any.
    pub fn kept(&self, list_id: i64, now: i64) -> Option<Arc<str>> {
        self.made()
            .get(&list_id)
            .filter(|(at, _)| *at == now)
            .map(|(_, jwt)| jwt.clone())
    }

    /// Keeps list `list_id` made at second `now`, and drops older ones.
    pub fn keep(&self, list_id: i64, now: i64, jwt: Arc<str>) {
        let mut made = self.made();
        // Only this second's lists are worth keeping.
        made.retain(|_, (at, _)| *at == now);
        made.insert(list_id, (now, jwt));
    }

    /// Forgets the lists made, so that this instance's next answer shows a
    /// revocation it just stored.
    pub fn forget(&self) {
        self.made().clear();
    }
}
