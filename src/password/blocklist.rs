//! Common and leaked passwords, refused whatever their length
//! (NIST SP 800-63B §5.1.1.2: check new passwords against values known to
//! be commonly used or compromised).
//!
//! The list is `common-passwords.txt` beside this file: 19,640 passwords
//! (lowercased, deduplicated) that Royce Williams compiled from leaked
//! password sets, as Django ships it for its `CommonPasswordValidator`
//! (`django/contrib/auth/common-passwords.txt.gz`, Django 5.2.19), under
//! Django's three-clause BSD licence, which permits redistribution with
//! its notice: `common-passwords.LICENSE` beside this file.

use std::collections::HashSet;
use std::sync::OnceLock;

/// The list, one lowercased password a line, compiled into the binary.
const LIST: &str = include_str!("common-passwords.txt");

/// The longest entry's length in bytes, with room to spare.
const LONGEST: usize = 256;

/// The list as a set, built on first use.
fn set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        LIST.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Whether `password` is on the list, ignoring case and surrounding
/// whitespace (as the list's own users compare it): `Password1` is as
/// guessable as `password1`.
pub fn is_common(password: &str) -> bool {
    let trimmed = password.trim();
    // Nothing on the list is longer (in bytes, lowercased input is rarely
    // longer than its original); spares lowercasing long input.
    if trimmed.len() > LONGEST {
        return false;
    }
    set().contains(trimmed.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_real_and_lowercase() {
        assert!(set().len() > 19_000, "{}", set().len());
        assert!(set().iter().all(|p| p.to_lowercase() == *p));
        assert!(set().iter().all(|p| p.len() * 2 <= LONGEST));
    }

    #[test]
    fn finds_common_passwords_in_any_case() {
        for p in [
            "password",
            "Password1",
            "QWERTY123",
            " 12345678 ",
            "iloveyou",
        ] {
            assert!(is_common(p), "{p}");
        }
        for p in ["correct horse battery", "long enough password", "ééééééèè"] {
            assert!(!is_common(p), "{p}");
        }
    }
}
