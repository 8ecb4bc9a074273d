//! The refresh token grant (RFC 6749 §6) with rotation and reuse detection
//! (RFC 9700 §4.14.2): every use returns a new token and retires the old;
//! presenting a retired token revokes its whole family.

use super::{require_grant, GrantCtx, TokenResponse};
use crate::app::AppState;
use crate::db::refresh_tokens::{self, RefreshToken};
use crate::db::{self, users, AnyConnection};
use crate::oauth::client_auth::{ClientAuth, DbRegistrar};
use crate::oauth::error::OAuthError;
use crate::oauth::grant_type::GrantType;
use crate::oauth::scope::{self, ScopeSet};
use crate::secret::Secret;

fn invalid() -> OAuthError {
    OAuthError::InvalidGrant("refresh token is invalid, expired or revoked".into())
}

/// Revokes the family in its own committed transaction, so the revocation
/// stands although the request fails.
fn revoke_family(conn: &mut AnyConnection, row: &RefreshToken, now: i64) -> Result<(), OAuthError> {
    let n = db::write_tx(conn, |conn| {
        refresh_tokens::revoke_family(conn, &row.family_id, now)
    })?;
    log::warn!(
        "refresh token reuse detected (client {}, user {}): revoked {n} token(s) of its family",
        row.client_id,
        row.user_id
    );
    Ok(())
}

/// Runs the grant.
pub async fn run(
    state: &AppState,
    auth: ClientAuth,
    presented: Secret,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, OAuthError> {
    let ctx = GrantCtx::new(state);
    state
        .db
        .run(move |conn| {
            let now = db::now();
            let registrar = DbRegistrar::new(conn);
            let client = registrar.authenticate(&auth)?;
            require_grant(&client, GrantType::RefreshToken)?;
            drop(registrar);

            let row = refresh_tokens::find(conn, &presented.hash())?.ok_or_else(invalid)?;
            // A token works only for the client it was issued to (§6);
            // another client presenting it proves nothing about reuse.
            if row.client_id != client.client_id {
                return Err(invalid());
            }
            if row.revoked_at.is_some() {
                return Err(invalid());
            }
            if row.used_at.is_some() {
                revoke_family(conn, &row, now)?;
                return Err(invalid());
            }
            if row.expires_at <= now {
                return Err(invalid());
            }
            let user = users::by_id(conn, &row.user_id)?.ok_or_else(invalid)?;
            if user.disabled || row.issued_at < user.tokens_valid_after {
                return Err(invalid());
            }

            // Scope: within the original grant (§6), and still within what
            // the client and the user's roles allow today.
            let original = scope::parse([row.scope.as_str()]).unwrap_or_default();
            let wanted = match &requested {
                Some(req) if !req.is_subset(&original) => {
                    return Err(OAuthError::InvalidScope(
                        "the requested scope exceeds the original grant".into(),
                    ))
                }
                Some(req) => req.clone(),
                None => original,
            };
            let client_scopes = scope::parse([client.scopes.as_str()]).unwrap_or_default();
            let user_scopes = users::scopes_of(conn, &user.id)?;
            let granted: ScopeSet = wanted
                .intersection(&client_scopes)
                .filter(|s| user_scopes.contains(*s))
                .cloned()
                .collect();
            if granted.is_empty() {
                return Err(OAuthError::InvalidScope(
                    "none of the requested scopes is still granted".into(),
                ));
            }

            let grant = ctx.grant(&user.id, &client, &granted, true)?;
            let rotated = db::write_tx(conn, |conn| {
                ctx.refresh(conn, now, presented.expose(), grant, &granted)
            });
            match rotated {
                // Lost the race for the claim: someone used it first, which
                // is reuse as far as this request can tell.
                Err(OAuthError::InvalidGrant(_)) => {
                    revoke_family(conn, &row, now)?;
                    Err(invalid())
                }
                other => other,
            }
        })
        .await
}
