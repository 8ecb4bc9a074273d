//! The client credentials grant (RFC 6749 §4.4): confidential clients only,
//! `sub` is the client, no refresh token (§4.4.3).

use super::{within_owner, TokenResponse};
use crate::grant_type::GrantType;
use crate::oauth::client_auth::{self, ClientAuth, DbRegistrar};
use crate::oauth::context::GrantCtx;
use crate::oauth::error::OAuthError;
use crate::oauth::issuer::Unsigned;
use crate::scope::ScopeSet;

/// Runs the grant. Nothing is stored: the client is authenticated
/// ([`client_auth::authenticate`]: the cache, or a combined read), bounded
/// by its owner if a user registered it, then the token signed, so signing
/// never holds a connection.
pub async fn run(
    ctx: GrantCtx,
    auth: ClientAuth,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, OAuthError> {
    let client = client_auth::authenticate(&ctx, &auth, Some(GrantType::ClientCredentials)).await?;
    let granted =
        DbRegistrar::known(client.clone()).negotiate_scope(&client, requested.as_ref())?;
    // A user's client, its owner read each time: a disable, a password
    // change or a lost role takes effect at once.
    let granted = within_owner(&client_auth::owner_bound(&ctx, &client).await?, granted)?;
    let now = ctx.clock.now();
    // A user's client's token remembers the owner's credentials it was
    // issued under (introspection compares them).
    let generation = client.owner_generation;
    let grant = ctx.grant(&client.client_id, &client, &granted, generation, false, now)?;
    let issued = ctx
        .sign_access(Unsigned::new(&ctx.issuer, now, &grant, None))
        .await?;
    Ok(TokenResponse::new(issued, &granted, ctx.issuer.access_ttl))
}
