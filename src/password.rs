//! User passwords: policy, Argon2id hashing (PHC strings), verification with
//! rehash detection, and a bounded pool so hashing never starves the server.

use std::sync::{Arc, OnceLock};

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

use crate::secret::Secret;

/// Shortest accepted password, in characters (NIST SP 800-63B §3.1.1.2).
pub const MIN_CHARS: usize = 8;
/// Longest accepted password, in bytes; longer input is refused before any
/// hashing so that nobody can make us hash megabytes.
pub const MAX_BYTES: usize = 1024;

/// Why a password was refused or could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than [`MIN_CHARS`] characters.
    #[error("password too short: use at least {MIN_CHARS} characters")]
    TooShort,
    /// More than [`MAX_BYTES`] bytes.
    #[error("password too long: at most {MAX_BYTES} bytes")]
    TooLong,
    /// The Argon2 parameters are invalid.
    #[error("invalid Argon2 parameters: {0}")]
    Params(String),
    /// Hashing failed, or the worker pool is gone.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Checks the policy: length only, no composition rules (SP 800-63B).
pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < MIN_CHARS {
        return Err(PasswordError::TooShort);
    }
    Ok(())
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl Default for Cost {
    /// OWASP's recommendation: m = 19 MiB, t = 2, p = 1.
    fn default() -> Cost {
        Cost {
            m_kib: 19456,
            t: 2,
            p: 1,
        }
    }
}

/// Outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Correct password; `rehash` holds a new PHC string when the stored
    /// one used other parameters than the configured ones.
    Match {
        /// The replacement hash to store, if any.
        rehash: Option<String>,
    },
    /// Wrong password (or no such user).
    Mismatch,
}

/// Hashes and verifies passwords with a fixed cost, at most `limit` at once.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    cost: Cost,
    limit: Arc<Semaphore>,
    dummy: Arc<OnceLock<String>>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("cost", &self.cost)
            .finish()
    }
}

impl Passwords {
    /// `limit` bounds concurrent hash/verify operations (0 = number of cores).
    pub fn new(cost: Cost, limit: usize) -> Result<Passwords, PasswordError> {
        let params = Params::new(cost.m_kib, cost.t, cost.p, None)
            .map_err(|e| PasswordError::Params(e.to_string()))?;
        let limit = if limit == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            limit
        };
        Ok(Passwords {
            params,
            cost,
            limit: Arc::new(Semaphore::new(limit)),
            dummy: Arc::new(OnceLock::new()),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Checks the policy and hashes, blocking the calling thread.
    pub fn hash_blocking(&self, password: &str) -> Result<String, PasswordError> {
        check_policy(password)?;
        self.argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    /// Verifies, blocking the calling thread. `stored = None` (no such
    /// user) verifies against a dummy hash so that it costs the same time.
    pub fn verify_blocking(&self, password: &str, stored: Option<&str>) -> Verified {
        // Over-long input is refused before hashing; it can never match a
        // password that passed the policy.
        if password.len() > MAX_BYTES {
            return Verified::Mismatch;
        }
        let (phc, real) = match stored {
            Some(s) => (s, true),
            None => (self.dummy_hash(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            return Verified::Mismatch;
        };
        let ok = self
            .argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        if !(ok && real) {
            return Verified::Mismatch;
        }
        let rehash = if self.is_current(&parsed) {
            None
        } else {
            self.hash_blocking(password).ok()
        };
        Verified::Match { rehash }
    }

    fn is_current(&self, parsed: &PasswordHash) -> bool {
        parsed.algorithm.as_str() == "argon2id"
            && Params::try_from(parsed).is_ok_and(|p| {
                p.m_cost() == self.cost.m_kib
                    && p.t_cost() == self.cost.t
                    && p.p_cost() == self.cost.p
            })
    }

    /// Computes the dummy hash now (blocking), so that the first login of
    /// an unknown user does not take two hashes and stand out.
    pub fn warm_up(&self) {
        self.dummy_hash();
    }

    fn dummy_hash(&self) -> &str {
        self.dummy.get_or_init(|| {
            let filler = Secret::generate();
            self.argon2()
                .hash_password(filler.expose().as_bytes())
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
    }

    /// Hashes off the async workers, within the concurrency limit.
    pub async fn hash(&self, password: Secret) -> Result<String, PasswordError> {
        check_policy(password.expose())?;
        let _permit = self.permit().await?;
        let this = self.clone();
        actix_web::web::block(move || this.hash_blocking(password.expose()))
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?
    }

    /// Verifies off the async workers, within the concurrency limit.
    pub async fn verify(
        &self,
        password: Secret,
        stored: Option<String>,
    ) -> Result<Verified, PasswordError> {
        let _permit = self.permit().await?;
        let this = self.clone();
        actix_web::web::block(move || this.verify_blocking(password.expose(), stored.as_deref()))
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, PasswordError> {
        self.limit
            .acquire()
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        Passwords::new(
            Cost {
                m_kib: 64,
                t: 1,
                p: 1,
            },
            2,
        )
        .unwrap()
    }

    #[test]
    fn policy_length_only() {
        assert!(matches!(
            check_policy("short"),
            Err(PasswordError::TooShort)
        ));
        assert!(check_policy("eight ch").is_ok());
        assert!(check_policy("lowercaseonly").is_ok());
        // Eight characters of multi-byte text count as eight.
        assert!(check_policy("ééééééèè").is_ok());
        assert!(matches!(
            check_policy(&"a".repeat(MAX_BYTES + 1)),
            Err(PasswordError::TooLong)
        ));
    }

    #[test]
    fn hash_is_argon2id_phc() {
        let h = cheap().hash_blocking("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{h}");
    }

    #[test]
    fn verify_matches_and_rejects() {
        let p = cheap();
        let h = p.hash_blocking("correct horse").unwrap();
        assert_eq!(
            p.verify_blocking("correct horse", Some(&h)),
            Verified::Match { rehash: None }
        );
        assert_eq!(
            p.verify_blocking("wrong horse", Some(&h)),
            Verified::Mismatch
        );
        assert_eq!(p.verify_blocking("correct horse", None), Verified::Mismatch);
        assert_eq!(
            p.verify_blocking("x", Some("not a phc")),
            Verified::Mismatch
        );
    }

    #[test]
    fn rehash_when_parameters_change() {
        let old = cheap().hash_blocking("correct horse").unwrap();
        let newer = Passwords::new(
            Cost {
                m_kib: 128,
                t: 1,
                p: 1,
            },
            1,
        )
        .unwrap();
        match newer.verify_blocking("correct horse", Some(&old)) {
            Verified::Match { rehash: Some(h) } => assert!(h.contains("m=128,t=1,p=1")),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }
}
