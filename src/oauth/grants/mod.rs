//! The grant types: each authenticates the client for its grant, applies
//! its rules, and issues through [`crate::oauth::issuer::TokenIssuer`].

pub mod authorization_code;
pub mod client_credentials;
pub mod password;
pub mod refresh;

use actix_web::HttpResponse;
use oxide_auth::primitives::issuer::IssuedToken;
use serde::Serialize;

use super::context::GrantCtx;
use super::error::{no_store, OAuthError};
use super::id_token::{needs_profile, IdToken};
use super::issuer::Unsigned;
use super::metadata::OPENID;
use crate::db::owners::Bound;
use crate::db::profiles::{self, Profile};
use crate::db::users::User;
use crate::db::AnyConnection;
use crate::scope::{self, ScopeSet};

/// What a grant stored, to sign after the commit: the access token, the
/// scope granted, and the ID token when `openid` was granted.
pub(crate) type Stored = (Unsigned, ScopeSet, Option<IdToken>);

/// The user's profile when `granted` releases some of it to an ID token
/// ([`needs_profile`]), read in the grant's transaction.
pub(crate) fn read_profile(
    conn: &mut AnyConnection,
    user: &User,
    granted: &ScopeSet,
) -> Result<Option<Profile>, OAuthError> {
    match granted.contains(OPENID) && needs_profile(granted) {
        true => Ok(profiles::of(conn, &user.id)?),
        false => Ok(None),
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Serialize)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// What was granted (always present).
    pub scope: String,
    /// A refresh token, when issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The ID token, when `openid` was granted (OpenID Connect Core 1.0
    /// §3.1.3.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl TokenResponse {
    /// The response for tokens the Issuer issued for `scope`.
    pub fn new(issued: IssuedToken, scope: &ScopeSet, expires_in: i64) -> Self {
        TokenResponse {
            access_token: issued.token,
            token_type: "Bearer",
            expires_in,
            scope: scope::join(scope),
            refresh_token: issued.refresh,
            id_token: None,
        }
    }

    /// The response for what a grant stored: the access token signed,
    /// then the ID token, if any, for it (its `at_hash`). CPU work after
    /// the commit.
    pub(crate) async fn signed(
        ctx: &GrantCtx,
        (unsigned, granted, id_token): Stored,
    ) -> Result<Self, OAuthError> {
        let issued = ctx.sign_access(unsigned).await?;
        let id_token = match id_token {
            Some(id) => Some(id.sign(ctx, &issued.token).await?),
            None => None,
        };
        Ok(TokenResponse {
            id_token,
            ..TokenResponse::new(issued, &granted, ctx.issuer.access_ttl)
        })
    }

    /// 200 with `Cache-Control: no-store` (RFC 6749 §5.1).
    pub fn into_response(self) -> HttpResponse {
        let mut res = HttpResponse::Ok().json(self);
        no_store(&mut res);
        res
    }
}

/// What a client may be given once its owner bounds it
/// ([`crate::db::owners::bound`]): `scopes` for an administrator's
/// client; for a user's, only what the owner's roles grant now, and
/// nothing left is `invalid_scope`. A suspended client (its owner
/// deleted, disabled, or with a new password) is `invalid_client`: like a
/// removed client, it no longer authenticates.
pub(crate) fn within_owner(bound: &Bound, scopes: ScopeSet) -> Result<ScopeSet, OAuthError> {
    match bound {
        Bound::Unowned => Ok(scopes),
        Bound::Suspended => Err(suspended()),
        Bound::Owner { scopes: owner, .. } => {
            let left: ScopeSet = scopes.intersection(owner).cloned().collect();
            if left.is_empty() {
                return Err(OAuthError::InvalidScope(
                    "the roles of the user who registered this client grant none of these scopes"
                        .into(),
                ));
            }
            Ok(left)
        }
    }
}

/// The refusal of a suspended client.
pub(crate) fn suspended() -> OAuthError {
    OAuthError::InvalidClient(
        "this client is suspended: the user who registered it was disabled, deleted or \
         given a new password (they re-key it in the console to resume)"
            .into(),
    )
}
