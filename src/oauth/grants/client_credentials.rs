//! The client credentials grant (RFC 6749 §4.4): confidential clients only,
//! `sub` is the client, no refresh token (§4.4.3).

use super::{authenticate_for, within_owner, TokenResponse};
use crate::db::clients::Client;
use crate::db::owners;
use crate::db::DbError;
use crate::grant_type::GrantType;
use crate::oauth::client_auth::{ClientAuth, DbRegistrar};
use crate::oauth::context::GrantCtx;
use crate::oauth::error::OAuthError;
use crate::oauth::issuer::Unsigned;
use crate::scope::ScopeSet;

/// Runs the grant. Nothing is stored: the client is read ([`Db::client`],
/// or found in the client cache, when it is on), a user's client bounded
/// by its owner, then the token signed, so signing never holds a
/// connection.
///
/// [`Db::client`]: crate::db::Db::client
pub async fn run(
    ctx: GrantCtx,
    auth: ClientAuth,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, OAuthError> {
    let (client, granted) = match ctx.clients.hit(auth.client_id(), auth.secret()) {
        Some(known) => check(&DbRegistrar::known(known), &auth, requested.as_ref())?,
        None => {
            let read_at = ctx.clients.epoch();
            let found = ctx.db.client(auth.client_id()).await?;
            let checked = check(&DbRegistrar::only(found), &auth, requested.as_ref())?;
            ctx.clients.put(&checked.0, read_at);
            checked
        }
    };
    // A user's client, read each time (never cached): its owner's
    // disable, password change or lost role takes effect at once.
    let granted = if client.is_owned() {
        let owned = client.clone();
        let bound = ctx
            .db
            .run(move |conn| owners::bound(conn, &owned).map_err(DbError::Query))
            .await?;
        within_owner(&bound, granted)?
    } else {
        granted
    };
    let now = ctx.clock.now();
    // A user's client's token remembers the owner's credentials it was
    // issued under (introspection compares them).
    let generation = client.owner_generation;
    let grant = ctx.grant(&client.client_id, &client, &granted, generation, false, now)?;
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
