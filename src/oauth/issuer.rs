//! The one `Issuer` (oxide-auth) through which every token is issued: JWT
//! access tokens signed with the active key, and opaque refresh tokens
//! stored by hash in families, rotated on use.

use std::cell::RefCell;

use chrono::{TimeZone, Utc};
use oxide_auth::endpoint::Issuer;
use oxide_auth::primitives::grant::{Extensions, Grant, Value};
use oxide_auth::primitives::issuer::{IssuedToken, RefreshedToken, TokenType};

use super::access_token::{verify_own, AccessClaims};
use super::error::OAuthError;
use crate::db::refresh_tokens::{self, RefreshToken};
use crate::db::{revoked_access_tokens, AnyConnection};
use crate::keys::KeySnapshot;
use crate::secret::{hash_str, random_id, Secret};

/// Grant extensions authd sets (private: never shown to clients).
pub mod ext {
    /// The access token's `aud`.
    pub const AUDIENCE: &str = "authd.aud";
    /// Present when the grant should come with a refresh token.
    pub const WITH_REFRESH: &str = "authd.refresh";
}

/// What the issuer needs besides the connection.
pub struct IssuerConfig<'k> {
    /// Keys in force.
    pub keys: &'k KeySnapshot,
    /// The `iss` claim.
    pub issuer: &'k str,
    /// Access-token lifetime (s).
    pub access_ttl: i64,
    /// Refresh-token lifetime (s).
    pub refresh_ttl: i64,
    /// The current time (passed in so expiry is testable).
    pub now: i64,
}

/// The token issuer for one request, over one connection (and so inside
/// the caller's transaction).
pub struct TokenIssuer<'c, 'k> {
    conn: RefCell<&'c mut AnyConnection>,
    cfg: IssuerConfig<'k>,
    /// Why the last call failed: the trait's error type is `()`.
    last_error: Option<OAuthError>,
}

/// The scope as a sorted, space-separated string (oxide-auth's `Display`
/// follows hash order, which would make tokens differ needlessly).
fn sorted(scope: &oxide_auth::endpoint::Scope) -> String {
    let mut tokens: Vec<&str> = scope.iter().collect();
    tokens.sort_unstable();
    tokens.join(" ")
}

/// Adds authd's extensions to a grant.
pub fn extensions(audience: &str, with_refresh: bool) -> Extensions {
    let mut ext = Extensions::new();
    ext.set_raw(
        ext::AUDIENCE.into(),
        Value::private(Some(audience.to_string())),
    );
    if with_refresh {
        ext.set_raw(ext::WITH_REFRESH.into(), Value::private(None));
    }
    ext
}

fn private_ext(grant: &Grant, id: &str) -> Option<Option<String>> {
    grant
        .extensions
        .private()
        .find(|(k, _)| *k == id)
        .map(|(_, v)| v.map(str::to_string))
}

impl<'c, 'k> TokenIssuer<'c, 'k> {
    /// An issuer writing through `conn`.
    pub fn new(conn: &'c mut AnyConnection, cfg: IssuerConfig<'k>) -> Self {
        TokenIssuer {
            conn: RefCell::new(conn),
            cfg,
            last_error: None,
        }
    }

    /// Why the last `issue` or `refresh` failed.
    pub fn take_error(&mut self) -> OAuthError {
        self.last_error
            .take()
            .unwrap_or_else(|| OAuthError::Internal("token issuer failed".into()))
    }

    fn fail<T>(&mut self, e: OAuthError) -> Result<T, ()> {
        self.last_error = Some(e);
        Err(())
    }

    fn access_token(&self, grant: &Grant) -> Result<(String, i64), OAuthError> {
        let aud = private_ext(grant, ext::AUDIENCE)
            .flatten()
            .unwrap_or_else(|| self.cfg.issuer.to_string());
        let exp = self.cfg.now + self.cfg.access_ttl;
        let claims = AccessClaims {
            iss: self.cfg.issuer.to_string(),
            sub: grant.owner_id.clone(),
            aud,
            exp,
            iat: self.cfg.now,
            jti: random_id(),
            client_id: grant.client_id.clone(),
            scope: sorted(&grant.scope),
        };
        Ok((self.cfg.keys.sign(&claims)?, exp))
    }

    fn store_refresh(
        &self,
        grant: &Grant,
        family: String,
        parent: Option<String>,
        scope: String,
    ) -> Result<Secret, OAuthError> {
        let token = Secret::generate();
        refresh_tokens::insert(
            &mut self.conn.borrow_mut(),
            &RefreshToken {
                token_hash: token.hash(),
                family_id: family,
                parent_hash: parent,
                user_id: grant.owner_id.clone(),
                client_id: grant.client_id.clone(),
                scope,
                issued_at: self.cfg.now,
                expires_at: self.cfg.now + self.cfg.refresh_ttl,
                used_at: None,
                revoked_at: None,
            },
        )?;
        Ok(token)
    }

    fn until(&self, exp: i64) -> chrono::DateTime<Utc> {
        Utc.timestamp_opt(exp, 0).single().unwrap_or_else(Utc::now)
    }

    fn grant_of(&self, row: &RefreshToken) -> Grant {
        Grant {
            owner_id: row.user_id.clone(),
            client_id: row.client_id.clone(),
            scope: row
                .scope
                .parse()
                .unwrap_or_else(|_| "".parse().expect("empty scope parses")),
            redirect_uri: "urn:ietf:wg:oauth:2.0:oob"
                .parse()
                .expect("static URL parses"),
            until: self.until(row.expires_at),
            extensions: Extensions::new(),
        }
    }
}

impl Issuer for TokenIssuer<'_, '_> {
    /// Issues an access token, and a refresh token starting a new family
    /// when the grant asks for one. `grant.until` is ignored: lifetimes come
    /// from the settings.
    fn issue(&mut self, grant: Grant) -> Result<IssuedToken, ()> {
        let issued = self.access_token(&grant).and_then(|(token, exp)| {
            let refresh = match private_ext(&grant, ext::WITH_REFRESH) {
                Some(_) => {
                    Some(self.store_refresh(&grant, random_id(), None, sorted(&grant.scope))?)
                }
                None => None,
            };
            Ok((token, exp, refresh))
        });
        match issued {
            Ok((token, exp, refresh)) => Ok(IssuedToken {
                token,
                refresh: refresh.map(|s| s.expose().to_string()),
                until: self.until(exp),
                token_type: TokenType::Bearer,
            }),
            Err(e) => self.fail(e),
        }
    }

    /// Rotates `refresh`: claims it atomically, stores its successor in the
    /// same family with the original scope (RFC 6749 §6), and issues an
    /// access token for `grant.scope` (which may be narrower). Losing the
    /// claim (already used, revoked, expired) is `invalid_grant`.
    fn refresh(&mut self, refresh: &str, grant: Grant) -> Result<RefreshedToken, ()> {
        let old_hash = hash_str(refresh);
        let rotated = (|| {
            let mut conn = self.conn.borrow_mut();
            // The claim is the first statement so it takes the write lock
            // before anything is read (see db::write_tx).
            if !refresh_tokens::claim(&mut conn, &old_hash, self.cfg.now)? {
                return Err(OAuthError::InvalidGrant(
                    "refresh token is no longer valid".into(),
                ));
            }
            let old = refresh_tokens::find(&mut conn, &old_hash)?
                .ok_or_else(|| OAuthError::Internal("claimed token vanished".into()))?;
            drop(conn);
            let next = self.store_refresh(
                &grant,
                old.family_id.clone(),
                Some(old_hash.clone()),
                old.scope,
            )?;
            let (token, exp) = self.access_token(&grant)?;
            Ok((token, exp, next))
        })();
        match rotated {
            Ok((token, exp, next)) => Ok(RefreshedToken {
                token,
                refresh: Some(next.expose().to_string()),
                until: self.until(exp),
                token_type: TokenType::Bearer,
            }),
            Err(e) => self.fail(e),
        }
    }

    /// The grant behind a live access token (signature, expiry, not revoked).
    fn recover_token<'a>(&'a self, token: &'a str) -> Result<Option<Grant>, ()> {
        let Some(claims) = verify_own(self.cfg.keys, self.cfg.issuer, token) else {
            return Ok(None);
        };
        let revoked = revoked_access_tokens::is_revoked(&mut self.conn.borrow_mut(), &claims.jti)
            .map_err(|e| log::error!("recover_token: {e}"))?;
        if revoked {
            return Ok(None);
        }
        Ok(Some(Grant {
            owner_id: claims.sub,
            client_id: claims.client_id,
            scope: claims.scope.parse().map_err(|_| ())?,
            redirect_uri: "urn:ietf:wg:oauth:2.0:oob".parse().map_err(|_| ())?,
            until: self.until(claims.exp),
            extensions: extensions(&claims.aud, false),
        }))
    }

    /// The grant behind a live refresh token.
    fn recover_refresh<'a>(&'a self, token: &'a str) -> Result<Option<Grant>, ()> {
        let row = refresh_tokens::find(&mut self.conn.borrow_mut(), &hash_str(token))
            .map_err(|e| log::error!("recover_refresh: {e}"))?;
        Ok(row
            .filter(|r| {
                r.used_at.is_none() && r.revoked_at.is_none() && r.expires_at > self.cfg.now
            })
            .map(|r| self.grant_of(&r)))
    }
}
