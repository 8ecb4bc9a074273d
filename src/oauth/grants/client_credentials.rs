//! The client credentials grant (RFC 6749 §4.4): confidential clients only,
//! `sub` is the client, no refresh token (§4.4.3).

use chrono::Utc;
use oxide_auth::endpoint::Issuer;
use oxide_auth::primitives::grant::Grant;

use super::{audience, issuer_config, no_redirect, oxide_scope, require_grant, TokenResponse};
use crate::app::AppState;
use crate::db;
use crate::oauth::client_auth::{ClientAuth, DbRegistrar};
use crate::oauth::error::OAuthError;
use crate::oauth::grant_type::GrantType;
use crate::oauth::issuer::{extensions, TokenIssuer};
use crate::oauth::scope::ScopeSet;

/// Runs the grant.
pub async fn run(
    state: &AppState,
    auth: ClientAuth,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, OAuthError> {
    if matches!(auth, ClientAuth::Public { .. }) {
        // A public client cannot authenticate, so it cannot use this grant.
        return Err(OAuthError::UnauthorizedClient(
            "client_credentials needs a confidential client".into(),
        ));
    }
    let keys = state.keys.current();
    let st = state.clone();
    let ttl = state.settings.access_token_ttl;
    state
        .db
        .run(move |conn| {
            let now = db::now();
            let registrar = DbRegistrar::new(conn);
            let client = registrar.authenticate(&auth)?;
            require_grant(&client, GrantType::ClientCredentials)?;
            let granted = registrar.negotiate_scope(&client, requested.as_ref())?;
            drop(registrar);
            let grant = Grant {
                owner_id: client.client_id.clone(),
                client_id: client.client_id.clone(),
                scope: oxide_scope(&granted)?,
                redirect_uri: no_redirect(),
                until: Utc::now(),
                extensions: extensions(&audience(&client, &st.issuer), false),
            };
            let mut issuer = TokenIssuer::new(conn, issuer_config(&st, &keys, now));
            match issuer.issue(grant) {
                Ok(token) => Ok(TokenResponse::issued(token, &granted, ttl)),
                Err(()) => Err(issuer.take_error()),
            }
        })
        .await
}
