//! The per-username lock arithmetic (INTERFACE.md "Brute-force lockout"):
//! after `max_failures` consecutive failures the username is locked for
//! `base` seconds; a failure right after a lock locks again for twice as
//! long, up to an hour; a success resets everything.

use crate::db::login_failures::Failures;

/// The longest lock, and how long after a lock ends the doubling is
/// remembered.
pub const MAX_LOCK_SECS: i64 = 3600;

/// The record after a failure that [`Failures::failures`] already counts.
pub fn settle(mut f: Failures, now: i64, max_failures: i64, base: i64) -> Failures {
    if f.locked_until > now {
        // Hashed before the lock landed (a concurrent attempt): the lock
        // stands as it is.
        f.failures = 0;
        return f;
    }
    if f.locks > 0 && now >= f.locked_until + MAX_LOCK_SECS {
        // Long quiet since the last lock: start counting afresh.
        f.locks = 0;
        f.failures = 1;
    }
    if f.locks > 0 || f.failures >= max_failures {
        f.locks += 1;
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
    fn an_hour_of_quiet_after_a_lock_starts_afresh() {
        let mut f = fresh();
        for _ in 0..3 {
            f = fail(f, 100);
        }
        f = fail(f, 160 + MAX_LOCK_SECS);
        assert_eq!((f.locks, f.failures), (0, 1));
    }
}
