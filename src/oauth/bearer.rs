//! The one check of an access token presented to authd itself as a
//! bearer token (RFC 6750 §2.1), for UserInfo and the admin HTTP API:
//! the `Authorization: Bearer` header, then [`verify_own`] (signature by
//! a key authd still trusts, so a revoked key's tokens fail, `typ`,
//! `iss`, expiry) and [`standing_in`] (revoked `jti`, removed client,
//! user deleted, disabled or given a new password since), exactly as
//! introspection judges a token.

use actix_web::http::header;
use actix_web::HttpRequest;

use super::access_token::{standing_in, verify_own, LiveAccess};
use super::error::OAuthError;
use crate::state::AppState;

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

/// The request's bearer token, if it is one of authd's and still stands;
/// else `NoToken` or `InvalidToken` (401 with RFC 6750 §3 challenges).
pub async fn live_access(req: &HttpRequest, state: &AppState) -> Result<LiveAccess, OAuthError> {
    let token = bearer_token(req)?;
    let keys = state.keys.current();
    let refused =
        || OAuthError::InvalidToken("the access token is invalid, expired or revoked".into());
    let claims =
        verify_own(&keys, &state.issuer.issuer, &token, state.clock.now()).ok_or_else(refused)?;
    standing_in(&state.db, claims).await?.ok_or_else(refused)
}
