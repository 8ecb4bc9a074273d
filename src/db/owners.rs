//! What the owner of a user-registered client allows it now.
//!
//! A client created in the console acts with its owner's authority, so it
//! can never have more: it works only while the owner is enabled and
//! holds the credentials the client was registered (or last re-keyed)
//! under, and only for the scopes the owner's roles grant today.

use std::collections::BTreeSet;

use diesel::prelude::*;

use super::clients::Client;
use super::users;
use super::AnyConnection;

/// The bound a client's owner puts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// Registered by an administrator: bounded by its registration alone.
    Unowned,
    /// Its owner stands: at most these scopes, and no token issued before
    /// `tokens_valid_after` (the owner's last disable or password change).
    Owner {
        /// What the owner's roles grant now.
        scopes: BTreeSet<String>,
        /// The owner's credential generation (the client's, too).
        generation: i64,
        /// The owner's `tokens_valid_after`.
        tokens_valid_after: i64,
    },
    /// Its owner is deleted or disabled, or changed their password since
    /// the client was last re-keyed: the client gets nothing.
    Suspended,
}

impl Bound {
    /// Whether a token of the client, issued at `iat` for `scope`
    /// (space-separated), stands under this bound: for a user's client,
    /// issued under the owner's current credentials and within what the
    /// owner's roles grant now. The client's own tokens carry the owner's
    /// `generation` they were issued under, which decides even within the
    /// second of a change; a user's token through the client (`None`) is
    /// judged by `iat`.
    pub fn admits(&self, scope: &str, iat: i64, generation: Option<i64>) -> bool {
        match self {
            Bound::Unowned => true,
            Bound::Suspended => false,
            Bound::Owner {
                scopes,
                generation: current,
                tokens_valid_after,
            } => {
                let current_credentials = match generation {
                    Some(g) => g == *current,
                    None => iat >= *tokens_valid_after,
                };
                current_credentials && scope.split_whitespace().all(|s| scopes.contains(s))
            }
        }
    }

    /// The bound from the owner's row as read now (`None`: deleted) and
    /// their roles' scopes.
    fn judge(
        owner_generation: Option<i64>,
        owner: Option<(bool, i64, i64)>,
        scopes: impl FnOnce() -> QueryResult<BTreeSet<String>>,
    ) -> QueryResult<Bound> {
        let Some(bound_to) = owner_generation else {
            return Ok(Bound::Unowned);
        };
        match owner {
            Some((disabled, generation, tokens_valid_after))
                if !disabled && generation == bound_to =>
            {
                Ok(Bound::Owner {
                    scopes: scopes()?,
                    generation,
                    tokens_valid_after,
                })
            }
            _ => Ok(Bound::Suspended),
        }
    }
}

/// The bound on `client` now: no query for an administrator's client, two
/// (the owner, their scopes) for a user's.
pub fn bound(conn: &mut AnyConnection, client: &Client) -> QueryResult<Bound> {
    bound_of(conn, client.owner_id.as_deref(), client.owner_generation)
}

/// [`bound`] from the client's two owner columns.
pub fn bound_of(
    conn: &mut AnyConnection,
    owner_id: Option<&str>,
    owner_generation: Option<i64>,
) -> QueryResult<Bound> {
    if owner_generation.is_none() {
        return Ok(Bound::Unowned);
    }
    let owner = match owner_id {
        Some(id) => users::by_id(conn, id)?,
        None => None,
    };
    let id = owner.as_ref().map(|u| u.id.clone()).unwrap_or_default();
    let state = owner.map(|u| (u.disabled, u.credential_generation, u.tokens_valid_after));
    Bound::judge(owner_generation, state, || users::scopes_of(conn, &id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes() -> QueryResult<BTreeSet<String>> {
        Ok(["read".to_string()].into())
    }

    #[test]
    fn a_token_stands_within_the_owner_s_scopes_and_credentials() {
        let bound = Bound::judge(Some(2), Some((false, 2, 100)), scopes).unwrap();
        assert!(bound.admits("read", 100, None));
        assert!(bound.admits("", 100, None));
        let before = bound.admits("read", 99, None);
        assert!(!before, "issued before the owner's change");
        let lost = bound.admits("read write", 100, None);
        assert!(!lost, "a scope the owner lost");
        // The client's own token: its generation decides, not the second.
        assert!(bound.admits("read", 50, Some(2)));
        assert!(!bound.admits("read", 100, Some(1)));
        assert!(Bound::Unowned.admits("anything", 0, None));
        assert!(!Bound::Suspended.admits("", i64::MAX, None));
    }

    #[test]
    fn an_unowned_client_is_unbounded() {
        assert_eq!(Bound::judge(None, None, scopes).unwrap(), Bound::Unowned);
    }

    #[test]
    fn the_owner_bounds_only_while_enabled_and_on_the_same_credentials() {
        let live = Bound::judge(Some(3), Some((false, 3, 100)), scopes).unwrap();
        assert_eq!(
            live,
            Bound::Owner {
                scopes: ["read".to_string()].into(),
                generation: 3,
                tokens_valid_after: 100
            }
        );
        for owner in [None, Some((true, 3, 100)), Some((false, 4, 100))] {
            let bound = Bound::judge(Some(3), owner, scopes).unwrap();
            assert_eq!(bound, Bound::Suspended, "{owner:?}");
        }
    }
}
