//! [`Verifier`]: checks an access token's signature, `typ`, `iss`, `aud`,
//! `exp` and `nbf`, with keys from the issuer's JWKS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, Validation};

use crate::claims::Claims;
use crate::status::{Lists, TokenStatus};

mod status_check; // the token's status list
use crate::fetch::Fetcher;
use crate::jwks::SharedCache;

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
    /// The HTTP client of the JWKS fetches, also for status lists.
    http: reqwest::Client,
    /// The status lists seen, by URI.
    lists: Lists,
    /// Accept a token whose status list cannot be had (default: refuse).
    status_fail_open: bool,
    audience: String,
    leeway: Duration,
    realm: String,
    cache: SharedCache,
    /// `None` with static keys.
    fetcher: Option<Arc<Fetcher>>,
}

/// Verifies access tokens; cheap to clone (shared cache).
///
/// Keys come from the issuer's JWKS, fetched on first use. The issuer is
/// never asked more than once per refetch interval, whether the last
/// attempt worked or not, and one fetch at most is under way at a time.
/// A key set older than the maximum age keeps serving while a fresh one is
/// fetched in the background, so a slow or unreachable issuer delays no
/// request that the cached keys can answer. A token whose `kid` is unknown
/// (a rotation, or no keys yet) waits for the fetch under way, or starts
/// one if the interval allows; it waits at most the fetch timeout, and
/// concurrent requests share that one fetch.
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
    status_fail_open: bool,
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

    /// Least time between two fetch attempts, failed or not, whether an
    /// unknown `kid` or stale keys caused them (default 10 s).
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// Refetch a key set older than this, in the background, on the next
    /// verification (default 5 minutes), when the JWKS response gives no
    /// `Cache-Control: max-age`: the issuer's max-age wins.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// How long one JWKS fetch may take, from connecting to the last byte
    /// (default 5 s); also the longest a request waits for keys.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// What to do with a token that carries a `status`
    /// (draft-ietf-oauth-status-list) when its status list cannot be
    /// fetched past the list's lifetime: refuse it (`false`, the default:
    /// fail closed) or accept it (`true`: fail open). Either way the log
    /// says why.
    pub fn status_fail_open(mut self, fail_open: bool) -> Self {
        self.status_fail_open = fail_open;
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
        let http_for_lists = http.clone();
        let cache = SharedCache::default();
        let fetcher = match self.static_keys {
            Some(set) => {
                cache.write(|c| c.replace(&set, Instant::now()));
                None
            }
            None => Some(Arc::new(Fetcher::new(
                self.jwks_url
                    .unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json")),
                http,
                self.fetch_timeout,
                self.refetch_interval,
                self.max_age,
                cache.clone(),
            ))),
        };
        let http = http_for_lists;
        Ok(Verifier {
            inner: Arc::new(Inner {
                realm: self.realm.unwrap_or_else(|| self.audience.clone()),
                issuer,
                http,
                lists: Lists::default(),
                status_fail_open: self.status_fail_open,
                audience: self.audience,
                leeway: self.leeway,
                cache,
                fetcher,
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
    Verified(Box<(Claims, Option<TokenStatus>)>),
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
            status_fail_open: false,
        }
    }

    /// The `realm` for challenges.
    pub fn realm(&self) -> &str {
        &self.inner.realm
    }

    /// Verifies a token. Stale keys still serve (a refetch starts in the
    /// background); an unknown `kid` waits for a refetch, at most the
    /// fetch timeout, when one is under way or the interval allows one.
    /// A token that carries a `status` is then checked against its status
    /// list (draft-ietf-oauth-status-list): refused once revoked.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let (claims, status) = self.verify_signed(token).await?;
        if let Some(status) = status {
            self.check_status(&status.status_list).await?;
        }
        Ok(claims)
    }

    async fn verify_signed(
        &self,
        token: &str,
    ) -> Result<(Claims, Option<TokenStatus>), VerifyError> {
        if let Some(fetcher) = &self.inner.fetcher {
            fetcher.refresh_if_stale();
        }
        match self.check_cached(token)? {
            Cached::Verified(claims) => Ok(*claims),
            Cached::UnknownKid => {
                // A new kid may be a rotation: refetch, but at most once
                // per interval so forged kids cannot hammer the issuer.
                let fetched = match &self.inner.fetcher {
                    Some(fetcher) => fetcher.refresh_and_wait().await,
                    None => false,
                };
                if fetched {
                    if let Cached::Verified(claims) = self.check_cached(token)? {
                        return Ok(*claims);
                    }
                }
                Err(invalid("the token is signed by an unknown key"))
            }
        }
    }

    /// Verifies against the cached keys only (no I/O); an unknown `kid` is
    /// an error. Used by benchmarks and callers that manage fetching. It
    /// does not check the token's status list (that needs I/O).
    pub fn verify_cached(&self, token: &str) -> Result<Claims, VerifyError> {
        match self.check_cached(token)? {
            Cached::Verified(claims) => Ok(claims.0),
            Cached::UnknownKid => Err(invalid("the token is signed by an unknown key")),
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
        self.inner.cache.read(|cache| {
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
            decode::<WithStatus>(token, &entry.key, &v)
                .map(|data| Cached::Verified(Box::new((data.claims.claims, data.claims.status))))
                .map_err(|e| invalid(describe(&e)))
        })
    }
}

/// The claims and, apart, the `status` (kept out of [`Claims`], whose
/// fields are public: adding one would break code that builds it).
#[derive(serde::Deserialize)]
struct WithStatus {
    #[serde(flatten)]
    claims: Claims,
    #[serde(default)]
    status: Option<TokenStatus>,
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

    #[test]
    fn a_zero_fetch_timeout_is_refused() {
        let r = Verifier::builder("https://i", "a")
            .fetch_timeout(Duration::ZERO)
            .build();
        assert!(r.is_err());
    }
}
