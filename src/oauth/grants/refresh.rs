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
use crate::oauth::rotation::{self, Found, Presented, Reuse};
use crate::scope::{self, RefreshScopeError, ScopeSet};
use crate::secret::Secret;

fn invalid() -> OAuthError {
    OAuthError::InvalidGrant("refresh token is invalid, expired or revoked".into())
}

/// Runs the grant in three steps: on a pooled connection, authenticate
/// the client, read the token and its user and narrow the scope; in one
/// write (on SQLite, batched by the single writer), claim the token and
/// store its successor, or revoke a reused family; after the commit, sign.
/// The write does no reads beyond the claim, so that SQLite's one writer
/// spends its time on nothing else.
pub async fn run(
    ctx: GrantCtx,
    auth: ClientAuth,
    presented: Secret,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, OAuthError> {
    let now = ctx.clock.now();
    let (client, found, granted) = ctx
        .db
        .run(move |conn| {
            let client = authenticate_for(&DbRegistrar::new(conn), &auth, GrantType::RefreshToken)?;
            let found = rotation::look_up(conn, &presented, &client.client_id, now)?;
            // A scope refused here leaves the token unclaimed, as §6 wants
            // for a failed request.
            let granted = match &found {
                Found::Live { token, user } => Some(narrow_scope(
                    conn,
                    token,
                    user,
                    &client,
                    requested.as_ref(),
                )?),
                _ => None,
            };
            Ok::<_, OAuthError>((client, found, granted))
        })
        .await?;
    let work = ctx.clone();
    let outcome = match (found, granted) {
        (Found::Invalid, _) | (Found::Live { .. }, None) => return Err(invalid()),
        (Found::Used(row), _) => {
            ctx.db
                .write(move |conn| {
                    let reused = Some(rotation::reuse(conn, row, now)?);
                    Ok::<_, OAuthError>(Rotated::Refused { reused })
                })
                .await?
        }
        (Found::Live { token, user }, Some(granted)) => {
            ctx.db
                .write(move |conn| {
                    // The time of the write, not of the read before it.
                    let now = work.clock.now();
                    let presented = rotation::claim_found(conn, token, user, now)?;
                    let (token, user) = match presented {
                        Presented::Claimed { token, user } => (token, user),
                        Presented::Reused(reuse) => {
                            return Ok(Rotated::Refused {
                                reused: Some(reuse),
                            })
                        }
                        Presented::Invalid => return Ok(Rotated::Refused { reused: None }),
                    };
                    // The successor inherits the family's generation in
                    // `store_rotation`.
                    let grant = work.grant(
                        &user.id,
                        &client,
                        &granted,
                        Some(token.generation),
                        false,
                        now,
                    )?;
                    let unsigned = work
                        .token_issuer(conn, now)
                        .store_rotation(&token, &grant)?;
                    Ok::<_, OAuthError>(Rotated::New(Box::new(unsigned), granted))
                })
                .await?
        }
    };
    match outcome {
        Rotated::New(unsigned, granted) => {
            let issued = unsigned.sign(&ctx.keys)?;
            Ok(TokenResponse::new(issued, &granted, ctx.issuer.access_ttl))
        }
        Rotated::Refused { reused } => {
            // Committed by now: the family is revoked.
            if let Some(reuse) = reused {
                reuse.audit();
                ctx.metrics.refresh_reused();
            }
            Err(invalid())
        }
    }
}

/// What the write did: a successor stored, or a refusal (with a reuse,
/// whose family revocation commits although the request fails).
enum Rotated {
    New(Box<Unsigned>, ScopeSet),
    Refused { reused: Option<Reuse> },
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
