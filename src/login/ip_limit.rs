//! The per-address limit on failed logins (SECURITY.md): in memory, per
//! instance. An IPv6 client is counted by its /64, which one subscriber
//! usually holds whole.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use super::client_ip::address_bucket as bucket;

/// Above this many tracked addresses, expired windows are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// Failures per address in a fixed window.
#[derive(Clone)]
pub struct IpLimiter {
    max: u32,
    window: i64,
    seen: Arc<Mutex<HashMap<IpAddr, (u32, i64)>>>,
}

impl IpLimiter {
    /// `max` failures per `window` seconds; `max = 0` turns it off.
    pub fn new(max: u32, window: i64) -> IpLimiter {
        IpLimiter {
            max,
            window,
            seen: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<IpAddr, (u32, i64)>) -> T) -> T {
        match self.seen.lock() {
            Ok(mut map) => f(&mut map),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Seconds until `ip` may try again, when it is over the limit.
    pub fn retry_after(&self, ip: Option<IpAddr>, now: i64) -> Option<i64> {
        let ip = bucket(ip.filter(|_| self.max > 0)?);
        self.with(|map| {
            let (count, start) = *map.get(&ip)?;
            let end = start + self.window;
            (count >= self.max && end > now).then_some(end - now)
        })
    }

    /// Counts a failed login from `ip`.
    pub fn record_failure(&self, ip: Option<IpAddr>, now: i64) {
        let Some(ip) = ip.filter(|_| self.max > 0).map(bucket) else {
            return;
        };
        let window = self.window;
        self.with(|map| {
            if map.len() > PRUNE_ABOVE {
                map.retain(|_, (_, start)| *start + window > now);
            }
            let entry = map.entry(ip).or_insert((0, now));
            if entry.1 + window <= now {
                *entry = (0, now);
            }
            entry.0 = entry.0.saturating_add(1);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_within_the_window_only() {
        let l = IpLimiter::new(2, 60);
        let ip = Some("192.0.2.1".parse().unwrap());
        l.record_failure(ip, 100);
        assert_eq!(l.retry_after(ip, 100), None);
        l.record_failure(ip, 110);
        assert_eq!(l.retry_after(ip, 120), Some(40));
        assert_eq!(l.retry_after(Some("192.0.2.2".parse().unwrap()), 120), None);
        assert_eq!(l.retry_after(ip, 160), None);
        l.record_failure(ip, 160);
        assert_eq!(l.retry_after(ip, 160), None, "a new window");
    }

    #[test]
    fn ipv6_counts_by_64_and_zero_turns_it_off() {
        let l = IpLimiter::new(1, 60);
        l.record_failure(Some("2001:db8:1:2::1".parse().unwrap()), 0);
        assert!(l
            .retry_after(Some("2001:db8:1:2::ffff".parse().unwrap()), 1)
            .is_some());
        let off = IpLimiter::new(0, 60);
        let ip = Some("192.0.2.1".parse().unwrap());
        off.record_failure(ip, 0);
        assert_eq!(off.retry_after(ip, 0), None);
    }
}
