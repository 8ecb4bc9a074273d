//! `GET` and `POST /oauth/userinfo` (OpenID Connect Core 1.0 §5.3): the
//! claims about the signed-in user that the access token's scopes
//! release, as the user is now. The token is checked exactly as
//! introspection checks one ([`verify_own`], then [`standing_in`]): a
//! token that was revoked, or whose user was disabled or given a new
//! password since, or whose client was removed, is `invalid_token`
//! (RFC 6750 §3.1), like an expired or forged one.
//!
//! The token comes in the `Authorization: Bearer` header (RFC 6750 §2.1),
//! the way Core 1.0 §5.3.1 recommends and relying-party libraries send it.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::access_token::{standing_in, verify_own, Holder};
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

/// The access token of `Authorization: Bearer TOKEN` (the scheme's case
/// is free, RFC 9110 §11.1). No such header, or another scheme, is no
/// token; two `Authorization` headers are a malformed request.
fn bearer_token(req: &HttpRequest) -> Result<String, OAuthError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = values.next() else {
        return Err(OAuthError::NoToken);
    };
    if values.next().is_some() {
        return Err(OAuthError::InvalidRequest(
            "more than one Authorization header".into(),
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| OAuthError::InvalidToken("the Authorization header is not text".into()))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() {
                return Err(OAuthError::InvalidToken("the Bearer token is empty".into()));
            }
            Ok(token.to_string())
        }
        _ => Err(OAuthError::NoToken),
    }
}

/// The handler of both methods.
pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let token = bearer_token(&req)?;
    let keys = state.keys.current();
    let refused =
        || OAuthError::InvalidToken("the access token is invalid, expired or revoked".into());
    let claims =
        verify_own(&keys, &state.issuer.issuer, &token, state.clock.now()).ok_or_else(refused)?;
    let live = standing_in(&state.db, claims).await?.ok_or_else(refused)?;
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
