//! The client credentials grant (RFC 6749 §4.4): confidential clients only,
//! `sub` is the client, no refresh token (§4.4.3).

use super::{require_grant, GrantCtx, TokenResponse};
use crate::app::AppState;
use crate::db;
use crate::oauth::client_auth::{ClientAuth, DbRegistrar};
use crate::oauth::error::OAuthError;
use crate::oauth::grant_type::GrantType;
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
    let ctx = GrantCtx::new(state);
    state
        .db
        .run(move |conn| {
            let now = db::now();
            let registrar = DbRegistrar::new(conn);
            let client = registrar.authenticate(&auth)?;
            require_grant(&client, GrantType::ClientCredentials)?;
            let granted = registrar.negotiate_scope(&client, requested.as_ref())?;
            drop(registrar);
            let grant = ctx.grant(&client.client_id, &client, &granted, false)?;
            ctx.issue(conn, now, grant, &granted)
        })
        .await
}
