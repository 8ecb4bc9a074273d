//! The ID token (OpenID Connect Core 1.0 §2): a second signed artefact
//! beside the access token, issued by the grants that authenticate a user
//! (authorization code, password, refresh) whenever `openid` is granted.
//! It is signed with the client's ID-token algorithm (`--id-token-alg`,
//! RS256 unless chosen: Core 1.0 §15.1), by a key of that algorithm kept
//! for ID tokens only and made the first time a client needs it
//! ([`crate::keys::KeyRing::with_id_key`]). Access tokens do not change.
//!
//! Built inside the grant's storage work (which knows the user and the
//! sign-in) and signed after the commit, like the access token, whose
//! `at_hash` it carries (Core 1.0 §3.1.3.6).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};

use super::context::GrantCtx;
use super::error::OAuthError;
use super::metadata::OPENID;
use crate::config::IssuerSettings;
use crate::db::clients::Client;
use crate::db::profiles::Profile;
use crate::db::session_clients::{self, SessionClient};
use crate::db::users::User;
use crate::db::AnyConnection;
use crate::keys::{SigningAlg, DEFAULT_ID_TOKEN_ALG};
use crate::mfa::amr::Amr;
use crate::scope::ScopeSet;

/// The sign-in an ID token speaks of: when the user last entered a
/// credential, the session that sign-in started, the `nonce` the
/// authorization request sent (codes only), and what was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// When the user entered their password (Unix seconds).
    pub auth_time: i64,
    /// The sign-in session (`sid`, for logout).
    pub sid: String,
    /// The authorization request's `nonce`, exactly as sent.
    pub nonce: Option<String>,
    /// The methods the sign-in used (`amr`, RFC 8176).
    pub amr: Amr,
}

/// The claims (Core 1.0 §2, §5.1).
#[derive(Debug, Serialize)]
struct IdClaims {
    iss: String,
    sub: String,
    aud: String,
    azp: String,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    at_hash: String,
    sid: String,
    /// RFC 8176: what the sign-in used (`pwd`; `otp`, or `hwk` and `user`
    /// for a passkey; `mfa` for two factors).
    amr: Vec<&'static str>,
    /// Core 1.0 §2: the level of the sign-in
    /// (docs/interface.md "Second factors").
    acr: &'static str,
    #[serde(flatten)]
    profile: ProfileClaims,
}

/// The claims the `profile` and `email` scopes release (Core 1.0 §5.4),
/// in ID tokens and UserInfo alike.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct ProfileClaims {
    /// With `profile`: the username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// With `profile`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// With `email`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// With `email`, when an email is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// Whether `scopes` release anything from the profile table (so that it
/// is read only then).
pub fn needs_profile(scopes: &ScopeSet) -> bool {
    scopes.contains("profile") || scopes.contains("email")
}

/// The user as an ID token or UserInfo describes them: the account, and
/// the profile when [`needs_profile`].
pub type Subject<'a> = (&'a User, Option<&'a Profile>);

/// An ID token to sign once the access token is signed.
#[derive(Debug)]
pub struct IdToken {
    alg: SigningAlg,
    claims: IdClaims,
}

/// The claims `scopes` release about the user (Core 1.0 §5.4): shared by
/// ID tokens and UserInfo, so that both say the same.
pub fn profile_claims((user, profile): Subject<'_>, scopes: &ScopeSet) -> ProfileClaims {
    let mut claims = ProfileClaims::default();
    if scopes.contains("profile") {
        claims.preferred_username = Some(user.username.clone());
        claims.name = profile.and_then(|p| p.name.clone());
    }
    if let Some(email) = profile.and_then(|p| p.email.clone()) {
        if scopes.contains("email") {
            claims.email_verified = profile.map(|p| p.email_verified);
            claims.email = Some(email);
        }
    }
    claims
}

/// The client's ID-token algorithm.
pub fn alg_of(client: &Client) -> Result<SigningAlg, OAuthError> {
    match client.id_token_alg.as_deref() {
        None => Ok(DEFAULT_ID_TOKEN_ALG),
        Some(alg) => alg.parse().map_err(|e: String| OAuthError::internal(&e)),
    }
}

impl IdToken {
    /// The ID token for `user` signing in to `client` with `granted`, or
    /// `None` when `openid` was not granted (then the response is plain
    /// OAuth). It lives as long as the access token, so its key stays
    /// published as long as theirs ([`crate::keys::is_published`]).
    pub fn for_grant(
        settings: &IssuerSettings,
        now: i64,
        (subject, client): (Subject<'_>, &Client),
        granted: &ScopeSet,
        sign_in: SignIn,
    ) -> Result<Option<IdToken>, OAuthError> {
        if !granted.contains(OPENID) {
            return Ok(None);
        }
        let claims = IdClaims {
            iss: settings.issuer.clone(),
            sub: subject.0.id.clone(),
            aud: client.client_id.clone(),
            azp: client.client_id.clone(),
            exp: now + settings.access_ttl,
            iat: now,
            auth_time: sign_in.auth_time,
            nonce: sign_in.nonce,
            at_hash: String::new(),
            sid: sign_in.sid,
            amr: sign_in.amr.values(),
            acr: sign_in.amr.acr(),
            profile: profile_claims(subject, granted),
        };
        Ok(Some(IdToken {
            alg: alg_of(client)?,
            claims,
        }))
    }

    /// The record that the client got an ID token in this sign-in
    /// session, so that the session's end is told to it (Back-Channel
    /// Logout 1.0 §2.1; [`crate::db::session_ends`]), kept as long as the
    /// sign-in may live.
    pub fn session_client(&self, settings: &IssuerSettings, now: i64) -> SessionClient {
        SessionClient {
            sid: self.claims.sid.clone(),
            client_id: self.claims.aud.clone(),
            user_id: self.claims.sub.clone(),
            created_at: now,
            expires_at: settings.sign_in_end(self.claims.auth_time, now),
        }
    }

    /// Stores [`IdToken::session_client`] inside the grant's transaction.
    pub fn record(
        &self,
        conn: &mut AnyConnection,
        settings: &IssuerSettings,
        now: i64,
    ) -> Result<(), OAuthError> {
        Ok(session_clients::record(
            conn,
            &self.session_client(settings, now),
        )?)
    }

    /// Signs it for the signed `access_token`, making the client's key
    /// first if there is none yet. CPU work, after the commit.
    pub async fn sign(mut self, ctx: &GrantCtx, access_token: &str) -> Result<String, OAuthError> {
        self.claims.at_hash = at_hash(self.alg, access_token);
        let keys = match ctx.keys.has_id_key(self.alg) {
            true => ctx.keys.clone(),
            false => ctx.ring.with_id_key(self.alg).await?,
        };
        keys.sign_id(self.alg, &self.claims)?
            .ok_or_else(|| OAuthError::internal("no ID-token key after making one"))
    }
}

/// `at_hash` (Core 1.0 §3.1.3.6): the left half of the hash of the access
/// token's ASCII octets, with the hash of the JWS algorithm (SHA-256 for
/// RS256 and ES256; SHA-512 for EdDSA over Ed25519, as the OpenID
/// Foundation's registration of EdDSA says), base64url.
pub fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        SigningAlg::Rs256 | SigningAlg::Es256 => Sha256::digest(access_token).to_vec(),
        SigningAlg::EdDsa => Sha512::digest(access_token).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_hash() {
        // Core 1.0 §A.3's example: access token and at_hash for RS256.
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(at_hash(SigningAlg::Rs256, token), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(at_hash(SigningAlg::EdDsa, token).len(), 43);
    }
}
