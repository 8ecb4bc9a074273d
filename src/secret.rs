//! High-entropy secrets (client secrets, refresh tokens, codes): generation,
//! hashing for storage, constant-time comparison, and a wrapper that never
//! prints its value.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A secret value; `Debug` shows `[redacted]`. No `Display` and no
/// `PartialEq`: compare hashes with [`Secret::matches_hash`], in constant
/// time.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value received from outside.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// 256 bits from the operating system's CSPRNG, base64url without padding.
    pub fn generate() -> Secret {
        let mut bytes = [0u8; 32];
        rand::rng().fill(&mut bytes);
        Secret(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A value received from outside, if it has the shape that
    /// [`Secret::generate`] gives (43 base64url characters): anything else
    /// cannot be one of ours and is not looked up.
    pub fn parse_generated(value: &str) -> Option<Secret> {
        let shaped = value.len() == 43
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        shaped.then(|| Secret(value.to_string()))
    }

    /// The value itself: call only where it leaves for its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What we store: SHA-256, base64url. A slow hash buys nothing for a
    /// 256-bit random value and would cap throughput (docs/design.md "Secrets").
    pub fn hash(&self) -> String {
        hash_str(&self.0)
    }

    /// Compares against a stored hash in constant time.
    pub fn matches_hash(&self, stored: &str) -> bool {
        constant_time_eq(self.hash().as_bytes(), stored.as_bytes())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// SHA-256 of `value`, base64url without padding.
pub fn hash_str(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}

/// Byte comparison whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A random identifier (128 bits, hex), for ids that are not secrets.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_256_bits_and_distinct() {
        let a = Secret::generate();
        let b = Secret::generate();
        assert_eq!(URL_SAFE_NO_PAD.decode(a.expose()).unwrap().len(), 32);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn only_generated_shapes_parse() {
        let s = Secret::generate();
        assert!(Secret::parse_generated(s.expose()).is_some());
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}=", &"a".repeat(42)),
        ] {
            assert!(Secret::parse_generated(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn hash_round_trip() {
        let s = Secret::generate();
        let stored = s.hash();
        assert_ne!(stored, s.expose());
        assert!(s.matches_hash(&stored));
        assert!(!Secret::generate().matches_hash(&stored));
    }

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("topsecret");
        assert!(!format!("{s:?}").contains("topsecret"));
    }
}
