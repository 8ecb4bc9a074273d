//! Retried refreshes (docs/interface.md "Token lifecycle", Retried
//! refreshes): with `--refresh-retry-grace` on, a rotated refresh token
//! that its client presents again within the grace, while its successor
//! is unused, is answered with that same successor instead of being
//! treated as reuse (RFC 9700 §4.14.2): a relaxation for clients whose
//! answer was lost, off by default; SECURITY.md weighs it.
//!
//! To answer with the successor, the server must be able to give its token
//! again, and it stores only hashes: so a rotation keeps the successor's
//! token sealed beside it (AES-256-GCM under the key file, the
//! [`KeyVault`] that seals signing keys and TOTP secrets), bound to that
//! row, for the grace only ([`crate::db::refresh_retries`]).

use crate::db::refresh_retries;
use crate::db::refresh_tokens::RefreshToken;
use crate::db::AnyConnection;
use crate::keys::{KeyError, KeyVault};
use crate::secret::Secret;

/// What a sealed successor is bound to: its own row, so that no sealed
/// value opens as another token's, nor as another kind of sealed secret.
fn label(successor_hash: &str) -> String {
    format!("authd refresh retry v1\0{successor_hash}")
}

/// Retried refreshes as configured: the grace, and the vault that seals
/// successors. Exists only while the grace is on.
#[derive(Clone, Debug)]
pub struct Retries {
    grace: i64,
    vault: KeyVault,
}

impl Retries {
    /// `None` for a grace of 0 (off): then nothing is sealed, stored or
    /// looked up, and a second presentation is reuse at once.
    pub fn new(grace: i64, vault: &KeyVault) -> Option<Retries> {
        (grace > 0).then(|| Retries {
            grace,
            vault: vault.clone(),
        })
    }

    /// `successor`'s token sealed, to store with it.
    pub fn seal(&self, successor: &Secret) -> Result<String, KeyError> {
        self.vault
            .seal(&label(&successor.hash()), successor.expose())
    }

    /// The token that `sealed`, stored in the row with hash
    /// `successor_hash`, holds; `None` if it does not open there (another
    /// key file, another row's value).
    pub fn open(&self, successor_hash: &str, sealed: &str) -> Option<Secret> {
        let token = Secret::new(self.vault.open(&label(successor_hash), sealed).ok()?);
        token.matches_hash(successor_hash).then_some(token)
    }

    /// Whether `used`, rotated at its `used_at`, is still within the grace
    /// at `now`.
    pub fn within(&self, used: &RefreshToken, now: i64) -> bool {
        used.used_at.is_some_and(|at| now < at + self.grace)
    }

    /// The successor a retry of the used token `used` gets at `now`: its
    /// token, if `used` is within the grace and its successor still holds
    /// its sealed copy (unused: its claim wipes it). `None` is reuse. The
    /// caller still checks that the successor is live.
    pub fn successor_of(
        &self,
        conn: &mut AnyConnection,
        used: &RefreshToken,
        now: i64,
    ) -> diesel::QueryResult<Option<Secret>> {
        if !self.within(used, now) {
            return Ok(None);
        }
        Ok(refresh_retries::sealed_successor(conn, &used.token_hash)?
            .and_then(|(hash, sealed)| self.open(&hash, &sealed)))
    }

    /// The latest issue time whose sealed successors are past the grace at
    /// `now` (for the janitor's wipe).
    pub fn wipe_cutoff(grace: i64, now: i64) -> i64 {
        now - grace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retries() -> Retries {
        Retries::new(30, &KeyVault::from_bytes(&[5u8; 32]).unwrap()).unwrap()
    }

    #[test]
    fn off_at_zero() {
        assert!(Retries::new(0, &KeyVault::from_bytes(&[5u8; 32]).unwrap()).is_none());
    }

    #[test]
    fn a_sealed_successor_opens_only_in_its_own_row_and_hides_its_token() {
        let (r, token, other) = (retries(), Secret::generate(), Secret::generate());
        let sealed = r.seal(&token).unwrap();
        assert!(!sealed.contains(token.expose()));
        let opened = r.open(&token.hash(), &sealed).expect("opens in its row");
        assert_eq!(opened.expose(), token.expose());
        assert!(
            r.open(&other.hash(), &sealed).is_none(),
            "moved to another row"
        );
        let elsewhere = Retries::new(30, &KeyVault::from_bytes(&[6u8; 32]).unwrap()).unwrap();
        assert!(
            elsewhere.open(&token.hash(), &sealed).is_none(),
            "another key"
        );
        // A TOTP secret or a signing key sealed under the same key is not
        // a successor.
        let totp = r.vault.seal("authd totp v1\0u1", token.expose()).unwrap();
        assert!(r.open(&token.hash(), &totp).is_none());
    }

    #[test]
    fn the_grace_runs_from_the_rotation() {
        let r = retries();
        let mut used = RefreshToken {
            token_hash: "h".into(),
            family_id: "f".into(),
            parent_hash: None,
            user_id: "u".into(),
            client_id: "c".into(),
            scope: String::new(),
            issued_at: 0,
            expires_at: 10_000,
            used_at: None,
            revoked_at: None,
            generation: 0,
            family_expires_at: 10_000,
            auth_time: None,
            sid: None,
            amr: None,
        };
        assert!(!r.within(&used, 100), "never rotated");
        used.used_at = Some(100);
        assert!(r.within(&used, 100));
        assert!(r.within(&used, 129));
        assert!(!r.within(&used, 130));
        assert_eq!(Retries::wipe_cutoff(30, 130), 100);
    }
}
