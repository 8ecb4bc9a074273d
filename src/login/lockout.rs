//! The lock arithmetic of one (username, address) record
//! (docs/interface.md "Brute-force lockout", keyed by [`super::lock_key`]): after
//! `max_failures` consecutive failures the username is locked for that
//! address for `base` seconds; a failure right after a lock locks again
//! for twice as long. The escalation is capped twice: no lock lasts more
//! than [`MAX_LOCK_SECS`], and a series of locks is forgotten once
//! [`SERIES_MEMORY_SECS`] pass after a lock without a failure (counting
//! starts afresh at zero). A success from the address resets everything.

use crate::db::login_failures::Failures;

/// The longest lock.
pub const MAX_LOCK_SECS: i64 = 3600;

/// How long after a lock ends a failure still continues its series (and
/// re-locks at once, for twice as long); after that, a series starts anew.
pub const SERIES_MEMORY_SECS: i64 = 3600;

/// Locks counted in a series: enough doublings to reach [`MAX_LOCK_SECS`]
/// from any base of one second or more (2^12 > 3600), and no more, so
/// that the count stays bounded however long an address keeps failing.
const MAX_SERIES: i64 = 13;

/// The record after a failure that [`Failures::failures`] already counts.
pub fn settle(mut f: Failures, now: i64, max_failures: i64, base: i64) -> Failures {
    if f.locked_until > now {
        // Hashed before the lock landed (a concurrent attempt): the lock
        // stands as it is.
        f.failures = 0;
        return f;
    }
    if f.locks > 0 && now >= f.locked_until + SERIES_MEMORY_SECS {
        // Long quiet since the last lock: start counting afresh.
        f.locks = 0;
        f.failures = 1;
    }
    if f.locks > 0 || f.failures >= max_failures {
        f.locks = (f.locks + 1).min(MAX_SERIES);
        f.locked_until = now + lock_secs(base, f.locks);
        f.failures = 0;
    }
    f
}

/// The length of the `n`th lock in a row: `base`, doubled per lock, at
/// most an hour.
pub fn lock_secs(base: i64, n: i64) -> i64 {
    let doublings = (n - 1).clamp(0, 12) as u32;
    base.saturating_mul(1 << doublings).min(MAX_LOCK_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Failures {
        Failures {
            failures: 0,
            locks: 0,
            locked_until: 0,
        }
    }

    fn fail(f: Failures, now: i64) -> Failures {
        settle(
            Failures {
                failures: f.failures + 1,
                ..f
            },
            now,
            3,
            60,
        )
    }

    #[test]
    fn locks_after_max_then_doubles_up_to_an_hour() {
        let mut f = fresh();
        f = fail(f, 100);
        f = fail(f, 100);
        assert_eq!(f.locked_until, 0, "two of three");
        f = fail(f, 100);
        assert_eq!((f.locks, f.locked_until), (1, 160));
        // The first failure after the lock locks again, twice as long.
        f = fail(f, 160);
        assert_eq!((f.locks, f.locked_until), (2, 160 + 120));
        f = fail(f, 280);
        assert_eq!(f.locked_until, 280 + 240);
        let mut t = 520;
        for _ in 0..10 {
            f = fail(f, t);
            t = f.locked_until;
        }
        assert_eq!(f.locked_until - lock_start(&f), MAX_LOCK_SECS);
    }

    fn lock_start(f: &Failures) -> i64 {
        f.locked_until - lock_secs(60, f.locks)
    }

    #[test]
    fn a_failure_racing_a_lock_does_not_extend_it() {
        let mut f = fresh();
        for _ in 0..3 {
            f = fail(f, 100);
        }
        let locked = f;
        f = fail(f, 101);
        assert_eq!(
            (f.locks, f.locked_until),
            (locked.locks, locked.locked_until)
        );
    }

    #[test]
    fn an_address_that_keeps_failing_is_locked_an_hour_at_most_each_time() {
        let mut f = fresh();
        let mut t = 100;
        for _ in 0..1000 {
            f = fail(f, t);
            if f.locked_until > t {
                assert!(f.locked_until - t <= MAX_LOCK_SECS);
                t = f.locked_until;
            }
        }
        assert_eq!(f.locks, MAX_SERIES, "the series count is bounded");
        assert_eq!(lock_secs(3600, MAX_SERIES), MAX_LOCK_SECS);
        assert_eq!(lock_secs(1, MAX_SERIES), MAX_LOCK_SECS);
        // One failure at the end of the quiet period starts a new series.
        f = fail(f, t + SERIES_MEMORY_SECS);
        assert_eq!((f.locks, f.failures), (0, 1));
    }

    #[test]
    fn an_hour_of_quiet_after_a_lock_starts_afresh() {
        let mut f = fresh();
        for _ in 0..3 {
            f = fail(f, 100);
        }
        f = fail(f, 160 + SERIES_MEMORY_SECS);
        assert_eq!((f.locks, f.failures), (0, 1));
    }
}
