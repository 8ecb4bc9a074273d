//! The grant types a client may be registered for.

use std::fmt;
use std::str::FromStr;

/// An OAuth 2.0 grant type (RFC 6749 §4, §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GrantType {
    /// Resource owner password credentials (§4.3).
    Password,
    /// Refresh token (§6).
    RefreshToken,
    /// Client credentials (§4.4).
    ClientCredentials,
    /// Authorization code with PKCE (§4.1, RFC 7636).
    AuthorizationCode,
}

impl GrantType {
    /// Every grant type, in the order metadata lists them.
    pub const ALL: [GrantType; 4] = [
        GrantType::AuthorizationCode,
        GrantType::Password,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::Password => "password",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::AuthorizationCode => "authorization_code",
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GrantType {
    type Err = String;

    fn from_str(s: &str) -> Result<GrantType, String> {
        GrantType::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown grant '{s}' (use password, refresh_token, client_credentials or authorization_code)"
                )
            })
    }
}
