//! Checking a second factor with the password's defences: the same
//! per-address limit, the same lock records and counts (a wrong code is a
//! failed login of the username, exactly like a wrong password), and the
//! same refusal for every case. No hashing: a code costs an HMAC or a
//! lookup, never Argon2.
//!
//! Two callers: the password grant, which gets the code (`otp`) with the
//! password ([`Logins::check_otp`]), and the pages that ask for it after
//! the password or before a sensitive change ([`Logins::check_code`]).
//! Both return a [`Proof`] that the issuing write uses up
//! ([`Proof::consume`]): a replay that races its original loses there.

use super::lock_key::{lock_key, LockKey};
use super::{CheckedLogin, LoginError, Logins};
use crate::audit::{self, Attempt, SecondFactorFailure};
use crate::db::users::{self, User};
use crate::db::{login_failures, recovery_codes, totp_secrets, AnyConnection};
use crate::mfa::{self, Candidate, Proof};

/// A code that passed [`Logins::check_code`]: the user as read, and what
/// the write that relies on it must confirm and use up.
pub struct CheckedCode {
    /// The user.
    pub user: User,
    /// The factor to use up.
    pub proof: Proof,
    key: LockKey,
}

impl CheckedCode {
    /// Inside the write that relies on the code: refuses (`None`) if the
    /// username was locked, the user disabled or given a new password
    /// since the check, or the code was used meanwhile; else uses it up,
    /// resets the failures of this username from this address, and
    /// returns the user as now stored.
    pub fn confirm(&self, conn: &mut AnyConnection, now: i64) -> Result<Option<User>, LoginError> {
        let generation = self.user.credential_generation;
        let Some(current) = standing(conn, &self.key, &self.user.id, generation, now)? else {
            return Ok(None);
        };
        if !self.proof.consume(conn, &current.id)? {
            return Ok(None);
        }
        login_failures::clear(conn, &self.key.record)?;
        Ok(Some(current))
    }
}

/// A login whose password was checked by an earlier request and that
/// ends without a code: the enrolment a role requires. Confirmed in the
/// write that finishes it, like [`CheckedCode::confirm`].
pub struct HeldLogin {
    user_id: String,
    generation: i64,
    key: LockKey,
}

impl HeldLogin {
    /// The login of `user_id`, at credential `generation`, under the
    /// username and from the address of `attempt`.
    pub fn new(attempt: &Attempt<'_>, user_id: &str, generation: i64) -> HeldLogin {
        HeldLogin {
            user_id: user_id.to_string(),
            generation,
            key: lock_key(attempt.username, attempt.remote),
        }
    }

    /// Inside the finishing write: the user if the login still stands
    /// (see [`CheckedCode::confirm`]).
    pub fn confirm(&self, conn: &mut AnyConnection, now: i64) -> Result<Option<User>, LoginError> {
        standing(conn, &self.key, &self.user_id, self.generation, now)
    }

    /// Inside the same write, once it succeeded: resets the username's
    /// failures from this address, as a login does.
    pub fn clear_failures(&self, conn: &mut AnyConnection) -> Result<(), LoginError> {
        login_failures::clear(conn, &self.key.record)?;
        Ok(())
    }
}

/// The user `user_id` as stored, if enabled, still at credential
/// `generation`, and their username not locked by `key` at `now`.
fn standing(
    conn: &mut AnyConnection,
    key: &LockKey,
    user_id: &str,
    generation: i64,
    now: i64,
) -> Result<Option<User>, LoginError> {
    if login_failures::find(conn, &key.record)?.is_some_and(|f| f.locked_until > now) {
        return Ok(None);
    }
    Ok(users::by_id(conn, user_id)?
        .filter(|u| !u.disabled && u.credential_generation == generation))
}

impl Logins {
    /// The second factor of a password grant whose password matched:
    /// `None` when the user has none and no role requires one; the proof
    /// of `otp` when it is right. Missing, wrong, a factor required but
    /// not enrolled, or only a passkey: counted as a failed login and
    /// refused like a wrong password.
    pub async fn check_otp(
        &self,
        attempt: &Attempt<'_>,
        login: &CheckedLogin,
        otp: Option<&str>,
    ) -> Result<Option<Proof>, LoginError> {
        let user_id = &login.user.id;
        let Some(totp) = &login.factors.totp else {
            // A passkey needs a browser's ceremony, which the grant
            // cannot hold: a user whose only second factor it is cannot
            // use the grant (docs/interface.md "Second factors").
            let reason = match (login.factors.passkey, login.factors.required) {
                (false, false) => return Ok(None),
                (true, _) => SecondFactorFailure::PasskeyOnly,
                (false, true) => SecondFactorFailure::NotEnrolled,
            };
            return Err(self
                .wrong_code(attempt, user_id, login.key.clone(), reason)
                .await);
        };
        let Some(otp) = otp else {
            let reason = SecondFactorFailure::Missing;
            return Err(self
                .wrong_code(attempt, user_id, login.key.clone(), reason)
                .await);
        };
        let candidate = Candidate::parse(user_id, otp);
        let stored = match candidate.as_ref().and_then(Candidate::recovery_hash) {
            Some(hash) => {
                let (id, hash) = (user_id.clone(), hash.to_string());
                self.db
                    .read(move |conn| {
                        Ok::<_, LoginError>(recovery_codes::exists(conn, &id, &hash)?)
                    })
                    .await?
            }
            None => false,
        };
        let now = self.clock.now();
        match candidate.and_then(|c| mfa::verify(&self.vault, totp, &c, stored, now)) {
            Some(proof) => {
                audit::second_factor_succeeded(attempt, user_id, proof.method());
                Ok(Some(proof))
            }
            None => {
                let reason = SecondFactorFailure::WrongCode;
                Err(self
                    .wrong_code(attempt, user_id, login.key.clone(), reason)
                    .await)
            }
        }
    }

    /// Checks `code` (a TOTP code or a recovery code) of the user
    /// `user_id`, typed by whoever `attempt` says, through the password's
    /// defences: the per-address limit, the username's lock (no check
    /// while locked) and, when wrong, one more failure counted. With
    /// `generation`, a user whose credentials changed since (a pending
    /// login's) is refused too, uncounted.
    pub async fn check_code(
        &self,
        attempt: &Attempt<'_>,
        user_id: &str,
        generation: Option<i64>,
        code: &str,
    ) -> Result<CheckedCode, LoginError> {
        let now = self.clock.now();
        let remote = attempt.remote;
        if let Some(retry) = self.ip.retry_after(remote, now) {
            audit::second_factor_failed(attempt, user_id, SecondFactorFailure::AddressLimited);
            self.metrics.address_limited();
            return Err(LoginError::TooManyFailures(retry));
        }
        let key = lock_key(attempt.username, remote);
        let candidate = Candidate::parse(user_id, code);
        let (locked, user, totp, stored) = self
            .db
            .read({
                let (record, id) = (key.record.clone(), user_id.to_string());
                let hash = candidate
                    .as_ref()
                    .and_then(Candidate::recovery_hash)
                    .map(str::to_string);
                move |conn| {
                    let locked =
                        login_failures::find(conn, &record)?.is_some_and(|f| f.locked_until > now);
                    let user = users::by_id(conn, &id)?;
                    let totp = totp_secrets::find(conn, &id)?;
                    let stored = match &hash {
                        Some(hash) => recovery_codes::exists(conn, &id, hash)?,
                        None => false,
                    };
                    Ok::<_, LoginError>((locked, user, totp, stored))
                }
            })
            .await?;
        let user = match user {
            Some(u) if !u.disabled && generation.is_none_or(|g| g == u.credential_generation) => u,
            _ => return Err(LoginError::BadCredentials),
        };
        if locked {
            audit::second_factor_failed(attempt, user_id, SecondFactorFailure::Locked);
            self.ip.record_failure(remote, now);
            return Err(LoginError::BadCredentials);
        }
        let proof = match (&totp, candidate) {
            (Some(totp), Some(c)) => mfa::verify(&self.vault, totp, &c, stored, now),
            _ => None,
        };
        match proof {
            Some(proof) => Ok(CheckedCode { user, proof, key }),
            None => {
                let reason = SecondFactorFailure::WrongCode;
                Err(self.wrong_code(attempt, user_id, key, reason).await)
            }
        }
    }

    /// Audits and counts a refused second factor as a failed login of the
    /// username from this address; the refusal to answer with.
    async fn wrong_code(
        &self,
        attempt: &Attempt<'_>,
        user_id: &str,
        key: LockKey,
        reason: SecondFactorFailure,
    ) -> LoginError {
        audit::second_factor_failed(attempt, user_id, reason);
        match self.failed(key, attempt.remote, true).await {
            Ok(Some(until)) => {
                audit::locked(attempt, Some(user_id), until);
                self.metrics.username_locked();
                LoginError::BadCredentials
            }
            Ok(None) => LoginError::BadCredentials,
            Err(e) => e,
        }
    }
}
