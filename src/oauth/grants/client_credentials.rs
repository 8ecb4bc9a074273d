//! The client credentials grant (RFC 6749 §4.4): confidential clients only,
//! `sub` is the client, no refresh token (§4.4.3).

use super::{authenticate_for, TokenResponse};
use crate::db::clients::Client;
use crate::grant_type::GrantType;
use crate::oauth::client_auth::{ClientAuth, DbRegistrar};
use crate::oauth::context::GrantCtx;
use crate::oauth::error::OAuthError;
use crate::oauth::issuer::Unsigned;
use crate::scope::ScopeSet;

/// Runs the grant. Nothing is stored: the client is read on a pooled
/// connection (or found in the client cache, when it is on) and the token
/// signed after the connection is given back, so signing never holds one.
pub async fn run(
    ctx: GrantCtx,
    auth: ClientAuth,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, OAuthError> {
    let (client, granted) = match ctx.clients.hit(auth.client_id(), auth.secret()) {
        Some(known) => check(&DbRegistrar::known(known), &auth, requested.as_ref())?,
        None => {
            let (cache, read_at) = (ctx.clients.clone(), ctx.clients.epoch());
            ctx.db
                .run(move |conn| {
                    let checked = check(&DbRegistrar::new(conn), &auth, requested.as_ref())?;
                    cache.put(&checked.0, read_at);
                    Ok::<_, OAuthError>(checked)
                })
                .await?
        }
    };
    let now = ctx.clock.now();
    let grant = ctx.grant(&client.client_id, &client, &granted, None, false, now)?;
    let issued = Unsigned::new(&ctx.issuer, now, &grant, None).sign(&ctx.keys)?;
    Ok(TokenResponse::new(issued, &granted, ctx.issuer.access_ttl))
}

/// Authenticates the client for this grant and negotiates the scope.
fn check(
    registrar: &DbRegistrar,
    auth: &ClientAuth,
    requested: Option<&ScopeSet>,
) -> Result<(Client, ScopeSet), OAuthError> {
    let client = authenticate_for(registrar, auth, GrantType::ClientCredentials)?;
    let granted = registrar.negotiate_scope(&client, requested)?;
    Ok((client, granted))
}
