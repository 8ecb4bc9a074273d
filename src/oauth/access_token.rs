//! The access token's claims (RFC 9068 §2.2) and how authd checks its own
//! tokens for introspection and revocation: the signature and expiry, and
//! whether the token still stands in the database's current state.

use jsonwebtoken::{decode, decode_header, Validation};
use serde::{Deserialize, Serialize};

use crate::db::access_standing::{self, Asked, Standing};
use crate::db::users::User;
use crate::db::{AnyConnection, Db, DbError};
use crate::keys::KeySnapshot;
use crate::oauth::status_list::TokenStatus;

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
    /// For a user's token: the user's credential generation when it was
    /// issued, so that introspection knows a password change or disable
    /// came after it even within the same second (a private claim,
    /// RFC 9068 §2.2.3 allows them; absent in older tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// Its entry in a status list (draft-ietf-oauth-status-list §6.1),
    /// through which resource servers learn of its revocation (absent in
    /// older tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TokenStatus>,
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

/// Whom a live access token speaks for.
pub enum Holder {
    /// The client itself (client_credentials: `sub` is its id).
    Client,
    /// A user, as stored now.
    User(User),
}

/// A verified access token that still stands.
pub struct LiveAccess {
    /// Its claims.
    pub claims: AccessClaims,
    /// Whom it speaks for.
    pub holder: Holder,
}

/// Whether the user's credentials are those the token was issued under:
/// the same generation, or for a token without one, no change after `iat`.
fn still_current(claims: &AccessClaims, user: &User) -> bool {
    match claims.generation {
        Some(generation) => generation == user.credential_generation,
        None => claims.iat >= user.tokens_valid_after,
    }
}

/// Whether verified `claims` still stand: a self-contained JWT cannot be
/// recalled, but authd's own answers about it (introspection, RFC 7662
/// §2.2 "active") follow what happened since it was issued. Not if its
/// `jti` was revoked (RFC 7009 §2), its client was removed, its user is
/// gone, disabled, or got a new password after `iat` (the rule refresh
/// tokens follow in [`crate::oauth::rotation`]), or, for a client a user
/// registered, that owner no longer allows it ([`Bound::admits`]).
///
/// [`Bound::admits`]: crate::db::owners::Bound::admits
pub fn standing(
    conn: &mut AnyConnection,
    claims: AccessClaims,
) -> diesel::QueryResult<Option<LiveAccess>> {
    let now = access_standing::read(conn, &asked(&claims))?;
    Ok(judge(claims, now))
}

/// [`standing`] through [`Db::access_standing`]: on PostgreSQL read in one
/// statement with those of concurrent requests.
pub async fn standing_in(db: &Db, claims: AccessClaims) -> Result<Option<LiveAccess>, DbError> {
    let now = db.access_standing(asked(&claims)).await?;
    Ok(judge(claims, now))
}

fn asked(claims: &AccessClaims) -> Asked {
    Asked {
        jti: claims.jti.clone(),
        client_id: claims.client_id.clone(),
        sub: claims.sub.clone(),
    }
}

/// The rule of [`standing`], applied to what the database says.
fn judge(claims: AccessClaims, now: Standing) -> Option<LiveAccess> {
    // A user's client's tokens stand only within its owner's bound.
    let own = (claims.sub == claims.client_id).then_some(claims.generation);
    let admitted = now.bound.admits(&claims.scope, claims.iat, own.flatten());
    if !now.unrevoked_with_client || !admitted {
        return None;
    }
    let holder = if claims.sub == claims.client_id {
        Holder::Client
    } else {
        match now.user {
            Some(u) if !u.disabled && still_current(&claims, &u) => Holder::User(u),
            _ => return None,
        }
    };
    Some(LiveAccess { claims, holder })
}
