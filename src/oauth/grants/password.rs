//! The resource owner password credentials grant (RFC 6749 §4.3).
//! oxide-auth has no flow for it; it is built on its primitives: the
//! Registrar authenticates the client and negotiates the scope, we verify
//! the user, and the Issuer issues.

use chrono::Utc;
use oxide_auth::endpoint::Issuer;
use oxide_auth::primitives::grant::Grant;

use super::{audience, issuer_config, no_redirect, oxide_scope, require_grant, TokenResponse};
use crate::app::AppState;
use crate::db::{self, users};
use crate::oauth::client_auth::{ClientAuth, DbRegistrar};
use crate::oauth::error::OAuthError;
use crate::oauth::grant_type::GrantType;
use crate::oauth::issuer::{extensions, TokenIssuer};
use crate::oauth::scope::{self, ScopeSet};
use crate::password::Verified;
use crate::secret::Secret;

/// Runs the grant.
pub async fn run(
    state: &AppState,
    auth: ClientAuth,
    username: String,
    password: Secret,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, OAuthError> {
    // 1. Client, grant, scope, and the user record: one read.
    let (client, offered, user) = state
        .db
        .run(move |conn| {
            let registrar = DbRegistrar::new(conn);
            let client = registrar.authenticate(&auth)?;
            require_grant(&client, GrantType::Password)?;
            let offered = registrar.negotiate_scope(&client, requested.as_ref())?;
            drop(registrar);
            let user = users::by_username(conn, &username)?;
            Ok::<_, OAuthError>((client, offered, user))
        })
        .await?;

    // 2. The password, off the workers and within the hashing limit. An
    // unknown user is checked against a dummy hash: same work, same time.
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = state.passwords.verify(password, stored).await?;
    let (user, rehash) = match (verified, user) {
        (Verified::Match { rehash }, Some(user)) if !user.disabled => (user, rehash),
        _ => return Err(OAuthError::bad_credentials()),
    };

    // 3. Narrow to the user's roles and issue, in one transaction.
    let keys = state.keys.current();
    let st = state.clone();
    let with_refresh = client.allows_grant(GrantType::RefreshToken.as_str());
    let aud = audience(&client, &state.issuer);
    let client_id = client.client_id.clone();
    let ttl = state.settings.access_token_ttl;
    state
        .db
        .run(move |conn| {
            let now = db::now();
            db::write_tx(conn, |conn| {
                if let Some(hash) = rehash {
                    users::set_password_hash(conn, &user.id, &hash, false, now)?;
                }
                let user_scopes = users::scopes_of(conn, &user.id)?;
                let granted = scope::for_user(&offered, &user_scopes).ok_or_else(|| {
                    OAuthError::InvalidScope(
                        "the user's roles grant none of the requested scopes".into(),
                    )
                })?;
                let grant = Grant {
                    owner_id: user.id.clone(),
                    client_id,
                    scope: oxide_scope(&granted)?,
                    redirect_uri: no_redirect(),
                    until: Utc::now(),
                    extensions: extensions(&aud, with_refresh),
                };
                let mut issuer = TokenIssuer::new(conn, issuer_config(&st, &keys, now));
                match issuer.issue(grant) {
                    Ok(token) => Ok(TokenResponse::issued(token, &granted, ttl)),
                    Err(()) => Err(issuer.take_error()),
                }
            })
        })
        .await
}
