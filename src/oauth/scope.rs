//! Scopes (RFC 6749 §3.3): parsing and validation.

use std::collections::BTreeSet;

/// A set of scope tokens, kept sorted and free of duplicates.
pub type ScopeSet = BTreeSet<String>;

/// A scope token is 1*( %x21 / %x23-5B / %x5D-7E ) (RFC 6749 §3.3).
pub fn is_valid_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Parses space-separated scope lists (each input may itself hold several).
/// Returns the offending token on bad syntax.
pub fn parse<'a>(inputs: impl IntoIterator<Item = &'a str>) -> Result<ScopeSet, String> {
    let mut set = ScopeSet::new();
    for input in inputs {
        for token in input.split(' ').filter(|t| !t.is_empty()) {
            if !is_valid_token(token) {
                return Err(token.to_string());
            }
            set.insert(token.to_string());
        }
    }
    Ok(set)
}

/// The space-separated form used on the wire and in storage.
pub fn join(set: &ScopeSet) -> String {
    set.iter().map(String::as_str).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_dedups() {
        let s = parse(["b a", "a  c"]).unwrap();
        assert_eq!(join(&s), "a b c");
    }

    #[test]
    fn rejects_bad_characters() {
        assert_eq!(parse(["ok bad\"quote"]).unwrap_err(), "bad\"quote");
        assert!(parse(["back\\slash"]).is_err());
        assert!(parse(["tab\there"]).is_err());
        assert!(parse(["posts:read openid"]).is_ok());
    }
}
