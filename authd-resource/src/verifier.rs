//! [`Verifier`]: checks an access token's signature, `typ`, `iss`, `aud`,
//! `exp` and `nbf`, with keys from the issuer's JWKS.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, Validation};

use crate::claims::Claims;
use crate::jwks::KeyCache;

/// Default clock-skew allowance for `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The largest leeway accepted: more would keep expired tokens alive.
pub const MAX_LEEWAY: Duration = Duration::from_secs(60);

/// Asymmetric algorithms only: never `none`, never HMAC, whose "secret"
/// could be the issuer's public key.
const ALLOWED: [Algorithm; 9] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::EdDSA,
];

/// Why a token was refused. The message is safe to show the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Malformed, badly signed, expired, or meant for someone else.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> VerifyError {
    VerifyError::Invalid(msg.into())
}

struct Inner {
    issuer: String,
    audience: String,
    jwks_url: Option<String>,
    leeway: Duration,
    refetch_interval: Duration,
    max_age: Duration,
    realm: String,
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
    fetching: tokio::sync::Mutex<()>,
}

/// Verifies access tokens; cheap to clone (shared cache).
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .finish()
    }
}

/// Settings for a [`Verifier`].
pub struct VerifierBuilder {
    issuer: String,
    audience: String,
    jwks_url: Option<String>,
    static_keys: Option<JwkSet>,
    leeway: Duration,
    refetch_interval: Duration,
    max_age: Duration,
    fetch_timeout: Duration,
    realm: Option<String>,
}

impl VerifierBuilder {
    /// Fetch keys from this URL instead of `{issuer}/.well-known/jwks.json`.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Use a fixed key set and never fetch.
    pub fn static_keys(mut self, keys: JwkSet) -> Self {
        self.static_keys = Some(keys);
        self
    }

    /// Clock-skew allowance for `exp`/`nbf` (default 30 s, at most 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Least time between two fetches caused by unknown `kid`s (default 10 s).
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// Refetch a key set older than this on the next verification
    /// (default 5 minutes).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// How long one JWKS fetch may take, from connecting to the last byte
    /// (default 5 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// The `realm` of `WWW-Authenticate` challenges (default the audience).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Checks the settings and builds the verifier.
    pub fn build(self) -> Result<Verifier, String> {
        if self.leeway > MAX_LEEWAY {
            return Err(format!("leeway must be at most {} s", MAX_LEEWAY.as_secs()));
        }
        let issuer = self.issuer.trim_end_matches('/').to_string();
        if issuer.is_empty() || self.audience.is_empty() {
            return Err("issuer and audience must not be empty".into());
        }
        if self.fetch_timeout.is_zero() {
            return Err("the fetch timeout must be more than zero".into());
        }
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(self.fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let mut cache = KeyCache::default();
        let jwks_url = match self.static_keys {
            Some(set) => {
                cache.replace(&set, Instant::now());
                None
            }
            None => Some(
                self.jwks_url
                    .unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json")),
            ),
        };
        Ok(Verifier {
            inner: Arc::new(Inner {
                realm: self.realm.unwrap_or_else(|| self.audience.clone()),
                issuer,
                audience: self.audience,
                jwks_url,
                leeway: self.leeway,
                refetch_interval: self.refetch_interval,
                max_age: self.max_age,
                http,
                cache: RwLock::new(cache),
                fetching: tokio::sync::Mutex::new(()),
            }),
        })
    }
}

/// Makes aws-lc-rs (the backend jsonwebtoken already uses) the process-wide
/// rustls provider, unless one is installed. The HTTPS client needs one; we
/// build no second crypto library just for it. Safe to call repeatedly.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only means another thread installed one first: fine.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// What the cached keys say about a token.
enum Cached {
    Verified(Box<Claims>),
    UnknownKid,
}

impl Verifier {
    /// Starts configuring a verifier for tokens from `issuer` meant for
    /// `audience`.
    pub fn builder(issuer: impl Into<String>, audience: impl Into<String>) -> VerifierBuilder {
        VerifierBuilder {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_url: None,
            static_keys: None,
            leeway: DEFAULT_LEEWAY,
            refetch_interval: Duration::from_secs(10),
            max_age: Duration::from_secs(300),
            fetch_timeout: Duration::from_secs(5),
            realm: None,
        }
    }

    /// The `realm` for challenges.
    pub fn realm(&self) -> &str {
        &self.inner.realm
    }

    /// Verifies a token, fetching keys when needed.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let now = Instant::now();
        let stale = self.read_cache(|c| c.is_stale(now, self.inner.max_age));
        if stale && self.inner.jwks_url.is_some() {
            self.refetch(false).await;
        }
        match self.check_cached(token)? {
            Cached::Verified(claims) => Ok(*claims),
            Cached::UnknownKid => {
                // A new kid may be a rotation: refetch, but at most once
                // per interval so forged kids cannot hammer the issuer.
                if self.refetch(true).await {
                    if let Cached::Verified(claims) = self.check_cached(token)? {
                        return Ok(*claims);
                    }
                }
                Err(invalid("the token is signed by an unknown key"))
            }
        }
    }

    /// Verifies against the cached keys only (no I/O); an unknown `kid` is
    /// an error. Used by benchmarks and callers that manage fetching.
    pub fn verify_cached(&self, token: &str) -> Result<Claims, VerifyError> {
        match self.check_cached(token)? {
            Cached::Verified(claims) => Ok(*claims),
            Cached::UnknownKid => Err(invalid("the token is signed by an unknown key")),
        }
    }

    fn read_cache<T>(&self, f: impl FnOnce(&KeyCache) -> T) -> T {
        match self.inner.cache.read() {
            Ok(c) => f(&c),
            Err(p) => f(&p.into_inner()),
        }
    }

    fn check_cached(&self, token: &str) -> Result<Cached, VerifyError> {
        let header = decode_header(token).map_err(|_| invalid("the token is malformed"))?;
        if !ALLOWED.contains(&header.alg) {
            return Err(invalid("the token's algorithm is not accepted"));
        }
        // RFC 9068 §4: the typ must be at+jwt, so that an ID token or any
        // other JWT from the same issuer cannot pass as an access token.
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(invalid("the token is not an access token (typ)"));
        }
        let kid = header
            .kid
            .ok_or_else(|| invalid("the token names no key (kid)"))?;
        self.read_cache(|cache| {
            let Some(entry) = cache.keys.get(&kid) else {
                return Ok(Cached::UnknownKid);
            };
            if entry.alg.is_some_and(|a| a != header.alg) {
                return Err(invalid("the token's algorithm does not match its key"));
            }
            let mut v = Validation::new(header.alg);
            v.leeway = self.inner.leeway.as_secs();
            v.validate_nbf = true;
            v.set_issuer(&[&self.inner.issuer]);
            v.set_audience(&[&self.inner.audience]);
            v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            decode::<Claims>(token, &entry.key, &v)
                .map(|data| Cached::Verified(Box::new(data.claims)))
                .map_err(|e| invalid(describe(&e)))
        })
    }

    /// Fetches the JWKS; returns whether the cache was replaced. With
    /// `rate_limited`, skips when the last attempt was too recent.
    async fn refetch(&self, rate_limited: bool) -> bool {
        let Some(url) = self.inner.jwks_url.as_deref() else {
            return false;
        };
        let _one_at_a_time = self.inner.fetching.lock().await;
        let now = Instant::now();
        let allowed = self.read_cache(|c| {
            if rate_limited {
                c.may_refetch(now, self.inner.refetch_interval)
            } else {
                c.is_stale(now, self.inner.max_age)
            }
        });
        if !allowed {
            return false;
        }
        if let Ok(mut c) = self.inner.cache.write() {
            c.last_attempt = Some(now);
        }
        match self.fetch(url).await {
            Ok(set) => {
                if let Ok(mut c) = self.inner.cache.write() {
                    c.replace(&set, Instant::now());
                }
                true
            }
            Err(e) => {
                // Keep serving the last good keys.
                log::warn!("cannot fetch JWKS from {url}: {e}");
                false
            }
        }
    }

    async fn fetch(&self, url: &str) -> Result<JwkSet, String> {
        let res = self
            .inner
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("status {}", res.status()));
        }
        res.json::<JwkSet>().await.map_err(|e| e.to_string())
    }
}

fn describe(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => "the token has expired",
        K::ImmatureSignature => "the token is not valid yet",
        K::InvalidIssuer => "the token is from another issuer",
        K::InvalidAudience => "the token is meant for another audience",
        K::InvalidSignature => "the token's signature is invalid",
        K::MissingRequiredClaim(_) => "the token lacks a required claim",
        K::InvalidAlgorithm => "the token's algorithm does not match its key",
        _ => "the token is invalid",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leeway_is_capped() {
        let r = Verifier::builder("https://i", "a")
            .leeway(Duration::from_secs(61))
            .build();
        assert!(r.is_err());
        assert!(Verifier::builder("https://i", "a").build().is_ok());
    }
}
