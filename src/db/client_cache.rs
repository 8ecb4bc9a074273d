//! A short-lived cache of `clients` rows, so that a grant which needs
//! nothing else from the database (client_credentials) authenticates its
//! client without a trip to the pool, and introspection and revocation
//! without one query.
//!
//! Off unless `AUTHD_CLIENT_CACHE_TTL` is set. Its staleness bound: a
//! change made through this server (the console) takes effect at once; one
//! made by another process (the CLI, another instance) takes effect here
//! within the TTL. Until then an old secret keeps working and a removed
//! client can still get tokens; a new secret works at once, because a
//! secret that does not match the cached record is checked against the
//! database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::db::clients::Client;
use crate::secret::Secret;

/// More clients than this and the cache drops its expired records, or
/// starts over if none has expired: it holds only clients that
/// authenticated, so only registered ones fill it.
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    client: Client,
    until: Instant,
}

/// The cache, cheap to clone; a TTL of zero turns it off.
#[derive(Clone)]
pub struct ClientCache {
    ttl: Duration,
    entries: Arc<RwLock<HashMap<String, Entry>>>,
    /// Bumped by every [`ClientCache::forget`]: a record read before a
    /// change must not be put back after it.
    epoch: Arc<AtomicU64>,
}

/// When a lookup began, for [`ClientCache::put`]; equal epochs mean no
/// change in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch(u64);

impl ClientCache {
    /// A cache keeping records for `ttl` (zero: keeps nothing).
    pub fn new(ttl: Duration) -> ClientCache {
        ClientCache {
            ttl,
            entries: Arc::default(),
            epoch: Arc::default(),
        }
    }

    /// Whether it keeps anything.
    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The cached record of `client_id`, if it is fresh and `secret` is
    /// the one it holds the hash of (a public client: no secret).
    pub fn hit(&self, client_id: &str, secret: Option<&Secret>) -> Option<Client> {
        if !self.enabled() {
            return None;
        }
        let entries = self.entries.read().ok()?;
        let entry = entries.get(client_id)?;
        if entry.until <= Instant::now() {
            return None;
        }
        let matches = match (&entry.client.secret_hash, secret) {
            (Some(hash), Some(given)) => given.matches_hash(hash),
            (None, None) => true,
            _ => false,
        };
        matches.then(|| entry.client.clone())
    }

    /// Call before reading a client from the database.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::SeqCst))
    }

    /// Keeps `client`, read from the database after `read_at`, unless a
    /// change was made since.
    pub fn put(&self, client: &Client, read_at: Epoch) {
        if !self.enabled() {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        // Checked under the lock that `forget` takes too.
        if self.epoch.load(Ordering::SeqCst) != read_at.0 {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            let now = Instant::now();
            entries.retain(|_, e| e.until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            client.client_id.clone(),
            Entry {
                client: client.clone(),
                until: Instant::now() + self.ttl,
            },
        );
    }

    /// Drops `client_id`'s record: its secret, grants or existence just
    /// changed through this server.
    pub fn forget(&self, client_id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            self.epoch.fetch_add(1, Ordering::SeqCst);
            entries.remove(client_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: &str, secret: Option<&str>) -> Client {
        Client {
            client_id: id.into(),
            secret_hash: secret.map(|s| Secret::new(s).hash()),
            name: id.into(),
            grants: "client_credentials".into(),
            scopes: "read".into(),
            redirect_uris: String::new(),
            audience: None,
            owner_id: None,
            created_at: 0,
            updated_at: 0,
            introspects: String::new(),
            owner_generation: None,
            id_token_alg: None,
            first_party: false,
            post_logout_redirect_uris: String::new(),
            backchannel_logout_uri: None,
        }
    }

    #[test]
    fn a_hit_needs_the_secret_of_the_record() {
        let cache = ClientCache::new(Duration::from_secs(60));
        cache.put(&client("app", Some("s1")), cache.epoch());
        assert!(cache.hit("app", Some(&Secret::new("s1"))).is_some());
        assert!(cache.hit("app", Some(&Secret::new("s2"))).is_none());
        assert!(cache.hit("app", None).is_none());
        assert!(cache.hit("other", Some(&Secret::new("s1"))).is_none());
    }

    #[test]
    fn records_expire_and_a_zero_ttl_keeps_nothing() {
        let cache = ClientCache::new(Duration::from_millis(1));
        cache.put(&client("app", Some("s")), cache.epoch());
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.hit("app", Some(&Secret::new("s"))).is_none());
        let off = ClientCache::new(Duration::ZERO);
        off.put(&client("app", Some("s")), off.epoch());
        assert!(off.hit("app", Some(&Secret::new("s"))).is_none());
    }

    #[test]
    fn a_record_read_before_a_change_is_not_kept() {
        let cache = ClientCache::new(Duration::from_secs(60));
        let before = cache.epoch();
        cache.forget("app");
        cache.put(&client("app", Some("old")), before);
        assert!(cache.hit("app", Some(&Secret::new("old"))).is_none());
        cache.put(&client("app", Some("new")), cache.epoch());
        cache.forget("app");
        assert!(cache.hit("app", Some(&Secret::new("new"))).is_none());
    }

    #[test]
    fn a_full_cache_drops_expired_records_first() {
        let cache = ClientCache::new(Duration::from_secs(60));
        for i in 0..MAX_ENTRIES - 1 {
            cache.put(&client(&format!("c{i}"), Some("s")), cache.epoch());
        }
        // One record already expired: the first to go when the cache fills.
        if let Ok(mut entries) = cache.entries.write() {
            let stale = Entry {
                client: client("stale", Some("s")),
                until: Instant::now(),
            };
            entries.insert("stale".into(), stale);
        }
        cache.put(&client("new", Some("s")), cache.epoch());
        let s = Secret::new("s");
        assert!(cache.hit("new", Some(&s)).is_some());
        assert!(cache.hit("c0", Some(&s)).is_some(), "live records stay");
        assert!(cache
            .entries
            .read()
            .map(|e| !e.contains_key("stale"))
            .unwrap_or(false));
    }
}
