//! Passkeys (WebAuthn Level 2, with webauthn-rs): the relying party the
//! issuer URL makes, and the ceremonies of registering one and of signing
//! in with one (docs/interface.md "Second factors").
//!
//! A ceremony's state (its challenge, what it allows) is sealed under the
//! key file into a cookie between its two requests, like a login's
//! pending step, so that any instance can finish what another started and
//! nothing is kept in memory. It lasts [`CEREMONY_TTL_SECS`] and names
//! its purpose and user: a state made for one cannot finish another. A
//! sign-in takes the use of the credential with a conditional update
//! (`crate::db::passkeys::take_use`), so a replayed answer signs in once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use crate::db::passkeys::PasskeyRow;
use crate::keys::{KeyError, KeyVault};

/// How long a ceremony may wait for the authenticator.
pub const CEREMONY_TTL_SECS: i64 = 5 * 60;

/// The most passkeys one user may register (each is listed in a sign-in's
/// `allowCredentials` and a registration's exclusions).
pub const MAX_PER_USER: usize = 10;

/// The longest name a passkey may have, in characters.
pub const MAX_NAME_CHARS: usize = 64;

const CEREMONY_LABEL: &str = "authd webauthn ceremony v1";

/// The relying party id and origin that the issuer URL `issuer` makes
/// (WebAuthn Level 2 §5.1.3, §13.4.9): the id is the issuer's host, which
/// must be a domain name, and the origin must be https unless the host is
/// `localhost` (browsers treat it as a secure context). The error says
/// why WebAuthn cannot work with it.
pub fn relying_party(issuer: &str) -> Result<(String, Url), String> {
    let url = Url::parse(issuer).map_err(|e| format!("'{issuer}' is not a URL: {e}"))?;
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
        Some(_) => {
            return Err(format!(
                "the issuer '{issuer}' is an IP address; passkeys (WebAuthn) are bound to a \
                 domain name"
            ))
        }
        None => return Err(format!("the issuer '{issuer}' has no host")),
    };
    let local = host == "localhost" || host.ends_with(".localhost");
    if url.scheme() != "https" && !local {
        return Err(format!(
            "the issuer '{issuer}' is not https; browsers offer passkeys (WebAuthn) only to \
             https origins (or http://localhost)"
        ));
    }
    let origin = Url::parse(&url.origin().ascii_serialization())
        .map_err(|e| format!("the issuer '{issuer}' has no origin: {e}"))?;
    Ok((host, origin))
}

/// The WebAuthn user handle of a user: 16 bytes derived from their id
/// (stored by discoverable credentials and sent back at sign-in; it
/// reveals nothing of the id).
pub fn user_handle(user_id: &str) -> Uuid {
    let digest = Sha256::new()
        .chain_update(b"authd webauthn user handle\0")
        .chain_update(user_id.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Purpose {
    /// Registering a passkey for the signed-in user.
    Register,
    /// The second step of a login, after the password.
    SecondFactor,
    /// Signing in with a passkey alone (a discoverable credential).
    Passwordless,
}

/// A ceremony between its options and the authenticator's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ceremony {
    /// What it is for.
    pub purpose: Purpose,
    /// The user it is for (none for a passwordless sign-in).
    pub user_id: Option<String>,
    /// When it started (Unix seconds).
    pub started_at: i64,
    /// The SHA-256 of its challenge, base64url.
    pub challenge: String,
    /// webauthn-rs's state, as JSON.
    state: String,
}

impl Ceremony {
    /// The ceremony whose options (as sent to the browser) are `options`.
    fn new(
        purpose: Purpose,
        user_id: Option<&str>,
        options: &serde_json::Value,
        state: &impl Serialize,
        now: i64,
    ) -> Result<Ceremony, PasskeyError> {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .ok_or_else(|| PasskeyError::Internal("options without a challenge".into()))?;
        Ok(Ceremony {
            purpose,
            user_id: user_id.map(str::to_string),
            started_at: now,
            challenge: URL_SAFE_NO_PAD.encode(Sha256::digest(challenge.as_bytes())),
            state: serde_json::to_string(state)
                .map_err(|e| PasskeyError::Internal(e.to_string()))?,
        })
    }

    /// Sealed, for the cookie.
    pub fn seal(&self, vault: &KeyVault) -> Result<String, KeyError> {
        let json = serde_json::to_string(self)
            .map_err(|e| KeyError::Crypto(format!("cannot encode a ceremony: {e}")))?;
        vault.seal(CEREMONY_LABEL, &json)
    }

    /// The ceremony a cookie carries, if it opens, is for `purpose` and
    /// `user_id`, and has not expired at `now`.
    pub fn open(
        vault: &KeyVault,
        sealed: &str,
        purpose: Purpose,
        user_id: Option<&str>,
        now: i64,
    ) -> Option<Ceremony> {
        let json = vault.open(CEREMONY_LABEL, sealed).ok()?;
        let c: Ceremony = serde_json::from_str(&json).ok()?;
        let fresh = c.started_at <= now && now < c.started_at + CEREMONY_TTL_SECS;
        (c.purpose == purpose && c.user_id.as_deref() == user_id && fresh).then_some(c)
    }
}

/// Why a ceremony's answer was refused.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The answer could not be read.
    #[error("the authenticator's answer could not be read")]
    Malformed,
    /// No such credential is registered, or it is not this user's.
    #[error("unknown credential")]
    Unknown,
    /// The signature counter went backwards: the credential may have
    /// been cloned (WebAuthn Level 2 §6.1.1).
    #[error("the signature counter shows a possible clone")]
    Cloned,
    /// WebAuthn's checks failed (origin, challenge, signature, user
    /// verification, ...).
    #[error("WebAuthn refused the answer: {0}")]
    Refused(String),
    /// The credential is registered already.
    #[error("this passkey is registered already")]
    Duplicate,
    /// Something on our side.
    #[error("{0}")]
    Internal(String),
}

impl PasskeyError {
    /// Its name in the audit trail.
    pub fn reason(&self) -> &'static str {
        match self {
            PasskeyError::Malformed => "malformed",
            PasskeyError::Unknown => "unknown_credential",
            PasskeyError::Cloned => "counter",
            PasskeyError::Refused(_) => "refused",
            PasskeyError::Duplicate => "duplicate",
            PasskeyError::Internal(_) => "internal",
        }
    }
}

impl From<WebauthnError> for PasskeyError {
    fn from(e: WebauthnError) -> PasskeyError {
        match e {
            WebauthnError::CredentialPossibleCompromise => PasskeyError::Cloned,
            other => PasskeyError::Refused(other.to_string()),
        }
    }
}

/// A credential id as stored: base64url without padding.
pub fn credential_id_text(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

/// A credential that passed the checks of a sign-in, to be taken
/// (`crate::db::passkeys::take_use`) by the write that relies on it.
#[derive(Debug, Clone)]
pub struct CheckedUse {
    /// Whose it is.
    pub user_id: String,
    /// Its id.
    pub credential_id: String,
    /// Its record as read.
    pub read: String,
    /// Its record with the new counter.
    pub updated: String,
    /// The ceremony's challenge hash.
    pub challenge: String,
    /// When the ceremony started.
    pub started_at: i64,
}

/// The relying party: authd's WebAuthn configuration.
pub struct RelyingParty {
    webauthn: Webauthn,
    /// The relying party id (the issuer's host).
    pub id: String,
}

impl RelyingParty {
    /// The relying party of the issuer URL `issuer` (see
    /// [`relying_party`]).
    pub fn new(issuer: &str) -> Result<RelyingParty, String> {
        let (id, origin) = relying_party(issuer)?;
        let webauthn = WebauthnBuilder::new(&id, &origin)
            .and_then(|b| b.rp_name("authd").build())
            .map_err(|e| format!("passkeys (WebAuthn) cannot use the issuer '{issuer}': {e}"))?;
        Ok(RelyingParty { webauthn, id })
    }

    /// The options of a registration for `user_id` (called `username`),
    /// excluding the credentials they have, as JSON for the browser; and
    /// its state. The credential must be discoverable (a passkey signs in
    /// without a username) and verify its user.
    pub fn start_registration(
        &self,
        (user_id, username): (&str, &str),
        existing: &[PasskeyRow],
        now: i64,
    ) -> Result<(serde_json::Value, Ceremony), PasskeyError> {
        let exclude = existing
            .iter()
            .filter_map(|row| URL_SAFE_NO_PAD.decode(&row.credential_id).ok())
            .map(Into::into)
            .collect::<Vec<_>>();
        let (ccr, state) = self.webauthn.start_passkey_registration(
            user_handle(user_id),
            username,
            username,
            Some(exclude),
        )?;
        let mut options = to_json(&ccr)?;
        // webauthn-rs leaves residency to the authenticator; a passkey
        // must be discoverable (WebAuthn Level 2 §5.4.6). Its state does
        // not depend on this.
        let selection = &mut options["publicKey"]["authenticatorSelection"];
        selection["residentKey"] = "required".into();
        selection["requireResidentKey"] = true.into();
        let ceremony = Ceremony::new(Purpose::Register, Some(user_id), &options, &state, now)?;
        Ok((options, ceremony))
    }

    /// Checks the browser's answer `credential` (JSON) to `ceremony`: the
    /// new passkey.
    pub fn finish_registration(
        &self,
        ceremony: &Ceremony,
        credential: &str,
    ) -> Result<Passkey, PasskeyError> {
        let answer: RegisterPublicKeyCredential =
            serde_json::from_str(credential).map_err(|_| PasskeyError::Malformed)?;
        let state: PasskeyRegistration = from_state(&ceremony.state)?;
        Ok(self.webauthn.finish_passkey_registration(&answer, &state)?)
    }

    /// The options of a sign-in, as JSON for the browser, and its state.
    /// With `allowed` (the second step of a login), only those
    /// credentials of the user `user_id`; without, any discoverable
    /// credential. User verification is required either way.
    pub fn start_sign_in(
        &self,
        purpose: Purpose,
        user_id: Option<&str>,
        allowed: &[PasskeyRow],
        now: i64,
    ) -> Result<(serde_json::Value, Ceremony), PasskeyError> {
        let (rcr, state) = self.webauthn.start_discoverable_authentication()?;
        let mut options = to_json(&rcr)?;
        // A button, not the autofill of conditional mediation.
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        // The state allows any credential; the one answering is checked
        // against its row when the answer comes (`finish_sign_in`).
        options["publicKey"]["allowCredentials"] = allowed
            .iter()
            .map(|row| serde_json::json!({"type": "public-key", "id": row.credential_id}))
            .collect();
        let ceremony = Ceremony::new(purpose, user_id, &options, &state, now)?;
        Ok((options, ceremony))
    }

    /// The credential id an answer names, as stored, to look its passkey
    /// up with.
    pub fn answer_credential_id(credential: &str) -> Result<String, PasskeyError> {
        let answer: PublicKeyCredential =
            serde_json::from_str(credential).map_err(|_| PasskeyError::Malformed)?;
        Ok(credential_id_text(answer.get_credential_id()))
    }

    /// Checks the answer `credential` to `ceremony` against `row`, the
    /// passkey it names: the signature, the challenge, the origin, user
    /// verification and the counter (webauthn-rs), and that the user
    /// handle, when sent, is the row's user's (required without a
    /// username: it is what names the user).
    pub fn finish_sign_in(
        &self,
        ceremony: &Ceremony,
        credential: &str,
        row: &PasskeyRow,
    ) -> Result<CheckedUse, PasskeyError> {
        let answer: PublicKeyCredential =
            serde_json::from_str(credential).map_err(|_| PasskeyError::Malformed)?;
        if credential_id_text(answer.get_credential_id()) != row.credential_id {
            return Err(PasskeyError::Unknown);
        }
        let handle = answer.get_user_unique_id().map(<[u8]>::to_vec);
        let expected = user_handle(&row.user_id);
        match (&handle, ceremony.purpose) {
            (Some(h), _) if h.as_slice() != expected.as_bytes() => {
                return Err(PasskeyError::Unknown)
            }
            (None, Purpose::Passwordless) => return Err(PasskeyError::Unknown),
            _ => {}
        }
        let mut passkey: Passkey = serde_json::from_str(&row.passkey)
            .map_err(|e| PasskeyError::Internal(e.to_string()))?;
        let state: DiscoverableAuthentication = from_state(&ceremony.state)?;
        let key = DiscoverableKey::from(&passkey);
        let result = self
            .webauthn
            .finish_discoverable_authentication(&answer, state, &[key])?;
        if !result.user_verified() {
            return Err(PasskeyError::Refused("no user verification".into()));
        }
        passkey.update_credential(&result);
        Ok(CheckedUse {
            user_id: row.user_id.clone(),
            credential_id: row.credential_id.clone(),
            read: row.passkey.clone(),
            updated: to_text(&passkey)?,
            challenge: ceremony.challenge.clone(),
            started_at: ceremony.started_at,
        })
    }
}

/// A new passkey as stored.
pub fn new_row(
    user_id: &str,
    name: &str,
    passkey: &Passkey,
    now: i64,
) -> Result<PasskeyRow, PasskeyError> {
    Ok(PasskeyRow {
        credential_id: credential_id_text(passkey.cred_id()),
        user_id: user_id.to_string(),
        name: name.to_string(),
        passkey: to_text(passkey)?,
        created_at: now,
        last_used_at: None,
        last_challenge: None,
    })
}

/// A passkey's name as typed: trimmed, at most [`MAX_NAME_CHARS`], no
/// control characters; `None` when empty or unusable.
pub fn clean_name(typed: &str) -> Option<String> {
    let name = typed.trim();
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && !name.chars().any(char::is_control);
    ok.then(|| name.to_string())
}

fn to_json(value: &impl Serialize) -> Result<serde_json::Value, PasskeyError> {
    serde_json::to_value(value).map_err(|e| PasskeyError::Internal(e.to_string()))
}

fn to_text(value: &impl Serialize) -> Result<String, PasskeyError> {
    serde_json::to_string(value).map_err(|e| PasskeyError::Internal(e.to_string()))
}

fn from_state<T: for<'de> Deserialize<'de>>(state: &str) -> Result<T, PasskeyError> {
    serde_json::from_str(state).map_err(|e| PasskeyError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_comes_from_the_issuer() {
        let (id, origin) = relying_party("https://id.example.com/auth").unwrap();
        assert_eq!(id, "id.example.com");
        assert_eq!(origin.as_str(), "https://id.example.com/");
        let (id, origin) = relying_party("http://localhost:8080").unwrap();
        assert_eq!(
            (id.as_str(), origin.as_str()),
            ("localhost", "http://localhost:8080/")
        );
        for bad in [
            "http://127.0.0.1:8080",
            "https://10.0.0.1",
            "https://[::1]:8443",
            "http://id.example.com",
        ] {
            assert!(relying_party(bad).is_err(), "{bad}");
        }
        assert!(RelyingParty::new("https://id.example.com").is_ok());
    }

    #[test]
    fn a_ceremony_opens_for_its_purpose_and_user_until_it_expires() {
        let vault = KeyVault::from_bytes(&[5u8; 32]).unwrap();
        let rp = RelyingParty::new("https://id.example.com").unwrap();
        let (options, c) = rp
            .start_sign_in(Purpose::SecondFactor, Some("u1"), &[], 1000)
            .unwrap();
        assert_eq!(options["publicKey"]["userVerification"], "required");
        assert_eq!(options["publicKey"]["rpId"], "id.example.com");
        let sealed = c.seal(&vault).unwrap();
        let open = |p, u, now| Ceremony::open(&vault, &sealed, p, u, now).is_some();
        assert!(open(
            Purpose::SecondFactor,
            Some("u1"),
            1000 + CEREMONY_TTL_SECS - 1
        ));
        assert!(!open(
            Purpose::SecondFactor,
            Some("u1"),
            1000 + CEREMONY_TTL_SECS
        ));
        assert!(
            !open(Purpose::SecondFactor, Some("u2"), 1000),
            "another user"
        );
        assert!(!open(Purpose::Passwordless, None, 1000), "another purpose");
        assert!(
            !open(Purpose::Register, Some("u1"), 1000),
            "another purpose"
        );
    }

    #[test]
    fn registration_asks_for_a_discoverable_verified_credential() {
        let rp = RelyingParty::new("https://id.example.com").unwrap();
        let (options, c) = rp.start_registration(("u1", "alice"), &[], 5).unwrap();
        let sel = &options["publicKey"]["authenticatorSelection"];
        assert_eq!(sel["residentKey"], "required");
        assert_eq!(sel["requireResidentKey"], true);
        assert_eq!(sel["userVerification"], "required");
        assert_eq!(c.user_id.as_deref(), Some("u1"));
        assert_ne!(user_handle("u1"), user_handle("u2"));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(clean_name("  Laptop ").as_deref(), Some("Laptop"));
        assert_eq!(clean_name("   "), None);
        assert_eq!(clean_name("a\u{7}b"), None);
        assert!(clean_name(&"x".repeat(MAX_NAME_CHARS)).is_some());
        assert_eq!(clean_name(&"x".repeat(MAX_NAME_CHARS + 1)), None);
    }
}
