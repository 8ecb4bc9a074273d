//! `GET` and `POST /oauth/userinfo` (OpenID Connect Core 1.0 §5.3): the
//! claims about the signed-in user that the access token's scopes
//! release, as the user is now. The token is checked exactly as
//! introspection checks one ([`super::bearer::live_access`]): a
//! token that was revoked, or whose user was disabled or given a new
//! password since, or whose client was removed, is `invalid_token`
//! (RFC 6750 §3.1), like an expired or forged one.
//!
//! The token comes in the `Authorization: Bearer` header (RFC 6750 §2.1),
//! the way Core 1.0 §5.3.1 recommends and relying-party libraries send it.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::access_token::Holder;
use super::bearer::live_access;
use super::error::{no_store, OAuthError};
use super::id_token::{needs_profile, profile_claims, ProfileClaims};
use super::metadata::OPENID;
use crate::scope;
use crate::state::AppState;

/// Where UserInfo is mounted.
pub const PATH: &str = "/oauth/userinfo";

/// The UserInfo response (Core 1.0 §5.3.2): `sub`, and what the scopes
/// release, by the same rule as the ID token's claims.
#[derive(Debug, Serialize)]
pub struct UserInfo {
    /// The user's id, the `sub` of their ID tokens.
    pub sub: String,
    /// What the scopes release.
    #[serde(flatten)]
    pub profile: ProfileClaims,
}

/// The handler of both methods.
pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let live = live_access(&req, &state).await?;
    let Holder::User(user) = live.holder else {
        return Err(OAuthError::InvalidToken(
            "the access token was issued to a client for itself: it names no user".into(),
        ));
    };
    let scopes = scope::parse([live.claims.scope.as_str()]).unwrap_or_default();
    if !scopes.contains(OPENID) {
        return Err(OAuthError::InsufficientScope(OPENID));
    }
    let profile = match needs_profile(&scopes) {
        true => state.db.profile(&user.id).await?,
        false => None,
    };
    let mut res = HttpResponse::Ok().json(UserInfo {
        profile: profile_claims((&user, profile.as_ref()), &scopes),
        sub: user.id,
    });
    no_store(&mut res);
    Ok(res)
}
