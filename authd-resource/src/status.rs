//! Token Status Lists (draft-ietf-oauth-status-list): the lists that a
//! verified token's `status` names, fetched from the issuer, verified with
//! the JWKS keys, cached for their `ttl` and refreshed in the background
//! before it runs out. A token whose bit is set is refused; a list that
//! cannot be had past its lifetime refuses every token naming it (fail
//! closed) unless the verifier was built to fail open.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

/// The largest list accepted once inflated (a guard against zlib bombs):
/// 128 million tokens at one bit each.
const MAX_LIST_BYTES: u64 = 16 * 1024 * 1024;

/// The `status` claim of a token (§6.1).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TokenStatus {
    pub status_list: StatusRef,
}

/// A token's entry: its index in the list at `uri`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StatusRef {
    pub idx: u64,
    pub uri: String,
}

/// The claims of a status list token (§5.1).
#[derive(Debug, Deserialize)]
pub(crate) struct ListClaims {
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default)]
    pub ttl: Option<i64>,
    pub status_list: Bits,
}

/// The `status_list` claim (§4.2).
#[derive(Debug, Deserialize)]
pub(crate) struct Bits {
    pub bits: u8,
    pub lst: String,
}

/// A list as fetched: its bytes and how long they may be used.
pub(crate) struct Fetched {
    bytes: Vec<u8>,
    at: Instant,
    /// Its `ttl`, at most its lifetime (`exp - iat`), counted from the
    /// fetch, so that the two clocks need not agree.
    good_for: Duration,
    /// Its lifetime (`exp - iat`), counted from the fetch: past its `ttl`
    /// it still answers while a refetch fails, never past this.
    life: Duration,
}

impl Fetched {
    /// The bytes of a verified list's claims, or why they are unusable.
    pub fn from_claims(claims: ListClaims, at: Instant) -> Result<Fetched, String> {
        if claims.status_list.bits != 1 {
            return Err(format!("{} bits per token", claims.status_list.bits));
        }
        let z = URL_SAFE_NO_PAD
            .decode(claims.status_list.lst.trim_end_matches('='))
            .map_err(|e| format!("lst is not base64url: {e}"))?;
        let mut bytes = Vec::new();
        flate2::read::ZlibDecoder::new(&z[..])
            .take(MAX_LIST_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("lst is not zlib: {e}"))?;
        if bytes.len() as u64 > MAX_LIST_BYTES {
            return Err("the list is too large".into());
        }
        let life = (claims.exp - claims.iat).max(0);
        let ttl = claims.ttl.unwrap_or(life).clamp(0, life);
        Ok(Fetched {
            bytes,
            at,
            good_for: Duration::from_secs(ttl as u64),
            life: Duration::from_secs(life as u64),
        })
    }

    /// Whether index `idx` is set; `None` outside the list.
    fn is_set(&self, idx: u64) -> Option<bool> {
        let byte = self.bytes.get(usize::try_from(idx / 8).ok()?)?;
        Some(byte & (1 << (idx % 8)) != 0)
    }

    fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.at)
    }

    /// What it says of `idx` when a refetch failed: its bit while it is
    /// within its lifetime, else nothing.
    pub fn fallback(&self, idx: u64, now: Instant) -> Option<Option<bool>> {
        (self.age(now) < self.life).then(|| self.is_set(idx))
    }
}

/// One list's cache entry.
#[derive(Default)]
pub(crate) struct Entry {
    pub current: Mutex<Option<Arc<Fetched>>>,
    /// One fetch at a time, whether a caller waits for it or not.
    pub fetching: tokio::sync::Mutex<()>,
    /// A background refresh is under way.
    pub refreshing: AtomicBool,
}

impl Entry {
    pub fn current(&self) -> Option<Arc<Fetched>> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set(&self, fetched: Fetched) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(fetched));
    }

    /// Takes the turn for a background refresh, if none is under way.
    pub fn start_refresh(&self) -> bool {
        !self.refreshing.swap(true, Ordering::AcqRel)
    }

    pub fn end_refresh(&self) {
        self.refreshing.store(false, Ordering::Release);
    }
}

/// The lists a verifier has seen, by URI.
#[derive(Default)]
pub(crate) struct Lists(Mutex<HashMap<String, Arc<Entry>>>);

impl Lists {
    pub fn entry(&self, uri: &str) -> Arc<Entry> {
        let mut lists = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        lists.entry(uri.to_string()).or_default().clone()
    }
}

/// What the cached list says of a token now.
pub(crate) enum Cached {
    /// Usable: the token's bit, and whether to refresh in the background
    /// (three quarters of its `ttl` have passed).
    Usable {
        revoked: Option<bool>,
        refresh: bool,
    },
    /// None cached, or past its `ttl`: fetch before answering.
    Stale,
}

/// What `fetched` (if any) says of index `idx` at `now`.
pub(crate) fn look(fetched: Option<&Fetched>, idx: u64, now: Instant) -> Cached {
    match fetched {
        Some(f) if f.age(now) < f.good_for => Cached::Usable {
            revoked: f.is_set(idx),
            refresh: f.age(now) >= f.good_for * 3 / 4,
        },
        _ => Cached::Stale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn claims(bytes: &[u8], iat: i64, exp: i64, ttl: Option<i64>) -> ListClaims {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(bytes).unwrap();
        ListClaims {
            sub: "u".into(),
            iat,
            exp,
            ttl,
            status_list: Bits {
                bits: 1,
                lst: URL_SAFE_NO_PAD.encode(z.finish().unwrap()),
            },
        }
    }

    #[test]
    fn a_list_answers_for_its_ttl_then_is_stale() {
        let t0 = Instant::now();
        let f = Fetched::from_claims(claims(&[0b0000_0100, 0], 100, 200, Some(40)), t0).unwrap();
        let at = |s| t0 + Duration::from_secs(s);
        assert!(matches!(
            look(Some(&f), 2, at(0)),
            Cached::Usable {
                revoked: Some(true),
                refresh: false
            }
        ));
        assert!(matches!(
            look(Some(&f), 3, at(29)),
            Cached::Usable {
                revoked: Some(false),
                refresh: false
            }
        ));
        assert!(matches!(
            look(Some(&f), 3, at(30)),
            Cached::Usable { refresh: true, .. }
        ));
        assert!(matches!(
            look(Some(&f), 99, at(1)),
            Cached::Usable { revoked: None, .. }
        ));
        assert!(matches!(look(Some(&f), 3, at(40)), Cached::Stale));
        assert!(matches!(look(None, 3, at(0)), Cached::Stale));
        // The ttl never outlives the list's own lifetime.
        let short = Fetched::from_claims(claims(&[0], 100, 110, Some(60)), t0).unwrap();
        assert!(matches!(look(Some(&short), 0, at(10)), Cached::Stale));
        // Past its ttl, within its lifetime, it answers while a refetch
        // fails; past its lifetime, nothing.
        assert_eq!(f.fallback(2, at(99)), Some(Some(true)));
        assert_eq!(f.fallback(2, at(100)), None);
    }

    #[test]
    fn bad_lists_are_refused() {
        let mut c = claims(&[0], 0, 10, None);
        c.status_list.bits = 2;
        assert!(Fetched::from_claims(c, Instant::now()).is_err());
        let mut c = claims(&[0], 0, 10, None);
        c.status_list.lst = "not zlib".into();
        assert!(Fetched::from_claims(c, Instant::now()).is_err());
        let big = vec![0u8; MAX_LIST_BYTES as usize + 1];
        assert!(Fetched::from_claims(claims(&big, 0, 10, None), Instant::now()).is_err());
    }
}
