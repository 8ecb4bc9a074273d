//! The client credentials grant (RFC 6749 §4.4): confidential clients only,
//! `sub` is the client, no refresh token (§4.4.3).

use super::{authenticate_for, TokenResponse};
use crate::grant_type::GrantType;
use crate::oauth::client_auth::{ClientAuth, DbRegistrar};
use crate::oauth::context::GrantCtx;
use crate::oauth::error::OAuthError;
use crate::oauth::issuer::Unsigned;
use crate::scope::ScopeSet;

/// Runs the grant. Nothing is stored: the client is read on a pooled
/// connection and the token signed after it is given back, so signing
/// never holds a connection.
pub async fn run(
    ctx: GrantCtx,
    auth: ClientAuth,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, OAuthError> {
    let (client, granted) = ctx
        .db
        .run(move |conn| {
            let registrar = DbRegistrar::new(conn);
            let client = authenticate_for(&registrar, &auth, GrantType::ClientCredentials)?;
            let granted = registrar.negotiate_scope(&client, requested.as_ref())?;
            Ok::<_, OAuthError>((client, granted))
        })
        .await?;
    let now = ctx.clock.now();
    let grant = ctx.grant(&client.client_id, &client, &granted, None, false, now)?;
    let issued = Unsigned::new(&ctx.issuer, now, &grant, None).sign(&ctx.keys)?;
    Ok(TokenResponse::new(issued, &granted, ctx.issuer.access_ttl))
}
