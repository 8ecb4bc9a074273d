//! Checking a user's password: the one path for every login (the password
//! grant today, the login form next). In order: the per-address limit, the
//! lock of this username from this address (no hashing while locked), the
//! bounded hashing queue, Argon2id against the stored hash or (no such
//! user) a dummy hash at the cost of some stored hash, and on failure the
//! counts.

pub mod client_ip;
pub mod ip_limit;
pub mod lock_key;
pub mod lockout;
pub mod second_factor;
pub mod sign_up;

use std::net::IpAddr;
use std::sync::Arc;

use crate::audit::{self, Attempt, LoginFailure};
use crate::clock::Clock;
use crate::config::LoginLimits;
use crate::db::users::{self, User};
use crate::db::{login_failures, AnyConnection, Db, DbError};
use crate::keys::KeyVault;
use crate::metrics::Metrics;
use crate::mfa::Factors;
use crate::password::{cost_of, PasswordError, Passwords, Verified};
use crate::secret::Secret;

pub use client_ip::{client_ip, from_trusted_proxy};
use ip_limit::IpLimiter;
use lock_key::{lock_key, LockKey};

/// Why a login did not get through.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong password, unknown or disabled user, or a locked username: the
    /// same answer for all, so that none can be told apart.
    #[error("invalid username or password")]
    BadCredentials,
    /// Too many failures from this address: retry after this many seconds.
    #[error("too many failed logins from this address")]
    TooManyFailures(i64),
    /// The hashing queue is full.
    #[error("too many logins waiting")]
    Busy,
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Hashing failed.
    #[error(transparent)]
    Hash(PasswordError),
}

impl From<diesel::result::Error> for LoginError {
    fn from(e: diesel::result::Error) -> LoginError {
        LoginError::Db(DbError::Query(e))
    }
}

/// A password that matched: the user as read before hashing, and what the
/// issuing transaction must check and store.
pub struct CheckedLogin {
    /// The user.
    pub user: User,
    /// The hash that was verified (for the compare-and-set rehash).
    pub verified_hash: String,
    /// A new hash at today's cost, if the stored one is outdated.
    pub rehash: Option<String>,
    /// The user's second factors, read with the user: what the login
    /// must still ask for.
    pub factors: Factors,
    key: LockKey,
}

/// The login checker; cheap to clone.
#[derive(Clone)]
pub struct Logins {
    db: Db,
    passwords: Passwords,
    limits: Arc<LoginLimits>,
    ip: IpLimiter,
    clock: Clock,
    metrics: Metrics,
    /// Opens the sealed TOTP secrets that second steps check.
    vault: KeyVault,
}

impl Logins {
    /// A checker over this pool and hasher, counting its refusals and
    /// locks in `metrics`, opening TOTP secrets with `vault`.
    pub fn new(
        db: Db,
        passwords: Passwords,
        limits: LoginLimits,
        clock: Clock,
        metrics: Metrics,
        vault: KeyVault,
    ) -> Logins {
        Logins {
            ip: IpLimiter::new(limits.ip_max_failures, limits.ip_window),
            limits: Arc::new(limits),
            db,
            passwords,
            clock,
            metrics,
            vault,
        }
    }

    /// The key file's vault (TOTP secrets are sealed under it).
    pub fn vault(&self) -> &KeyVault {
        &self.vault
    }

    /// True when the hashing queue is full: the login is to be answered
    /// 503 before any storage work (and is counted as refused).
    pub fn shed(&self) -> bool {
        let full = self.passwords.saturated();
        if full {
            self.metrics.busy();
        }
        full
    }

    /// The hasher (for new passwords).
    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// The proxies whose `X-Forwarded-For` is believed.
    pub fn trusted_proxies(&self) -> &[IpAddr] {
        &self.limits.trusted_proxies
    }

    /// For attempts that are not password checks but that an attacker
    /// could repeat as cheaply (self-service sign-ups, which reveal
    /// whether a username is taken and each start a hash): seconds until
    /// `remote` may try again when it is over the per-address limit
    /// (counted as limited), else `None`.
    pub fn address_limited(&self, remote: Option<IpAddr>) -> Option<i64> {
        let retry = self.ip.retry_after(remote, self.clock.now());
        if retry.is_some() {
            self.metrics.address_limited();
        }
        retry
    }

    /// Counts such an attempt from `remote` against the per-address
    /// limit, as a failed login would be (SECURITY.md).
    pub fn count_address(&self, remote: Option<IpAddr>) {
        self.ip.record_failure(remote, self.clock.now());
    }

    /// Checks the attempt's password; every outcome but success is
    /// recorded in the audit trail here (success once tokens are issued).
    pub async fn check(
        &self,
        attempt: &Attempt<'_>,
        password: Secret,
    ) -> Result<CheckedLogin, LoginError> {
        let (username, remote) = (attempt.username, attempt.remote);
        let now = self.clock.now();
        if let Some(retry) = self.ip.retry_after(remote, now) {
            audit::login_failed(attempt, None, LoginFailure::AddressLimited);
            self.metrics.address_limited();
            return Err(LoginError::TooManyFailures(retry));
        }
        let key = lock_key(username, remote);
        let (user, locked, like, factors) = self
            .db
            .read({
                let (record, username) = (key.record.clone(), username.to_string());
                move |conn| {
                    let locked =
                        login_failures::find(conn, &record)?.is_some_and(|f| f.locked_until > now);
                    let user = users::by_username(conn, &username)?;
                    // Read for every name, known or not, so that the work
                    // done does not depend on which it is; only the cost of
                    // that other user's hash leaves this closure.
                    let id_key = lock_key::id_key(&username);
                    let like = users::hash_near(conn, &id_key)?.and_then(|phc| cost_of(&phc));
                    // The same goes for the second factors (an unknown
                    // name looks up an id that no user has).
                    let id = user.as_ref().map_or(id_key.as_str(), |u| u.id.as_str());
                    let factors = Factors::read(conn, id)?;
                    Ok::<_, LoginError>((user, locked, like, factors))
                }
            })
            .await?;
        let user_id = user.as_ref().map(|u| u.id.clone());
        if locked {
            // Answered like a wrong password, without hashing; but through
            // the same queue and address count, so that neither a full
            // queue nor the address limit tells a lock apart.
            audit::login_failed(attempt, user_id.as_deref(), LoginFailure::Locked);
            match self.passwords.pass_turn().await {
                Err(PasswordError::Busy) => return Err(self.busy()),
                Err(e) => return Err(LoginError::Hash(e)),
                Ok(()) => {}
            }
            self.ip.record_failure(remote, now);
            return Err(LoginError::BadCredentials);
        }
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let verified = match self.passwords.verify(password, stored, like).await {
            Ok(v) => v,
            Err(PasswordError::Busy) => return Err(self.busy()),
            Err(e) => return Err(LoginError::Hash(e)),
        };
        match (verified, user) {
            (Verified::Match { rehash }, Some(user)) if !user.disabled => Ok(CheckedLogin {
                verified_hash: user.password_hash.clone(),
                user,
                rehash,
                factors,
                key,
            }),
            (verified, user) => {
                let reason = match (verified, &user) {
                    (_, None) => LoginFailure::UnknownUser,
                    (Verified::Match { .. }, Some(_)) => LoginFailure::Disabled,
                    (Verified::Mismatch, Some(_)) => LoginFailure::WrongPassword,
                };
                audit::login_failed(attempt, user_id.as_deref(), reason);
                // A name that no user can have needs no lock: no row for it.
                // One that found a user always counts, whatever its typed
                // length (a decomposed spelling folds to a shorter name).
                let lockable =
                    user.is_some() || crate::manage::users::check_username(username).is_ok();
                if let Some(until) = self.failed(key, remote, lockable).await? {
                    audit::locked(attempt, user_id.as_deref(), until);
                    self.metrics.username_locked();
                }
                Err(LoginError::BadCredentials)
            }
        }
    }

    /// A refusal for a full hashing queue, counted.
    fn busy(&self) -> LoginError {
        self.metrics.busy();
        LoginError::Busy
    }

    /// Counts a failure for the username from this address, and for the
    /// address; the end of the lock when this failure locked the username
    /// (for this address).
    async fn failed(
        &self,
        key: LockKey,
        remote: Option<IpAddr>,
        lockable: bool,
    ) -> Result<Option<i64>, LoginError> {
        let now = self.clock.now();
        self.ip.record_failure(remote, now);
        if !lockable {
            return Ok(None);
        }
        let limits = self.limits.clone();
        let locked = self
            .db
            .write(move |conn| {
                let counted = login_failures::add_failure(conn, &key.record, &key.username, now)?;
                let settled = lockout::settle(counted, now, limits.max_failures, limits.lockout);
                login_failures::store(conn, &key.record, &settled)?;
                let newly = settled.locked_until > now && settled != counted;
                Ok::<_, LoginError>(newly.then_some(settled.locked_until))
            })
            .await?;
        Ok(locked)
    }
}

impl CheckedLogin {
    /// For a login that goes on to a second step: stores a due rehash,
    /// over the hash that was verified, and nothing else. The failures
    /// are reset only when the second step passes, so that a known
    /// password cannot clear the count between wrong codes.
    pub fn store_rehash(&self, conn: &mut AnyConnection) -> Result<(), LoginError> {
        if let Some(new_hash) = &self.rehash {
            users::rehash(conn, &self.user.id, &self.verified_hash, new_hash)?;
        }
        Ok(())
    }

    /// Inside the issuing write transaction: refuses if the user was
    /// disabled or got a new password (or was disabled and enabled) since
    /// the check, or if the username was locked meanwhile (a guess that
    /// raced the lock must not get through, nor clear it); stores a due
    /// rehash only over the hash that was verified, and resets the
    /// username's failures from this address (those from other addresses
    /// are theirs). Returns the user as now stored.
    pub fn confirm(&self, conn: &mut AnyConnection, now: i64) -> Result<Option<User>, LoginError> {
        if login_failures::find(conn, &self.key.record)?.is_some_and(|f| f.locked_until > now) {
            return Ok(None);
        }
        let current = match users::by_id(conn, &self.user.id)? {
            Some(u)
                if !u.disabled && u.credential_generation == self.user.credential_generation =>
            {
                u
            }
            _ => return Ok(None),
        };
        if let Some(new_hash) = &self.rehash {
            users::rehash(conn, &current.id, &self.verified_hash, new_hash)?;
        }
        login_failures::clear(conn, &self.key.record)?;
        Ok(Some(current))
    }
}
