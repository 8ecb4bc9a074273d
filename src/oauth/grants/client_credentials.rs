//! The client credentials grant (RFC 6749 §4.4): confidential clients only,
//! `sub` is the client, no refresh token (§4.4.3).

use super::{authenticate_for, TokenResponse};
use crate::grant_type::GrantType;
use crate::oauth::client_auth::{ClientAuth, DbRegistrar};
use crate::oauth::context::GrantCtx;
use crate::oauth::error::OAuthError;
use crate::scope::ScopeSet;

/// Runs the grant.
pub async fn run(
    ctx: GrantCtx,
    auth: ClientAuth,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, OAuthError> {
    ctx.db
        .clone()
        .run(move |conn| {
            let now = ctx.clock.now();
            let registrar = DbRegistrar::new(conn);
            let client = authenticate_for(&registrar, &auth, GrantType::ClientCredentials)?;
            let granted = registrar.negotiate_scope(&client, requested.as_ref())?;
            drop(registrar);
            let grant = ctx.grant(&client.client_id, &client, &granted, None, false, now)?;
            let issued = ctx.token_issuer(conn, now).issue_tokens(&grant)?;
            Ok(TokenResponse::new(issued, &granted, ctx.issuer.access_ttl))
        })
        .await
}
