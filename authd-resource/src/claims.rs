//! The claims of an access token as a resource server sees them.

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer};

/// The claims of a verified access token.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user's id, or the client's for client_credentials.
    pub sub: String,
    /// Audiences.
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issue time (Unix seconds).
    #[serde(default)]
    pub iat: i64,
    /// Token id.
    #[serde(default)]
    pub jti: String,
    /// The client the token was issued to.
    #[serde(default)]
    pub client_id: String,
    /// The granted scopes.
    #[serde(default, deserialize_with = "scope_set")]
    pub scope: BTreeSet<String>,
}

impl Claims {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.contains(scope)
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

fn scope_set<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<String>, D::Error> {
    let s = String::deserialize(d)?;
    Ok(s.split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_claim_parses_into_a_set() {
        let c: Claims = serde_json::from_value(serde_json::json!({
            "iss": "i", "sub": "s", "aud": ["a", "b"], "exp": 1, "scope": "b a"
        }))
        .unwrap();
        assert!(c.has_scope("a") && c.has_scope("b") && !c.has_scope("c"));
        assert_eq!(c.aud, ["a", "b"]);
    }
}
