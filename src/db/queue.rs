//! The engine's queue ([`super::engine`]): bounded, with many senders and
//! many takers. A sent item wakes one idle taker, which takes everything
//! queued up to its batch size. (A channel's receiver behind a mutex, the
//! usual way to share one, wakes two threads per item: the taker, and the
//! next thread waiting for the mutex, only for it to wait again.)

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

struct Queue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    capacity: usize,
}

struct State<T> {
    items: VecDeque<T>,
    senders: usize,
    takers: usize,
}

impl<T> Queue<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while holding it; should it, the state is whole.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why an item was not queued; the item comes back.
pub(super) enum Refused<T> {
    /// The queue holds its capacity.
    Full(T),
    /// Every taker has gone.
    Closed(T),
}

/// A sending end; the queue closes when the last one goes.
pub(super) struct Sender<T>(Arc<Queue<T>>);

/// A taking end, one per thread.
pub(super) struct Taker<T>(Arc<Queue<T>>);

/// A queue of at most `capacity` items, with one sender and no taker yet.
pub(super) fn bounded<T>(capacity: usize) -> Sender<T> {
    Sender(Arc::new(Queue {
        state: Mutex::new(State {
            items: VecDeque::new(),
            senders: 1,
            takers: 0,
        }),
        ready: Condvar::new(),
        capacity,
    }))
}

impl<T> Sender<T> {
    /// Queues `item` and wakes one waiting taker.
    pub fn push(&self, item: T) -> Result<(), Refused<T>> {
        let mut state = self.0.lock();
        if state.takers == 0 {
            return Err(Refused::Closed(item));
        }
        if state.items.len() >= self.0.capacity {
            return Err(Refused::Full(item));
        }
        state.items.push_back(item);
        drop(state);
        self.0.ready.notify_one();
        Ok(())
    }

    /// A new taking end.
    pub fn taker(&self) -> Taker<T> {
        self.0.lock().takers += 1;
        Taker(self.0.clone())
    }

    /// Items queued now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.lock().items.len()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        Sender(self.0.clone())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.senders -= 1;
        if state.senders == 0 {
            drop(state);
            self.0.ready.notify_all();
        }
    }
}

impl<T> Taker<T> {
    /// Everything queued, up to `max`, waiting for the first; `None` once
    /// every sender has gone and nothing is left.
    pub fn take(&self, max: usize) -> Option<Vec<T>> {
        let mut state = self.0.lock();
        loop {
            if !state.items.is_empty() {
                let n = state.items.len().min(max.max(1));
                let batch: Vec<T> = state.items.drain(..n).collect();
                let more = !state.items.is_empty();
                drop(state);
                // What this batch left is for another taker.
                if more {
                    self.0.ready.notify_one();
                }
                return Some(batch);
            }
            if state.senders == 0 {
                return None;
            }
            state = self
                .0
                .ready
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

impl<T> Drop for Taker<T> {
    fn drop(&mut self) {
        self.0.lock().takers -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taker_takes_up_to_its_batch_and_ends_with_the_senders() {
        let sender = bounded(8);
        let taker = sender.taker();
        for i in 0..5 {
            assert!(sender.push(i).is_ok());
        }
        assert_eq!(taker.take(3), Some(vec![0, 1, 2]));
        assert_eq!(taker.take(3), Some(vec![3, 4]));
        drop(sender);
        assert_eq!(taker.take(3), None);
    }

    #[test]
    fn a_full_queue_and_a_queue_without_takers_refuse() {
        let sender = bounded(1);
        assert!(matches!(sender.push(1), Err(Refused::Closed(1))));
        let taker = sender.taker();
        assert!(sender.push(1).is_ok());
        assert!(matches!(sender.push(2), Err(Refused::Full(2))));
        drop(taker);
        assert!(matches!(sender.push(3), Err(Refused::Closed(3))));
    }

    #[test]
    fn every_waiting_taker_is_served() {
        let sender = bounded(64);
        let takers: Vec<_> = (0..4)
            .map(|_| {
                let taker = sender.taker();
                std::thread::spawn(move || {
                    let mut got = 0;
                    while let Some(batch) = taker.take(1) {
                        got += batch.len();
                    }
                    got
                })
            })
            .collect();
        for i in 0..40 {
            assert!(sender.push(i).is_ok());
        }
        drop(sender);
        let got: usize = takers.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(got, 40);
    }
}
