//! The grant types: each authenticates the client, applies its rules, and
//! issues through [`crate::oauth::issuer::TokenIssuer`].

pub mod client_credentials;
pub mod password;
pub mod refresh;

use actix_web::HttpResponse;
use oxide_auth::primitives::issuer::{IssuedToken, RefreshedToken};
use serde::Serialize;

use super::error::{no_store, OAuthError};
use super::grant_type::GrantType;
use super::issuer::IssuerConfig;
use super::scope::{self, ScopeSet};
use crate::app::AppState;
use crate::db::clients::Client;
use crate::keys::KeySnapshot;

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// What was granted (always present).
    pub scope: String,
    /// A refresh token, when issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl TokenResponse {
    fn new(token: String, refresh: Option<String>, scope: &ScopeSet, expires_in: i64) -> Self {
        TokenResponse {
            access_token: token,
            token_type: "Bearer",
            expires_in,
            scope: scope::join(scope),
            refresh_token: refresh,
        }
    }

    pub(crate) fn issued(t: IssuedToken, scope: &ScopeSet, ttl: i64) -> Self {
        Self::new(t.token, t.refresh, scope, ttl)
    }

    pub(crate) fn refreshed(t: RefreshedToken, scope: &ScopeSet, ttl: i64) -> Self {
        Self::new(t.token, t.refresh, scope, ttl)
    }

    /// 200 with `Cache-Control: no-store` (RFC 6749 §5.1).
    pub fn into_response(self) -> HttpResponse {
        let mut res = HttpResponse::Ok().json(self);
        no_store(&mut res);
        res
    }
}

/// `unauthorized_client` unless the client is registered for `grant`.
pub(crate) fn require_grant(client: &Client, grant: GrantType) -> Result<(), OAuthError> {
    if client.allows_grant(grant.as_str()) {
        Ok(())
    } else {
        Err(OAuthError::UnauthorizedClient(format!(
            "this client may not use the {grant} grant"
        )))
    }
}

/// The `aud` for a client's tokens.
pub(crate) fn audience(client: &Client, issuer: &str) -> String {
    client
        .audience
        .clone()
        .unwrap_or_else(|| issuer.to_string())
}

/// Issuer settings for a request at `now`.
pub(crate) fn issuer_config<'k>(
    state: &'k AppState,
    keys: &'k KeySnapshot,
    now: i64,
) -> IssuerConfig<'k> {
    IssuerConfig {
        keys,
        issuer: &state.issuer,
        access_ttl: state.settings.access_token_ttl,
        refresh_ttl: state.settings.refresh_token_ttl,
        now,
    }
}

/// An oxide-auth `Scope` from our set (both follow RFC 6749 §3.3).
pub(crate) fn oxide_scope(set: &ScopeSet) -> Result<oxide_auth::endpoint::Scope, OAuthError> {
    scope::join(set)
        .parse()
        .map_err(|_| OAuthError::Internal("scope does not convert".into()))
}

/// The placeholder redirect of grants without one.
pub(crate) fn no_redirect() -> url::Url {
    url::Url::parse("urn:ietf:wg:oauth:2.0:oob").expect("static URL parses")
}
