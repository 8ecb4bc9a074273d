//! Token Status Lists (draft-ietf-oauth-status-list): every access token
//! names a bit in a list that authd serves signed, so that resource
//! servers learn of a revocation without asking authd about each token
//! (docs/design.md "Status lists"). `crate::status` hands out the bits,
//! [`list`] builds and signs a list, [`serve`] answers its URI.

pub mod list;
pub mod serve;

use serde::{Deserialize, Serialize};

/// The path under the issuer where list `{id}` is served.
pub const PATH: &str = "/oauth/status/{id}";

/// The `status` claim of a token (draft-ietf-oauth-status-list §6.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenStatus {
    /// The token's entry in a status list.
    pub status_list: StatusRef,
}

/// A token's entry: its index in the list at `uri`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusRef {
    /// The index of the token's bit.
    pub idx: i64,
    /// Where the list is served.
    pub uri: String,
}

/// The URI of list `list_id` under `issuer`.
pub fn list_uri(issuer: &str, list_id: i64) -> String {
    format!("{}/oauth/status/{list_id}", issuer.trim_end_matches('/'))
}

impl TokenStatus {
    /// The entry at `idx` of list `list_id` under `issuer`.
    pub fn new(issuer: &str, list_id: i64, idx: i64) -> TokenStatus {
        TokenStatus {
            status_list: StatusRef {
                idx,
                uri: list_uri(issuer, list_id),
            },
        }
    }

    /// `(list_id, idx)` if the entry names a list of `issuer`.
    pub fn place(&self, issuer: &str) -> Option<(i64, i64)> {
        let prefix = list_uri(issuer, 0);
        let base = prefix.strip_suffix('0')?;
        let id = self.status_list.uri.strip_prefix(base)?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some((id.parse().ok()?, self.status_list.idx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_names_its_list_and_index() {
        let s = TokenStatus::new("https://id.example/", 3, 77);
        assert_eq!(s.status_list.uri, "https://id.example/oauth/status/3");
        assert_eq!(s.place("https://id.example"), Some((3, 77)));
        assert_eq!(s.place("https://other.example"), None);
        let mut odd = s.clone();
        odd.status_list.uri = "https://id.example/oauth/status/3x".into();
        assert_eq!(odd.place("https://id.example"), None);
    }
}
