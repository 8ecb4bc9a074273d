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

/// The scope policy for a client (docs/interface.md "Token endpoint"): a requested scope outside
/// the client's registered scopes is refused; none requested means all of
/// them. `Err` carries the offending scopes.
pub fn for_client(requested: Option<&ScopeSet>, registered: &ScopeSet) -> Result<ScopeSet, String> {
    match requested {
        None => Ok(registered.clone()),
        Some(req) => {
            let outside: Vec<&str> = req.difference(registered).map(String::as_str).collect();
            if outside.is_empty() {
                Ok(req.clone())
            } else {
                Err(outside.join(" "))
            }
        }
    }
}

/// Narrows a client-level grant to what the user's roles grant; `None` when
/// nothing is left.
pub fn for_user(granted: &ScopeSet, user_scopes: &ScopeSet) -> Option<ScopeSet> {
    let left: ScopeSet = granted.intersection(user_scopes).cloned().collect();
    (!left.is_empty()).then_some(left)
}

/// Why a refresh cannot have the scope it asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshScopeError {
    /// The request exceeds the original grant (RFC 6749 §6).
    ExceedsGrant,
    /// Nothing asked for is still allowed by the client and the user's roles.
    NoneLeft,
}

/// The scope of a refresh: the requested one (which may only narrow the
/// original grant) or the original, and of that only what the client and
/// the user's roles still allow today.
pub fn for_refresh(
    original: &ScopeSet,
    requested: Option<&ScopeSet>,
    client: &ScopeSet,
    user: &ScopeSet,
) -> Result<ScopeSet, RefreshScopeError> {
    let wanted = match requested {
        Some(req) if !req.is_subset(original) => return Err(RefreshScopeError::ExceedsGrant),
        Some(req) => req,
        None => original,
    };
    let left: ScopeSet = wanted
        .iter()
        .filter(|s| client.contains(*s) && user.contains(*s))
        .cloned()
        .collect();
    if left.is_empty() {
        Err(RefreshScopeError::NoneLeft)
    } else {
        Ok(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> ScopeSet {
        parse([s]).unwrap()
    }

    #[test]
    fn client_policy() {
        let reg = set("a b c");
        assert_eq!(for_client(None, &reg).unwrap(), reg);
        assert_eq!(for_client(Some(&set("a c")), &reg).unwrap(), set("a c"));
        assert_eq!(for_client(Some(&set("a x")), &reg).unwrap_err(), "x");
    }

    #[test]
    fn user_policy() {
        assert_eq!(for_user(&set("a b"), &set("b c")), Some(set("b")));
        assert_eq!(for_user(&set("a"), &set("b")), None);
    }

    #[test]
    fn refresh_policy() {
        let all = set("a b c");
        assert_eq!(
            for_refresh(&set("a b"), None, &all, &all).unwrap(),
            set("a b")
        );
        assert_eq!(
            for_refresh(&set("a b"), Some(&set("b")), &all, &all).unwrap(),
            set("b")
        );
        assert_eq!(
            for_refresh(&set("a"), Some(&set("a b")), &all, &all),
            Err(RefreshScopeError::ExceedsGrant)
        );
        // A role or client scope taken away since the grant is gone.
        assert_eq!(
            for_refresh(&set("a b"), None, &set("a"), &all).unwrap(),
            set("a")
        );
        assert_eq!(
            for_refresh(&set("a"), None, &all, &set("b")),
            Err(RefreshScopeError::NoneLeft)
        );
    }

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
