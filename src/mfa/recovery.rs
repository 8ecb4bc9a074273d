//! Recovery codes: ten single-use codes a user keeps on paper for when
//! the authenticator is gone. Each is 16 base32 characters (80 bits from
//! the CSPRNG), shown as four groups of four.
//!
//! Stored as SHA-256 of the user's id and the code, not Argon2: a slow
//! hash protects guessable secrets, and 80 random bits cannot be guessed
//! offline at any hashing speed (2^80 SHA-256 computations), while Argon2
//! would put ten hashes on every enrolment and one on every use, beside the
//! password's, on the hashing pool that the performance budget keeps for
//! passwords (docs/design.md "Secrets"). The user's id in the
//! hash ties a code to its user.

use rand::RngExt;

use crate::secret::hash_str;

/// Codes per set.
pub const COUNT: usize = 10;

/// Characters in a code, separators aside.
const LEN: usize = 16;

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A new set of [`COUNT`] codes, as shown to the user (`abcd-efgh-…`).
pub fn generate() -> Vec<String> {
    let mut rng = rand::rng();
    (0..COUNT)
        .map(|_| {
            let chars: Vec<char> = (0..LEN)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect();
            chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// The code as typed, in the form that is hashed: lower case, without
/// separators or spaces; `None` if it cannot be a recovery code.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let shaped = code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b));
    shaped.then_some(code)
}

/// What is stored for `user_id`'s code `typed`, if it is shaped like one.
pub fn hash(user_id: &str, typed: &str) -> Option<String> {
    normalize(typed).map(|code| hash_str(&format!("authd recovery v1\0{user_id}\0{code}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_codes_that_hash_however_typed() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), COUNT);
        let code = &codes[0];
        assert_eq!(code.len(), LEN + 3);
        let h = hash("u1", code).unwrap();
        assert_eq!(hash("u1", &code.to_uppercase()), Some(h.clone()));
        assert_eq!(hash("u1", &code.replace('-', " ")), Some(h.clone()));
        assert_ne!(hash("u2", code), Some(h), "bound to its user");
        assert!(hash("u1", "123456").is_none());
        assert!(hash("u1", "abcd-efgh-ijkl-mno1").is_none());
    }
}
