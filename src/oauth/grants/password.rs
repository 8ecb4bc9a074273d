//! The resource owner password credentials grant (RFC 6749 §4.3).
//! oxide-auth has no flow for it; it is built on its primitives: the
//! Registrar authenticates the client and negotiates the scope, we verify
//! the user, and the Issuer issues.

use super::{require_grant, GrantCtx, TokenResponse};
use crate::app::AppState;
use crate::db::{self, users};
use crate::oauth::client_auth::{ClientAuth, DbRegistrar};
use crate::oauth::error::OAuthError;
use crate::oauth::grant_type::GrantType;
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
    let ctx = GrantCtx::new(state);
    let with_refresh = client.allows_grant(GrantType::RefreshToken.as_str());
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
                let grant = ctx.grant(&user.id, &client, &granted, with_refresh)?;
                ctx.issue(conn, now, grant, &granted)
            })
        })
        .await
}
