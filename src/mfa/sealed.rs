//! What a second factor keeps sealed under the key file (AES-256-GCM,
//! [`KeyVault`]), each kind with its own associated data so that no
//! sealed value can stand in for another kind or another user:
//!
//! - a confirmed TOTP secret at rest (the database holds no secret in the
//!   clear, like the signing keys);
//! - a secret being enrolled, sealed into the enrolment form: the server
//!   stores nothing until the first code confirms it, and the browser can
//!   neither read nor alter it;
//! - the state between the password and the second step of a login
//!   ([`Pending`]), carried in a cookie: which user passed the password
//!   check, for how long, and what they must do next.

use serde::{Deserialize, Serialize};

use super::totp::TotpSecret;
use crate::keys::{KeyError, KeyVault};

/// How long an enrolment form may wait for its first code.
pub const ENROLMENT_TTL_SECS: i64 = 30 * 60;

/// How long the second step of a login may wait after the password.
pub const PENDING_TTL_SECS: i64 = 5 * 60;

fn at_rest_label(user_id: &str) -> String {
    format!("authd totp v1\0{user_id}")
}

fn enrolment_label(user_id: &str) -> String {
    format!("authd totp enrolment v1\0{user_id}")
}

const PENDING_LABEL: &str = "authd second step v1";

/// `secret`, sealed for storage as `user_id`'s.
pub fn seal_at_rest(
    vault: &KeyVault,
    user_id: &str,
    secret: &TotpSecret,
) -> Result<String, KeyError> {
    vault.seal(&at_rest_label(user_id), &secret.to_base32())
}

/// `user_id`'s stored secret; `None` if it does not open (another key
/// file, another user's row).
pub fn open_at_rest(vault: &KeyVault, user_id: &str, sealed: &str) -> Option<TotpSecret> {
    let text = vault.open(&at_rest_label(user_id), sealed).ok()?;
    TotpSecret::from_base32(&text)
}

/// `secret` sealed into `user_id`'s enrolment form at `now`.
pub fn seal_enrolment(
    vault: &KeyVault,
    user_id: &str,
    secret: &TotpSecret,
    now: i64,
) -> Result<String, KeyError> {
    let payload = format!("{} {}", now + ENROLMENT_TTL_SECS, secret.to_base32());
    vault.seal(&enrolment_label(user_id), &payload)
}

/// The secret an enrolment form of `user_id` carries, unless it was
/// altered, made for someone else, or is older than
/// [`ENROLMENT_TTL_SECS`].
pub fn open_enrolment(
    vault: &KeyVault,
    user_id: &str,
    sealed: &str,
    now: i64,
) -> Option<TotpSecret> {
    let payload = vault.open(&enrolment_label(user_id), sealed).ok()?;
    let (until, secret) = payload.split_once(' ')?;
    (now < until.parse::<i64>().ok()?)
        .then(|| TotpSecret::from_base32(secret))
        .flatten()
}

/// What a login's second step must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// A code from the user's authenticator or a recovery code.
    Code,
    /// A role requires a second factor the user does not have yet:
    /// enrolment comes first.
    Enrol,
}

/// A login between its password and its second step: the password of
/// `user_id` was right at `expires_at - PENDING_TTL_SECS`. Nothing is
/// issued from it; it only lets the second step be asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Whose password it was.
    pub user_id: String,
    /// Their username, which the lockout counts failures under.
    pub username: String,
    /// Their credential generation then: a new password or a disable
    /// since ends the pending step.
    pub generation: i64,
    /// What comes next.
    pub stage: Stage,
    /// Until when (Unix seconds).
    pub expires_at: i64,
    /// Whether the user has TOTP (the code form is shown).
    #[serde(default = "yes")]
    pub totp: bool,
    /// Whether the user has a passkey (it is offered).
    #[serde(default)]
    pub passkey: bool,
}

fn yes() -> bool {
    true
}

impl Pending {
    /// The state after a right password at `now`.
    pub fn new(user_id: &str, username: &str, generation: i64, stage: Stage, now: i64) -> Pending {
        Pending {
            user_id: user_id.to_string(),
            username: username.to_string(),
            generation,
            stage,
            expires_at: now + PENDING_TTL_SECS,
            totp: true,
            passkey: false,
        }
    }

    /// The same, saying which second factors the user has.
    pub fn with_factors(self, totp: bool, passkey: bool) -> Pending {
        Pending {
            totp,
            passkey,
            ..self
        }
    }

    /// Sealed, for the cookie.
    pub fn seal(&self, vault: &KeyVault) -> Result<String, KeyError> {
        let json = serde_json::to_string(self)
            .map_err(|e| KeyError::Crypto(format!("cannot encode a pending login: {e}")))?;
        vault.seal(PENDING_LABEL, &json)
    }

    /// The state a cookie carries, if it opens, is of `stage` and has not
    /// expired at `now`.
    pub fn open(vault: &KeyVault, sealed: &str, stage: Stage, now: i64) -> Option<Pending> {
        let json = vault.open(PENDING_LABEL, sealed).ok()?;
        let pending: Pending = serde_json::from_str(&json).ok()?;
        (pending.stage == stage && now < pending.expires_at).then_some(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> KeyVault {
        KeyVault::from_bytes(&[9u8; 32]).unwrap()
    }

    #[test]
    fn a_stored_secret_opens_only_as_its_users() {
        let (v, secret) = (vault(), TotpSecret::generate());
        let sealed = seal_at_rest(&v, "u1", &secret).unwrap();
        assert!(!sealed.contains(&secret.to_base32()));
        assert_eq!(open_at_rest(&v, "u1", &sealed), Some(secret.clone()));
        assert_eq!(open_at_rest(&v, "u2", &sealed), None);
        // An enrolment form's value is not a stored secret, nor the reverse.
        let form = seal_enrolment(&v, "u1", &secret, 100).unwrap();
        assert_eq!(open_at_rest(&v, "u1", &form), None);
        assert_eq!(open_enrolment(&v, "u1", &sealed, 100), None);
    }

    #[test]
    fn an_enrolment_form_opens_for_its_user_until_it_expires() {
        let (v, secret) = (vault(), TotpSecret::generate());
        let form = seal_enrolment(&v, "u1", &secret, 100).unwrap();
        assert_eq!(open_enrolment(&v, "u1", &form, 101), Some(secret));
        assert_eq!(open_enrolment(&v, "u2", &form, 101), None);
        assert_eq!(
            open_enrolment(&v, "u1", &form, 100 + ENROLMENT_TTL_SECS),
            None
        );
        let mut altered = form.clone();
        altered.pop();
        altered.push(if form.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(open_enrolment(&v, "u1", &altered, 101), None);
    }

    #[test]
    fn a_pending_login_opens_for_its_stage_within_five_minutes() {
        let v = vault();
        let p = Pending::new("u1", "alice", 3, Stage::Code, 1000);
        let sealed = p.seal(&v).unwrap();
        assert!(!sealed.contains("alice"), "the browser cannot read it");
        assert_eq!(Pending::open(&v, &sealed, Stage::Code, 1299), Some(p));
        assert_eq!(
            Pending::open(&v, &sealed, Stage::Code, 1300),
            None,
            "expired"
        );
        assert_eq!(Pending::open(&v, &sealed, Stage::Enrol, 1000), None);
        let other = KeyVault::from_bytes(&[1u8; 32]).unwrap();
        assert_eq!(Pending::open(&other, &sealed, Stage::Code, 1000), None);
        assert_eq!(Pending::open(&v, "enc:v1:AAAA", Stage::Code, 1000), None);
    }
}
