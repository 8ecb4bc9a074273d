//! The refresh token grant (RFC 6749 §6) with rotation and reuse detection
//! (RFC 9700 §4.14.2): every use returns a new token and retires the old;
//! presenting a retired token revokes its whole family. The rules
//! themselves live in [`crate::oauth::rotation`].

use super::{authenticate_for, TokenResponse};
use crate::db::clients::Client;
use crate::db::refresh_tokens::RefreshToken;
use crate::db::users::{self, User};
use crate::db::AnyConnection;
use crate::grant_type::GrantType;
use crate::oauth::client_auth::{ClientAuth, DbRegistrar};
use crate::oauth::context::GrantCtx;
use crate::oauth::error::OAuthError;
use crate::oauth::issuer::Unsigned;
use crate::oauth::rotation::{self, Presented};
use crate::scope::{self, RefreshScopeError, ScopeSet};
use crate::secret::Secret;

fn invalid() -> OAuthError {
    OAuthError::InvalidGrant("refresh token is invalid, expired or revoked".into())
}

/// Runs the grant: authenticates the client on a pooled connection,
/// claims and rotates in one write (on SQLite, batched by the writer with
/// other writes), and signs the new access token after the commit.
pub async fn run(
    ctx: GrantCtx,
    auth: ClientAuth,
    presented: Secret,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, OAuthError> {
    let client = ctx
        .db
        .run(move |conn| authenticate_for(&DbRegistrar::new(conn), &auth, GrantType::RefreshToken))
        .await?;
    let work = ctx.clone();
    let (unsigned, granted) = ctx
        .db
        .write(move |conn| {
            let now = work.clock.now();
            rotate(conn, &work, now, &client, &presented, requested.as_ref())
        })
        .await??;
    let issued = unsigned.sign(&ctx.keys)?;
    Ok(TokenResponse::new(issued, &granted, ctx.issuer.access_ttl))
}

/// Claims the presented token and stores its successor. The outer `Err`
/// rolls the write back (the claim with it); the inner one is an answer
/// that commits, so that a reuse's family revocation stands although the
/// request fails.
fn rotate(
    conn: &mut AnyConnection,
    ctx: &GrantCtx,
    now: i64,
    client: &Client,
    presented: &Secret,
    requested: Option<&ScopeSet>,
) -> Result<Result<(Unsigned, ScopeSet), OAuthError>, OAuthError> {
    let (claimed, user) = match rotation::present(conn, presented, &client.client_id, now)? {
        Presented::Claimed { token, user } => (token, user),
        Presented::Reused(_) => {
            ctx.metrics.refresh_reused();
            return Ok(Err(invalid()));
        }
        Presented::Invalid => return Ok(Err(invalid())),
    };
    let granted = narrow_scope(conn, &claimed, &user, client, requested)?;
    // The successor inherits the family's generation in `store_rotation`.
    let grant = ctx.grant(
        &user.id,
        client,
        &granted,
        Some(claimed.generation),
        false,
        now,
    )?;
    let unsigned = ctx
        .token_issuer(conn, now)
        .store_rotation(&claimed, &grant)?;
    Ok(Ok((unsigned, granted)))
}

/// Within the original grant (§6), and still within what the client and
/// the user's roles allow today.
fn narrow_scope(
    conn: &mut AnyConnection,
    claimed: &RefreshToken,
    user: &User,
    client: &Client,
    requested: Option<&ScopeSet>,
) -> Result<ScopeSet, OAuthError> {
    let original = scope::parse([claimed.scope.as_str()]).unwrap_or_default();
    let registered = scope::parse([client.scopes.as_str()]).unwrap_or_default();
    let user_scopes = users::scopes_of(conn, &user.id)?;
    scope::for_refresh(&original, requested, &registered, &user_scopes).map_err(|e| {
        OAuthError::InvalidScope(
            match e {
                RefreshScopeError::ExceedsGrant => "the requested scope exceeds the original grant",
                RefreshScopeError::NoneLeft => "none of the requested scopes is still granted",
            }
            .into(),
        )
    })
}
