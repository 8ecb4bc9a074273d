//! Signing keys as administrators see them (`authd keys list`,
//! `GET /admin/v1/keys`): never a private key.

use serde::Serialize;

use super::ManageError;
use crate::db::{signing_keys, AnyConnection};
use crate::keys;

/// A signing key's public facts and state.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct KeyView {
    /// Its id, the JWT header's `kid`.
    pub kid: String,
    /// Its JWS algorithm (`ES256`, `RS256`, `EdDSA`).
    pub alg: String,
    /// `access` or `id_token`.
    pub purpose: String,
    /// `staged`, `active`, `retired` or `revoked`.
    pub state: &'static str,
    /// Whether the JWKS carries it.
    pub published: bool,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// When it began to sign.
    pub activated_at: Option<i64>,
    /// When a newer key took over.
    pub retired_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

/// Every key, newest first, as of `now` with access tokens living
/// `access_ttl` seconds (which decides how long a retired key stays
/// published).
pub fn list(
    conn: &mut AnyConnection,
    now: i64,
    access_ttl: i64,
) -> Result<Vec<KeyView>, ManageError> {
    Ok(signing_keys::list(conn)?
        .iter()
        .map(|k| KeyView {
            kid: k.kid.clone(),
            alg: k.alg.clone(),
            purpose: k.purpose.clone(),
            state: keys::state(k).as_str(),
            published: keys::is_published(k, now, access_ttl),
            created_at: k.created_at,
            activated_at: k.activated_at,
            retired_at: k.retired_at,
            revoked_at: k.revoked_at,
        })
        .collect())
}
