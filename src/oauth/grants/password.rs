//! The resource owner password credentials grant (RFC 6749 §4.3).
//! oxide-auth has no flow for it; it is built on its primitives: the
//! Registrar authenticates the client and negotiates the scope, we verify
//! the user, and the Issuer issues.

use super::{authenticate_for, TokenResponse};
use crate::db::clients::Client;
use crate::db::users::{self, User};
use crate::db::{self, AnyConnection};
use crate::grant_type::GrantType;
use crate::oauth::client_auth::{ClientAuth, DbRegistrar};
use crate::oauth::context::GrantCtx;
use crate::oauth::error::OAuthError;
use crate::password::Verified;
use crate::scope::{self, ScopeSet};
use crate::secret::Secret;

/// Runs the grant.
pub async fn run(
    ctx: GrantCtx,
    auth: ClientAuth,
    username: String,
    password: Secret,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, OAuthError> {
    let (client, offered, user) = ctx
        .db
        .run(move |conn| read_request(conn, &auth, &username, requested.as_ref()))
        .await?;

    // The password, off the workers and within the hashing limit. An
    // unknown user is checked against a dummy hash: same work, same time.
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = ctx.passwords.verify(password, stored).await?;
    let (user, rehash) = match (verified, user) {
        (Verified::Match { rehash }, Some(user)) if !user.disabled => (user, rehash),
        _ => return Err(OAuthError::bad_credentials()),
    };

    ctx.db
        .clone()
        .run(move |conn| {
            let now = ctx.clock.now();
            db::write_tx(conn, |conn| {
                issue(conn, &ctx, now, &client, &user, &offered, rehash)
            })
        })
        .await
}

/// Client, grant, scope, and the user record: one read.
fn read_request(
    conn: &mut AnyConnection,
    auth: &ClientAuth,
    username: &str,
    requested: Option<&ScopeSet>,
) -> Result<(Client, ScopeSet, Option<User>), OAuthError> {
    let registrar = DbRegistrar::new(conn);
    let client = authenticate_for(&registrar, auth, GrantType::Password)?;
    let offered = registrar.negotiate_scope(&client, requested)?;
    drop(registrar);
    let user = users::by_username(conn, username)?;
    Ok((client, offered, user))
}

/// Stores a rehash if one is due, narrows the scope to the user's roles,
/// and issues (inside the caller's write transaction).
fn issue(
    conn: &mut AnyConnection,
    ctx: &GrantCtx,
    now: i64,
    client: &Client,
    user: &User,
    offered: &ScopeSet,
    rehash: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    if let Some(hash) = rehash {
        users::set_password_hash(conn, &user.id, &hash, false, now)?;
    }
    let user_scopes = users::scopes_of(conn, &user.id)?;
    let granted = scope::for_user(offered, &user_scopes).ok_or_else(|| {
        OAuthError::InvalidScope("the user's roles grant none of the requested scopes".into())
    })?;
    let with_refresh = client.allows_grant(GrantType::RefreshToken.as_str());
    let grant = ctx.grant(&user.id, client, &granted, with_refresh, now)?;
    let issued = ctx.token_issuer(conn, now).issue_tokens(&grant)?;
    Ok(TokenResponse::new(issued, &granted, ctx.issuer.access_ttl))
}
