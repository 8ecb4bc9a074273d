//! The access token's claims (RFC 9068 §2.2) and how authd checks its own
//! tokens for introspection and revocation.

use jsonwebtoken::{decode, decode_header, Validation};
use serde::{Deserialize, Serialize};

use crate::keys::KeySnapshot;

/// The claims of an authd access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// The user's id, or the client's id for client_credentials.
    pub sub: String,
    /// Audience: the client's audience, default the issuer.
    pub aud: String,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issue time (Unix seconds).
    pub iat: i64,
    /// Unique id, the handle for revocation.
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space-separated.
    pub scope: String,
}

/// Verifies a token authd issued: signature by a published key, `typ`,
/// `iss`, and `exp` against `now` (the issuer's own clock, so no leeway).
/// `None` for anything else.
pub fn verify_own(keys: &KeySnapshot, issuer: &str, token: &str, now: i64) -> Option<AccessClaims> {
    let header = decode_header(token).ok()?;
    if !header.typ.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    }) {
        return None;
    }
    let (key, alg) = keys.decoding_key(header.kid.as_deref()?)?;
    let mut validation = Validation::new(alg);
    // Expiry is checked below against the clock passed in, not the
    // library's reading of the wall clock.
    validation.validate_exp = false;
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    let claims = decode::<AccessClaims>(token, key, &validation).ok()?.claims;
    (claims.exp > now).then_some(claims)
}
