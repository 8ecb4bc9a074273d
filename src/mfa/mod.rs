//! Second factors (docs/interface.md "Second factors"): TOTP codes from
//! an authenticator app (RFC 6238), single-use recovery codes and
//! passkeys ([`passkey`]), what a login reads of them, and how a typed
//! code is checked and then used up.
//!
//! The checks are split in two so that a sign-in costs at most one write:
//! [`verify`] decides outside any transaction (a TOTP code against the
//! secret and the last step accepted, a recovery code by whether its hash
//! is stored), and the [`Proof`] it returns is used up inside the write
//! that issues the session or tokens, by a conditional update that only
//! one request, on any instance, can win. The lockout that counts wrong
//! codes is the password's (`crate::login::second_factor`).

pub mod amr;
pub mod passkey;
pub mod recovery;
pub mod sealed;
pub mod totp;

use diesel::QueryResult;

use crate::db::totp_secrets::{self, TotpRow};
use crate::db::{passkeys, recovery_codes, roles, AnyConnection};
use crate::keys::KeyVault;

/// A user's second factors, as a login reads them with the user.
#[derive(Clone, Default)]
pub struct Factors {
    /// The confirmed TOTP secret, if any (recovery codes come with it).
    pub totp: Option<TotpRow>,
    /// Whether the user has a passkey.
    pub passkey: bool,
    /// Whether a role of the user requires a second factor.
    pub required: bool,
}

impl Factors {
    /// Reads them (three lookups by key, cheap enough to run for every
    /// login, known user or not).
    pub fn read(conn: &mut AnyConnection, user_id: &str) -> QueryResult<Factors> {
        Ok(Factors {
            totp: totp_secrets::find(conn, user_id)?,
            passkey: passkeys::any_of_user(conn, user_id)?,
            required: roles::mfa_required_for(conn, user_id)?,
        })
    }

    /// What the login must ask for after the password, if anything: a
    /// code or a passkey when the user has either.
    pub fn next_step(&self) -> Option<sealed::Stage> {
        match (self.totp.is_some() || self.passkey, self.required) {
            (true, _) => Some(sealed::Stage::Code),
            (false, true) => Some(sealed::Stage::Enrol),
            (false, false) => None,
        }
    }
}

/// A typed code, by what it looks like. `Debug` shows only the kind.
#[derive(Clone, PartialEq, Eq)]
pub enum Candidate {
    /// Six digits: a TOTP code.
    Totp(String),
    /// A recovery code's shape; the hash it is stored under.
    Recovery(String),
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Candidate::Totp(_) => f.write_str("Candidate::Totp([redacted])"),
            Candidate::Recovery(_) => f.write_str("Candidate::Recovery([redacted])"),
        }
    }
}

impl Candidate {
    /// What `typed` could be for `user_id`; `None` when it is neither
    /// (then it is wrong without looking anything up).
    pub fn parse(user_id: &str, typed: &str) -> Option<Candidate> {
        let typed = typed.trim();
        if totp::is_code_shaped(typed) {
            return Some(Candidate::Totp(typed.to_string()));
        }
        recovery::hash(user_id, typed).map(Candidate::Recovery)
    }

    /// The recovery code's hash, when it looks like one.
    pub fn recovery_hash(&self) -> Option<&str> {
        match self {
            Candidate::Recovery(hash) => Some(hash),
            Candidate::Totp(_) => None,
        }
    }
}

/// A second factor that passed [`verify`], to be used up by the write
/// that relies on it.
#[derive(Clone)]
pub enum Proof {
    /// The TOTP code of `step`, checked against the secret sealed as
    /// `sealed`.
    Totp {
        /// Its time step.
        step: i64,
        /// The stored secret it matched (so that a secret replaced
        /// meanwhile does not accept it).
        sealed: String,
    },
    /// An unused recovery code, by hash.
    Recovery {
        /// Its stored hash.
        hash: String,
    },
}

impl Proof {
    /// Uses it up, inside the caller's write transaction: `false` when
    /// another request got there first (the code is then refused).
    pub fn consume(&self, conn: &mut AnyConnection, user_id: &str) -> QueryResult<bool> {
        match self {
            Proof::Totp { step, sealed } => totp_secrets::accept_step(conn, user_id, sealed, *step),
            Proof::Recovery { hash } => recovery_codes::consume(conn, user_id, hash),
        }
    }

    /// Its name in the audit trail.
    pub fn method(&self) -> &'static str {
        match self {
            Proof::Totp { .. } => "totp",
            Proof::Recovery { .. } => "recovery_code",
        }
    }
}

/// Checks `candidate` for the user whose secret is `totp`: a TOTP code
/// against the secret within the window and after the last step
/// accepted; a recovery code by `recovery_stored` (whether its hash was
/// found). `None` when it is wrong, replayed or spent.
pub fn verify(
    vault: &KeyVault,
    totp: &TotpRow,
    candidate: &Candidate,
    recovery_stored: bool,
    now: i64,
) -> Option<Proof> {
    match candidate {
        Candidate::Totp(code) => {
            let secret = sealed::open_at_rest(vault, &totp.user_id, &totp.secret_sealed)?;
            let step = secret.matching_step(code, now, totp.last_step)?;
            Some(Proof::Totp {
                step,
                sealed: totp.secret_sealed.clone(),
            })
        }
        Candidate::Recovery(hash) => {
            recovery_stored.then(|| Proof::Recovery { hash: hash.clone() })
        }
    }
}

/// A new set of recovery codes for `user_id`, stored over the old ones
/// inside the caller's transaction; the codes, to show once.
pub fn new_recovery_codes(
    conn: &mut AnyConnection,
    user_id: &str,
    now: i64,
) -> QueryResult<Vec<String>> {
    let codes = recovery::generate();
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| recovery::hash(user_id, c))
        .collect();
    recovery_codes::replace(conn, user_id, &hashes, now)?;
    Ok(codes)
}

/// Removes the user's TOTP secret and recovery codes (passkeys stay);
/// whether there was a TOTP secret, and how many codes.
pub fn remove_totp(conn: &mut AnyConnection, user_id: &str) -> QueryResult<(bool, usize)> {
    let codes = recovery_codes::delete_all(conn, user_id)?;
    Ok((totp_secrets::delete(conn, user_id)?, codes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use totp::TotpSecret;

    fn row(vault: &KeyVault, secret: &TotpSecret, last_step: i64) -> TotpRow {
        TotpRow {
            user_id: "u1".into(),
            secret_sealed: sealed::seal_at_rest(vault, "u1", secret).unwrap(),
            last_step,
            created_at: 0,
        }
    }

    #[test]
    fn codes_are_told_apart_by_shape() {
        assert_eq!(
            Candidate::parse("u", " 123456 "),
            Some(Candidate::Totp("123456".into()))
        );
        let rc = &recovery::generate()[0];
        assert_eq!(
            Candidate::parse("u", rc).and_then(|c| c.recovery_hash().map(str::to_string)),
            recovery::hash("u", rc)
        );
        assert_eq!(Candidate::parse("u", "12345"), None);
        assert_eq!(Candidate::parse("u", ""), None);
    }

    #[test]
    fn a_totp_code_verifies_once_against_the_sealed_secret() {
        let vault = KeyVault::from_bytes(&[3u8; 32]).unwrap();
        let secret = TotpSecret::generate();
        let now = 1_800_000_000;
        let code = Candidate::Totp(secret.code_at(totp::step_of(now)));
        let fresh = row(&vault, &secret, 0);
        let Some(Proof::Totp { step, .. }) = verify(&vault, &fresh, &code, false, now) else {
            panic!("the current code verifies");
        };
        assert_eq!(step, totp::step_of(now));
        let used = row(&vault, &secret, step);
        assert!(verify(&vault, &used, &code, false, now).is_none(), "replay");
        let other = row(&vault, &TotpSecret::generate(), 0);
        assert!(verify(&vault, &other, &code, false, now).is_none());
        let wrong_key = KeyVault::from_bytes(&[4u8; 32]).unwrap();
        assert!(verify(&wrong_key, &fresh, &code, false, now).is_none());
        let rc = Candidate::Recovery("h".into());
        assert!(verify(&vault, &fresh, &rc, false, now).is_none());
        assert!(verify(&vault, &fresh, &rc, true, now).is_some());
    }
}
