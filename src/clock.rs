//! The current time, passed in: the system clock in production, a clock the
//! caller sets in tests, so that expiry, lockout windows and lifetimes are
//! tested by moving time rather than by sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A source of "now" in Unix seconds; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None` reads the system clock; `Some` is a manual clock's time.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The operating system's clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands at `start` until moved with [`Clock::advance`]
    /// or [`Clock::set`]; its clones move with it.
    pub fn manual(start: i64) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(start))),
        }
    }

    /// A manual clock starting at the system's current time.
    pub fn manual_from_now() -> Clock {
        Clock::manual(system_now())
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        match &self.manual {
            Some(t) => t.load(Ordering::SeqCst),
            None => system_now(),
        }
    }

    /// Moves a manual clock forward; does nothing to the system clock.
    pub fn advance(&self, secs: i64) {
        if let Some(t) = &self.manual {
            t.fetch_add(secs, Ordering::SeqCst);
        }
    }

    /// Sets a manual clock; does nothing to the system clock.
    pub fn set(&self, now: i64) {
        if let Some(t) = &self.manual {
            t.store(now, Ordering::SeqCst);
        }
    }
}

fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_follow() {
        let c = Clock::manual(1_000);
        let other = c.clone();
        assert_eq!(c.now(), 1_000);
        c.advance(5);
        assert_eq!(other.now(), 1_005);
        other.set(42);
        assert_eq!(c.now(), 42);
    }

    #[test]
    fn system_clock_ignores_moves() {
        let c = Clock::system();
        let before = c.now();
        c.advance(1_000_000);
        assert!(c.now() - before < 1_000);
    }
}
