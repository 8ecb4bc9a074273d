//! PKCE (RFC 7636), `S256` only, through oxide-auth's `Pkce::required()`:
//! checking an authorization request's challenge, keeping it with the
//! code, and checking the verifier at the exchange.
//!
//! oxide-auth's `Pkce` would accept any non-empty challenge; RFC 7636
//! §4.2 fixes its shape for S256 (43 base64url characters, a SHA-256), and
//! §4.1 the verifier's (43 to 128 unreserved characters), so both are
//! checked here first. A missing method is refused rather than read as
//! `plain` (RFC 7636 §4.3's default): RFC 9700 §2.1.1 asks for S256.

use std::borrow::Cow;

use oxide_auth::frontends::simple::extensions::Pkce;
use oxide_auth::primitives::grant::Value;

/// The identifier of oxide-auth's PKCE grant extension.
pub const EXTENSION: &str = "pkce";

/// The one method accepted.
pub const S256: &str = "S256";

/// oxide-auth's `Pkce` encodes an S256 challenge as the challenge followed
/// by this tag. The code table keeps the challenge without it
/// ([`stored_challenge`], [`from_stored`]); the unit tests below pin the
/// encoding, so that an oxide-auth upgrade that changed it fails them.
const S256_TAG: char = 'S';

fn is_base64url(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks an authorization request's PKCE parameters; the grant
/// extension value to bind to the code, or why they are refused (for
/// `invalid_request`, RFC 7636 §4.4.1).
pub fn challenge(method: Option<&str>, challenge: Option<&str>) -> Result<Value, &'static str> {
    match method {
        None => return Err("code_challenge_method=S256 is required (PKCE)"),
        Some(S256) => {}
        Some(_) => return Err("code_challenge_method must be S256"),
    }
    let challenge = challenge.ok_or("code_challenge is required (PKCE)")?;
    if challenge.len() != 43 || !is_base64url(challenge) {
        return Err("code_challenge must be 43 base64url characters (RFC 7636 section 4.2)");
    }
    match Pkce::required().challenge(method.map(Cow::Borrowed), Some(Cow::Borrowed(challenge))) {
        Ok(Some(value)) => Ok(value),
        _ => Err("code_challenge was refused"),
    }
}

/// The challenge to store, from the extension value [`challenge`] made.
pub fn stored_challenge(encoded: &str) -> Option<&str> {
    encoded.strip_suffix(S256_TAG)
}

/// The extension value of a stored S256 challenge.
pub fn from_stored(challenge: &str) -> Value {
    Value::private(Some(format!("{challenge}{S256_TAG}")))
}

/// Whether `verifier` is well formed (RFC 7636 §4.1) and matches the
/// challenge bound to the code (§4.6), compared in constant time by
/// oxide-auth.
pub fn verify(bound: Option<Value>, verifier: &str) -> bool {
    let shaped = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    shaped
        && bound.is_some()
        && Pkce::required()
            .verify(bound, Some(Cow::Borrowed(verifier)))
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn s256_round_trips_through_storage() {
        let value = challenge(Some("S256"), Some(CHALLENGE)).unwrap();
        let encoded = value.private_value().unwrap().unwrap().to_string();
        let stored = stored_challenge(&encoded).unwrap();
        assert_eq!(stored, CHALLENGE);
        assert!(verify(Some(from_stored(stored)), VERIFIER));
        let wrong = VERIFIER.replace('d', "e");
        assert!(!verify(Some(from_stored(stored)), &wrong));
        assert!(!verify(None, VERIFIER));
    }

    #[test]
    fn plain_missing_and_malformed_are_refused() {
        assert!(challenge(None, Some(CHALLENGE)).is_err());
        assert!(challenge(Some("plain"), Some(CHALLENGE)).is_err());
        assert!(challenge(Some("s256"), Some(CHALLENGE)).is_err());
        assert!(challenge(Some("S256"), None).is_err());
        assert!(challenge(Some("S256"), Some("short")).is_err());
        assert!(challenge(Some("S256"), Some(&format!("{}=", &CHALLENGE[..42]))).is_err());
    }

    #[test]
    fn malformed_verifiers_never_match() {
        let stored = from_stored(CHALLENGE);
        assert!(!verify(Some(stored.clone()), "short"));
        assert!(!verify(Some(stored.clone()), &"a".repeat(129)));
        assert!(!verify(Some(stored), &format!("{VERIFIER} ")));
    }
}
