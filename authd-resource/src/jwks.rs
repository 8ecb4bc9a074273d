//! The verifier's key cache: the usable keys of the issuer's JWKS, kept
//! until a fetch brings new ones (see `fetch`).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

/// A usable verification key.
pub(crate) struct CachedKey {
    pub key: DecodingKey,
    /// The key's declared algorithm, when the JWK names one.
    pub alg: Option<Algorithm>,
}

/// Keys by `kid`, with their fetch time.
#[derive(Default)]
pub(crate) struct KeyCache {
    pub keys: HashMap<String, CachedKey>,
    pub fetched_at: Option<Instant>,
    /// The issuer's `Cache-Control: max-age` for this set, when it gave one.
    pub max_age: Option<Duration>,
}

/// The cache shared by a verifier's clones and its fetch tasks.
#[derive(Clone, Default)]
pub(crate) struct SharedCache(Arc<RwLock<KeyCache>>);

impl SharedCache {
    /// Reads the cache. A poisoned lock is still read: the keys are only
    /// ever replaced whole.
    pub fn read<T>(&self, f: impl FnOnce(&KeyCache) -> T) -> T {
        f(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Changes the cache.
    pub fn write(&self, f: impl FnOnce(&mut KeyCache)) {
        f(&mut self.0.write().unwrap_or_else(PoisonError::into_inner))
    }
}

fn jwk_alg(jwk: &Jwk) -> Option<Algorithm> {
    match jwk.common.key_algorithm? {
        KeyAlgorithm::ES256 => Some(Algorithm::ES256),
        KeyAlgorithm::ES384 => Some(Algorithm::ES384),
        KeyAlgorithm::RS256 => Some(Algorithm::RS256),
        KeyAlgorithm::RS384 => Some(Algorithm::RS384),
        KeyAlgorithm::RS512 => Some(Algorithm::RS512),
        KeyAlgorithm::PS256 => Some(Algorithm::PS256),
        KeyAlgorithm::PS384 => Some(Algorithm::PS384),
        KeyAlgorithm::PS512 => Some(Algorithm::PS512),
        KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
        _ => None,
    }
}

impl KeyCache {
    /// Replaces the keys with the usable ones of `set`: signing keys with a
    /// `kid` and an asymmetric type. Symmetric (`oct`) keys are dropped, so
    /// no HMAC key can ever be built from published material.
    pub fn replace(&mut self, set: &JwkSet, now: Instant) {
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            if matches!(
                jwk.algorithm,
                jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
            ) {
                continue;
            }
            if matches!(
                jwk.common.public_key_use,
                Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
            ) {
                continue;
            }
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(
                    kid,
                    CachedKey {
                        key,
                        alg: jwk_alg(jwk),
                    },
                );
            }
        }
        self.keys = keys;
        self.fetched_at = Some(now);
    }

    /// Whether the set is older than the issuer's max-age for it, or
    /// `default` when the issuer gave none.
    pub fn is_stale(&self, now: Instant, default: Duration) -> bool {
        let max_age = self.max_age.unwrap_or(default);
        self.fetched_at
            .is_none_or(|t| now.duration_since(t) >= max_age)
    }
}

/// The `max-age` of a `Cache-Control` value (RFC 9111 §5.2.2.1), if any.
pub(crate) fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        value
            .trim()
            .trim_matches('"')
            .parse()
            .ok()
            .map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuers_max_age_decides_staleness() {
        assert_eq!(max_age("public, max-age=42"), Some(Duration::from_secs(42)));
        assert_eq!(max_age("no-cache"), None);
        let t = Instant::now();
        let mut cache = KeyCache::default();
        cache.replace(&JwkSet { keys: Vec::new() }, t);
        let default = Duration::from_secs(300);
        assert!(!cache.is_stale(t + Duration::from_secs(60), default));
        cache.max_age = max_age("public, max-age=30");
        assert!(!cache.is_stale(t + Duration::from_secs(29), default));
        assert!(cache.is_stale(t + Duration::from_secs(30), default));
    }
}
