//! The authorization code grant at the token endpoint (RFC 6749 §4.1.3).
//! Exchanging codes is not enabled in this build; the client is still
//! authenticated first, as for every grant, so that a confidential client
//! without its secret gets `invalid_client` whatever grant it names.

use super::{authenticate_for, TokenResponse};
use crate::grant_type::GrantType;
use crate::oauth::client_auth::{ClientAuth, DbRegistrar};
use crate::oauth::context::GrantCtx;
use crate::oauth::error::OAuthError;

/// Authenticates the client, then refuses the grant.
pub async fn run(ctx: GrantCtx, auth: ClientAuth) -> Result<TokenResponse, OAuthError> {
    ctx.db
        .run(move |conn| {
            authenticate_for(&DbRegistrar::new(conn), &auth, GrantType::AuthorizationCode)
        })
        .await?;
    Err(OAuthError::UnsupportedGrantType(
        "authorization_code is not enabled on this server".into(),
    ))
}
