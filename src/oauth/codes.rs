//! The oxide-auth `Authorizer` over the `auth_codes` table: authorization
//! codes (RFC 6749 §4.1.2) of 256 random bits, stored as SHA-256, living
//! [`CODE_TTL_SECS`] by our clock, bound to the client, the exact redirect
//! URI, the PKCE challenge, the scope and the user, and used at most once.
//! A second use revokes what the first one issued.
//!
//! Its inherent methods report failures as [`OAuthError`]; the oxide-auth
//! trait, whose error type is `()`, delegates to them and logs the cause
//! (as [`super::issuer`] does).

use chrono::{DateTime, Utc};
use oxide_auth::endpoint::Authorizer;
use oxide_auth::primitives::grant::{Extensions, Grant, Value};

use super::error::OAuthError;
use super::id_token::SignIn;
use super::issuer::{ext as issuer_ext, no_redirect, set_sign_in, sign_in_of};
use super::pkce;
use crate::db::auth_codes::{self, AuthCode, Claim};
use crate::db::{self, refresh_tokens, revoked_access_tokens, AnyConnection};
use crate::mfa::amr::Amr;
use crate::secret::{random_id, Secret};

/// How long a code may wait for its exchange. RFC 6749 §4.1.2 recommends
/// at most ten minutes; a client exchanges at once.
pub const CODE_TTL_SECS: i64 = 60;

/// Grant extensions of a code besides PKCE's (private: never shown).
pub mod ext {
    /// The redirect URI exactly as the authorization request sent it: the
    /// token request must repeat it identically (RFC 6749 §4.1.3), while
    /// oxide-auth's `Grant.redirect_uri` is a normalised `Url`.
    pub const REDIRECT_URI: &str = "authd.redirect_uri";
}

fn private_ext<'g>(grant: &'g Grant, id: &str) -> Option<&'g str> {
    grant
        .extensions
        .private()
        .find(|(k, _)| *k == id)
        .and_then(|(_, v)| v)
}

/// The exact redirect URI a code was issued for.
pub fn redirect_uri_of(grant: &Grant) -> Option<&str> {
    private_ext(grant, ext::REDIRECT_URI)
}

/// The user's credential generation at consent.
pub fn generation_of(grant: &Grant) -> Option<i64> {
    private_ext(grant, issuer_ext::GENERATION).and_then(|g| g.parse().ok())
}

/// Whether `verifier` matches the code's PKCE challenge (RFC 7636 §4.6).
pub fn verifier_matches(grant: &Grant, verifier: &str) -> bool {
    let bound = private_ext(grant, pkce::EXTENSION).map(|v| Value::private(Some(v.to_string())));
    pkce::verify(bound, verifier)
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// Codes over one connection at one moment. Extracting needs the client
/// that authenticated at the token endpoint: a code is only ever redeemed
/// by the client it was issued to (RFC 6749 §4.1.3).
pub struct CodeStore<'a> {
    conn: &'a mut AnyConnection,
    now: i64,
    client_id: Option<&'a str>,
    reused: Option<CodeReuse>,
}

/// A used code presented again, and what its revocation ended.
pub struct CodeReuse {
    user_id: String,
    client_id: String,
    refresh: usize,
    access: bool,
}

impl CodeReuse {
    /// Writes the audit record. Call it once the revocation is committed:
    /// a record written inside the transaction would stand even if the
    /// commit failed and nothing was revoked.
    pub fn audit(&self) {
        crate::audit::code_reused(&self.user_id, &self.client_id, self.refresh, self.access);
    }
}

impl<'a> CodeStore<'a> {
    /// A store that issues codes (the authorization endpoint).
    pub fn new(conn: &'a mut AnyConnection, now: i64) -> CodeStore<'a> {
        CodeStore {
            conn,
            now,
            client_id: None,
            reused: None,
        }
    }

    /// A store that redeems `client_id`'s codes (the token endpoint),
    /// inside the caller's write transaction.
    pub fn for_client(conn: &'a mut AnyConnection, client_id: &'a str, now: i64) -> CodeStore<'a> {
        CodeStore {
            conn,
            now,
            client_id: Some(client_id),
            reused: None,
        }
    }

    /// Stores a new code for a grant the owner consented to; returns it.
    /// The grant carries the PKCE challenge, the exact redirect URI and the
    /// owner's credential generation as extensions.
    pub fn issue_code(&mut self, grant: &Grant) -> Result<Secret, OAuthError> {
        let missing = |what: &str| OAuthError::internal(&format!("a code grant without {what}"));
        let challenge = private_ext(grant, pkce::EXTENSION)
            .and_then(pkce::stored_challenge)
            .ok_or_else(|| missing("an S256 challenge"))?;
        let redirect_uri = redirect_uri_of(grant).ok_or_else(|| missing("a redirect URI"))?;
        let generation = generation_of(grant).ok_or_else(|| missing("a generation"))?;
        let mut scope: Vec<&str> = grant.scope.iter().collect();
        scope.sort_unstable();
        let sign_in = sign_in_of(grant);
        let code = Secret::generate();
        let row = AuthCode {
            code_hash: code.hash(),
            client_id: grant.client_id.clone(),
            user_id: grant.owner_id.clone(),
            redirect_uri: redirect_uri.to_string(),
            scope: scope.join(" "),
            code_challenge: challenge.to_string(),
            code_challenge_method: pkce::S256.to_string(),
            issued_at: self.now,
            expires_at: self.now + CODE_TTL_SECS,
            used_at: None,
            generation,
            family_id: None,
            access_jti: None,
            access_expires_at: None,
            auth_time: sign_in.as_ref().map(|s| s.auth_time),
            nonce: sign_in.as_ref().and_then(|s| s.nonce.clone()),
            amr: sign_in.as_ref().map(|s| s.amr.stored()),
            sid: sign_in.map(|s| s.sid),
        };
        db::write_tx(self.conn, |conn| auth_codes::insert(conn, &row))?;
        Ok(code)
    }

    /// Claims `code` for this store's client: its grant if it was live,
    /// `None` if it is unknown, expired, another client's, or used. A used
    /// code's tokens are revoked here, in the caller's transaction, which
    /// must commit that although the request fails (RFC 6749 §4.1.2), and
    /// then audit what [`CodeStore::take_reuse`] returns.
    pub fn extract_code(&mut self, code: &str) -> Result<Option<Grant>, OAuthError> {
        let client_id = self
            .client_id
            .ok_or_else(|| OAuthError::internal("codes are redeemed for a client"))?;
        let Some(code) = Secret::parse_generated(code) else {
            return Ok(None);
        };
        match auth_codes::claim(self.conn, &code.hash(), client_id, self.now)? {
            Claim::Claimed(row) => Ok(Some(grant_of(row)?)),
            Claim::Used(row) => {
                self.revoke_issued(&row)?;
                Ok(None)
            }
            Claim::Unusable => Ok(None),
        }
    }

    /// Revokes the refresh family and the access token issued from `row`.
    fn revoke_issued(&mut self, row: &AuthCode) -> Result<(), OAuthError> {
        let refresh = match &row.family_id {
            Some(family) => refresh_tokens::revoke_family(self.conn, family, self.now)?,
            None => 0,
        };
        if let (Some(jti), Some(exp)) = (&row.access_jti, row.access_expires_at) {
            revoked_access_tokens::insert(self.conn, jti, exp, None)?;
        }
        self.reused = Some(CodeReuse {
            user_id: row.user_id.clone(),
            client_id: row.client_id.clone(),
            refresh,
            access: row.access_jti.is_some(),
        });
        Ok(())
    }

    /// The reuse the last extraction found, to audit after the commit.
    pub fn take_reuse(&mut self) -> Option<CodeReuse> {
        self.reused.take()
    }
}

/// The grant a stored code stands for.
fn grant_of(row: AuthCode) -> Result<Grant, OAuthError> {
    let mut extensions = Extensions::new();
    extensions.set_raw(
        pkce::EXTENSION.into(),
        pkce::from_stored(&row.code_challenge),
    );
    extensions.set_raw(
        ext::REDIRECT_URI.into(),
        Value::private(Some(row.redirect_uri.clone())),
    );
    extensions.set_raw(
        issuer_ext::GENERATION.into(),
        Value::private(Some(row.generation.to_string())),
    );
    // A code from before OpenID Connect: signed in when it was issued.
    let sign_in = SignIn {
        auth_time: row.auth_time.unwrap_or(row.issued_at),
        sid: row.sid.clone().unwrap_or_else(random_id),
        nonce: row.nonce.clone(),
        amr: Amr::parse(row.amr.as_deref()),
    };
    set_sign_in(&mut extensions, &sign_in);
    Ok(Grant {
        owner_id: row.user_id,
        client_id: row.client_id,
        scope: row
            .scope
            .parse()
            .map_err(|_| OAuthError::internal("a stored code scope did not parse"))?,
        redirect_uri: url::Url::parse(&row.redirect_uri).unwrap_or_else(|_| no_redirect()),
        until: at(row.expires_at),
        extensions,
    })
}

/// The trait's `()` error loses the cause: log it here.
fn logged(e: OAuthError) {
    log::error!("authorizer: {}", e.chain());
}

impl Authorizer for CodeStore<'_> {
    fn authorize(&mut self, grant: Grant) -> Result<String, ()> {
        self.issue_code(&grant)
            .map(|code| code.expose().to_string())
            .map_err(logged)
    }

    fn extract(&mut self, code: &str) -> Result<Option<Grant>, ()> {
        let grant = self.extract_code(code).map_err(logged)?;
        // oxide-auth's flow gives no hook after its commit: the record is
        // written within the caller's transaction.
        if let Some(reuse) = self.take_reuse() {
            reuse.audit();
        }
        Ok(grant)
    }
}
