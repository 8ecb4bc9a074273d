//! The grant types: each authenticates the client, applies its rules, and
//! issues through [`crate::oauth::issuer::TokenIssuer`].

pub mod client_credentials;
pub mod password;
pub mod refresh;

use std::sync::Arc;

use actix_web::HttpResponse;
use chrono::Utc;
use oxide_auth::endpoint::Issuer;
use oxide_auth::primitives::grant::Grant;
use serde::Serialize;

use super::error::{no_store, OAuthError};
use super::grant_type::GrantType;
use super::issuer::{extensions, IssuerConfig, TokenIssuer};
use super::scope::{self, ScopeSet};
use crate::app::AppState;
use crate::db::clients::Client;
use crate::db::AnyConnection;
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

/// What a grant needs from the server, moved into its blocking closure:
/// the settings and the keys in force when the request arrived.
pub(crate) struct GrantCtx {
    state: AppState,
    keys: Arc<KeySnapshot>,
}

impl GrantCtx {
    pub(crate) fn new(state: &AppState) -> GrantCtx {
        GrantCtx {
            keys: state.keys.current(),
            state: state.clone(),
        }
    }

    /// The oxide-auth grant of `scope` to `owner` through `client`; its
    /// `until` is a placeholder, the Issuer sets lifetimes.
    pub(crate) fn grant(
        &self,
        owner: &str,
        client: &Client,
        scope: &ScopeSet,
        with_refresh: bool,
    ) -> Result<Grant, OAuthError> {
        let audience = client.audience.as_deref().unwrap_or(&self.state.issuer);
        Ok(Grant {
            owner_id: owner.to_string(),
            client_id: client.client_id.clone(),
            scope: scope::join(scope)
                .parse()
                .map_err(|_| OAuthError::Internal("scope does not convert".into()))?,
            redirect_uri: url::Url::parse("urn:ietf:wg:oauth:2.0:oob").expect("static URL parses"),
            until: Utc::now(),
            extensions: extensions(audience, with_refresh),
        })
    }

    fn issuer<'c>(&'c self, conn: &'c mut AnyConnection, now: i64) -> TokenIssuer<'c, 'c> {
        TokenIssuer::new(
            conn,
            IssuerConfig {
                keys: &self.keys,
                issuer: &self.state.issuer,
                access_ttl: self.state.settings.access_token_ttl,
                refresh_ttl: self.state.settings.refresh_token_ttl,
                now,
            },
        )
    }

    /// Issues through the Issuer (a new refresh-token family if asked).
    pub(crate) fn issue(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        grant: Grant,
        scope: &ScopeSet,
    ) -> Result<TokenResponse, OAuthError> {
        let mut issuer = self.issuer(conn, now);
        match issuer.issue(grant) {
            Ok(t) => Ok(TokenResponse::new(t.token, t.refresh, scope, self.ttl())),
            Err(()) => Err(issuer.take_error()),
        }
    }

    /// Rotates `presented` and issues through the Issuer.
    pub(crate) fn refresh(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        presented: &str,
        grant: Grant,
        scope: &ScopeSet,
    ) -> Result<TokenResponse, OAuthError> {
        let mut issuer = self.issuer(conn, now);
        match issuer.refresh(presented, grant) {
            Ok(t) => Ok(TokenResponse::new(t.token, t.refresh, scope, self.ttl())),
            Err(()) => Err(issuer.take_error()),
        }
    }

    fn ttl(&self) -> i64 {
        self.state.settings.access_token_ttl
    }
}
