//! What a grant issues: the access token's claims (signed after the
//! storage work commits), and opaque refresh tokens stored by hash in
//! families. Every grant stores through [`TokenIssuer::store_tokens`], and
//! a refresh's successor is built by [`successor`]; the rotation rules
//! themselves are [`super::rotation`]'s. The grants drive oxide-auth's
//! primitives (`Grant`) but not its token flows (their deviations from the
//! RFCs: docs/design.md "oxide-auth"), so oxide-auth's `Issuer` trait is
//! not implemented: it would be a second, unused copy of those rules.

use std::cell::RefCell;

use chrono::{DateTime, Utc};
use oxide_auth::primitives::grant::{Extensions, Grant, Value};
use oxide_auth::primitives::issuer::{IssuedToken, TokenType};

use super::access_token::{standing, verify_own, AccessClaims, LiveAccess};
use super::error::OAuthError;
use super::id_token::SignIn;
use super::rotation;
use super::status_list::TokenStatus;
use crate::config::IssuerSettings;
use crate::db::refresh_tokens::{self, RefreshToken};
use crate::db::users::User;
use crate::db::AnyConnection;
use crate::keys::KeySnapshot;
use crate::mfa::amr::Amr;
use crate::secret::{random_id, Secret};

/// The redirect URI of grants that have none (password, refresh,
/// client_credentials): oxide-auth's `Grant` and `PreGrant` always carry
/// one (RFC 6749 §3.1.2 gives this out-of-band value no meaning here).
pub const NO_REDIRECT: &str = "urn:ietf:wg:oauth:2.0:oob";

/// [`NO_REDIRECT`] as a URL.
pub fn no_redirect() -> url::Url {
    url::Url::parse(NO_REDIRECT).expect("a constant URL parses")
}

/// Grant extensions authd sets (private: never shown to clients).
pub mod ext {
    /// The access token's `aud`.
    pub const AUDIENCE: &str = "authd.aud";
    /// Present when the grant should come with a refresh token.
    pub const WITH_REFRESH: &str = "authd.refresh";
    /// The owner's credential generation, for a user's grant.
    pub const GENERATION: &str = "authd.gen";
    /// When the user entered their password (OpenID Connect `auth_time`).
    pub const AUTH_TIME: &str = "authd.auth_time";
    /// The sign-in session (OpenID Connect `sid`).
    pub const SID: &str = "authd.sid";
    /// The authorization request's `nonce` (a code's grant only).
    pub const NONCE: &str = "authd.nonce";
    /// What the sign-in used (OpenID Connect `amr`, RFC 8176).
    pub const AMR: &str = "authd.amr";
}

/// Records the sign-in behind a grant in its extensions: a refresh family
/// it starts keeps `auth_time` and `sid`, and a code keeps the `nonce`
/// too (OpenID Connect Core 1.0 §3.1.2.1, §12.2).
pub fn set_sign_in(extensions: &mut Extensions, sign_in: &SignIn) {
    let mut set = |id: &str, v: Option<String>| {
        if let Some(v) = v {
            extensions.set_raw(id.into(), Value::private(Some(v)));
        }
    };
    set(ext::AUTH_TIME, Some(sign_in.auth_time.to_string()));
    set(ext::SID, Some(sign_in.sid.clone()));
    set(ext::NONCE, sign_in.nonce.clone());
    set(ext::AMR, Some(sign_in.amr.stored()));
}

/// The sign-in [`set_sign_in`] recorded, if any.
pub fn sign_in_of(grant: &Grant) -> Option<SignIn> {
    let auth_time = private_ext(grant, ext::AUTH_TIME)
        .flatten()
        .and_then(|t| t.parse().ok())?;
    Some(SignIn {
        auth_time,
        sid: private_ext(grant, ext::SID).flatten()?,
        nonce: private_ext(grant, ext::NONCE).flatten(),
        amr: Amr::parse(private_ext(grant, ext::AMR).flatten().as_deref()),
    })
}

/// Adds authd's extensions to a grant: the audience, the owner's
/// credential generation (a user's grant), and whether a refresh token
/// comes with it (which needs the generation).
pub fn extensions(audience: &str, generation: Option<i64>, with_refresh: bool) -> Extensions {
    let mut ext = Extensions::new();
    ext.set_raw(
        ext::AUDIENCE.into(),
        Value::private(Some(audience.to_string())),
    );
    if let Some(generation) = generation {
        ext.set_raw(
            ext::GENERATION.into(),
            Value::private(Some(generation.to_string())),
        );
    }
    if with_refresh {
        ext.set_raw(ext::WITH_REFRESH.into(), Value::private(None));
    }
    ext
}

fn generation_of(grant: &Grant) -> Option<i64> {
    private_ext(grant, ext::GENERATION)
        .flatten()
        .and_then(|g| g.parse().ok())
}

fn private_ext(grant: &Grant, id: &str) -> Option<Option<String>> {
    grant
        .extensions
        .private()
        .find(|(k, _)| *k == id)
        .map(|(_, v)| v.map(str::to_string))
}

/// The scope as a sorted, space-separated string (oxide-auth's `Display`
/// follows hash order, which would make tokens differ needlessly).
fn sorted(scope: &oxide_auth::endpoint::Scope) -> String {
    let mut tokens: Vec<&str> = scope.iter().collect();
    tokens.sort_unstable();
    tokens.join(" ")
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// Where a new refresh token belongs.
struct Family {
    id: String,
    parent: Option<String>,
    /// The original grant's scope (RFC 6749 §6).
    scope: String,
    generation: i64,
    expires_at: i64,
    /// The sign-in it began with (`None` in families older than it).
    auth_time: Option<i64>,
    sid: Option<String>,
    /// What that sign-in used, stored (`None` in older families).
    amr: Option<String>,
}

/// A new refresh token of `family` for `grant` at `now`, and its row; its
/// idle lifetime never runs past the family's end.
fn new_refresh(
    settings: &IssuerSettings,
    now: i64,
    grant: &Grant,
    family: Family,
) -> (Secret, RefreshToken) {
    let token = Secret::generate();
    let row = RefreshToken {
        token_hash: token.hash(),
        family_id: family.id,
        parent_hash: family.parent,
        user_id: grant.owner_id.clone(),
        client_id: grant.client_id.clone(),
        scope: family.scope,
        issued_at: now,
        expires_at: (now + settings.refresh_ttl).min(family.expires_at),
        used_at: None,
        revoked_at: None,
        generation: family.generation,
        family_expires_at: family.expires_at,
        auth_time: family.auth_time,
        sid: family.sid,
        amr: family.amr,
    };
    (token, row)
}

/// The successor of `claimed`, to store with [`crate::db::Db::rotate`]:
/// the same family with the original scope (RFC 6749 §6), and the access
/// token, unsigned, for `grant.scope`, which may be narrower.
pub fn successor(
    settings: &IssuerSettings,
    now: i64,
    claimed: &RefreshToken,
    grant: &Grant,
) -> (RefreshToken, Unsigned) {
    let family = Family {
        id: claimed.family_id.clone(),
        parent: Some(claimed.token_hash.clone()),
        scope: claimed.scope.clone(),
        generation: claimed.generation,
        expires_at: claimed.family_expires_at,
        auth_time: claimed.auth_time,
        sid: claimed.sid.clone(),
        amr: claimed.amr.clone(),
    };
    let (token, row) = new_refresh(settings, now, grant, family);
    (row, Unsigned::new(settings, now, grant, Some(token)))
}

/// Tokens issued and stored, whose access token is not signed yet.
pub struct Unsigned {
    claims: AccessClaims,
    refresh: Option<Secret>,
}

impl std::fmt::Debug for Unsigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unsigned")
            .field("jti", &self.claims.jti)
            .field("refresh", &self.refresh.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Unsigned {
    /// The access token's claims for `grant` at `now` (RFC 9068 §2.2).
    pub fn new(
        settings: &IssuerSettings,
        now: i64,
        grant: &Grant,
        refresh: Option<Secret>,
    ) -> Unsigned {
        let aud = private_ext(grant, ext::AUDIENCE)
            .flatten()
            .unwrap_or_else(|| settings.issuer.clone());
        let claims = AccessClaims {
            iss: settings.issuer.clone(),
            sub: grant.owner_id.clone(),
            aud,
            exp: now + settings.access_ttl,
            iat: now,
            jti: random_id(),
            client_id: grant.client_id.clone(),
            scope: sorted(&grant.scope),
            generation: generation_of(grant),
            status: None,
        };
        Unsigned { claims, refresh }
    }

    /// The access token's `jti`.
    pub fn jti(&self) -> &str {
        &self.claims.jti
    }

    /// The access token's `iat` (Unix seconds).
    pub fn iat(&self) -> i64 {
        self.claims.iat
    }

    /// The access token with its entry in a status list.
    pub fn with_status(mut self, status: TokenStatus) -> Unsigned {
        self.claims.status = Some(status);
        self
    }

    /// The access token's `exp` (Unix seconds).
    pub fn exp(&self) -> i64 {
        self.claims.exp
    }

    /// The refresh token issued with it, if any.
    pub fn refresh(&self) -> Option<&Secret> {
        self.refresh.as_ref()
    }

    /// Signs the access token with the active key: CPU work only, no
    /// storage.
    pub fn sign(self, keys: &KeySnapshot) -> Result<IssuedToken, OAuthError> {
        Ok(IssuedToken {
            token: keys.sign(&self.claims)?,
            refresh: self.refresh.map(|s| s.expose().to_string()),
            until: at(self.claims.exp),
            token_type: TokenType::Bearer,
        })
    }
}

/// The token issuer for one request, over one connection (and so inside
/// the caller's transaction), at one moment.
pub struct TokenIssuer<'c> {
    conn: RefCell<&'c mut AnyConnection>,
    keys: &'c KeySnapshot,
    settings: &'c IssuerSettings,
    now: i64,
}

impl<'c> TokenIssuer<'c> {
    /// An issuer writing through `conn` at time `now`.
    pub fn new(
        conn: &'c mut AnyConnection,
        keys: &'c KeySnapshot,
        settings: &'c IssuerSettings,
        now: i64,
    ) -> Self {
        TokenIssuer {
            conn: RefCell::new(conn),
            keys,
            settings,
            now,
        }
    }

    /// Stores a new refresh token of `family`.
    fn store_refresh(&self, grant: &Grant, family: Family) -> Result<Secret, OAuthError> {
        let (token, row) = new_refresh(self.settings, self.now, grant, family);
        refresh_tokens::insert(&mut self.conn.borrow_mut(), &row)?;
        Ok(token)
    }

    /// Stores what a grant issues (a refresh token starting a new family,
    /// when the grant asks for one) and returns the access token's claims
    /// unsigned: sign them with [`Unsigned::sign`] once the transaction is
    /// done, so that no connection (and on SQLite, not the writer) waits
    /// for a signature. `grant.until` is ignored: lifetimes come from the
    /// settings.
    pub fn store_tokens(&self, grant: &Grant) -> Result<Unsigned, OAuthError> {
        let refresh = match private_ext(grant, ext::WITH_REFRESH) {
            Some(_) => {
                let sign_in = sign_in_of(grant);
                let generation = generation_of(grant)
                    .ok_or_else(|| OAuthError::internal("refresh grant without a generation"))?;
                let family = Family {
                    id: random_id(),
                    parent: None,
                    scope: sorted(&grant.scope),
                    generation,
                    expires_at: self.now + self.settings.refresh_max_lifetime,
                    auth_time: sign_in.as_ref().map(|s| s.auth_time),
                    amr: sign_in.as_ref().map(|s| s.amr.stored()),
                    sid: sign_in.map(|s| s.sid),
                };
                Some(self.store_refresh(grant, family)?)
            }
            None => None,
        };
        Ok(Unsigned::new(self.settings, self.now, grant, refresh))
    }

    /// A live access token of ours: signature by a published key, not
    /// expired at this issuer's `now`, and still standing (see
    /// [`standing`]: not revoked, client and user as they were).
    pub fn live_access(&self, token: &str) -> Result<Option<LiveAccess>, OAuthError> {
        let Some(claims) = verify_own(self.keys, &self.settings.issuer, token, self.now) else {
            return Ok(None);
        };
        Ok(standing(&mut self.conn.borrow_mut(), claims)?)
    }

    /// The live refresh token behind `token`, with its user.
    pub fn live_refresh(&self, token: &Secret) -> Result<Option<(RefreshToken, User)>, OAuthError> {
        Ok(rotation::live(
            &mut self.conn.borrow_mut(),
            token,
            self.now,
        )?)
    }
}
