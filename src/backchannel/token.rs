//! The logout token (Back-Channel Logout 1.0 §2.4): a JWT with `typ`
//! `logout+jwt`, signed like the client's ID tokens (its
//! `--id-token-alg`), that names the user (`sub`) and the session (`sid`)
//! and carries the back-channel logout event. No `nonce` (§2.4 forbids
//! it, so that a logout token cannot pass for an ID token). A fresh one is
//! signed for every attempt: its `exp` is short.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::db::clients::Client;
use crate::db::logout_notices::Notice;
use crate::keys::KeyRing;
use crate::oauth::id_token::alg_of;
use crate::secret::random_id;

/// The event a logout token carries (§2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is valid: it is sent at once, and a retry signs
/// a new one (§2.6 lets the app refuse an old token).
const LIFETIME_SECS: i64 = 120;

/// The claims (§2.4).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct LogoutClaims {
    /// The issuer.
    pub iss: String,
    /// The client told.
    pub aud: String,
    /// When it was signed.
    pub iat: i64,
    /// When it stops being valid.
    pub exp: i64,
    /// Its own id (§2.4: the app may use it to refuse a replay).
    pub jti: String,
    /// The session's user.
    pub sub: String,
    /// The session.
    pub sid: String,
    /// `{BACKCHANNEL_LOGOUT_EVENT: {}}`.
    pub events: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
}

impl LogoutClaims {
    /// The claims telling `client_id` that `notice`'s session ended, at `now`.
    pub fn new(issuer: &str, client_id: &str, notice: &Notice, now: i64) -> LogoutClaims {
        LogoutClaims {
            iss: issuer.to_string(),
            aud: client_id.to_string(),
            iat: now,
            exp: now + LIFETIME_SECS,
            jti: random_id(),
            sub: notice.user_id.clone(),
            sid: notice.sid.clone(),
            events: BTreeMap::from([(BACKCHANNEL_LOGOUT_EVENT.to_string(), Default::default())]),
        }
    }
}

/// Signs the logout token for `client`, making its ID-token key first if
/// there is none yet.
pub async fn sign(
    keys: &KeyRing,
    issuer: &str,
    client: &Client,
    notice: &Notice,
    now: i64,
) -> Result<String, String> {
    let alg = alg_of(client).map_err(|e| e.to_string())?;
    let claims = LogoutClaims::new(issuer, &client.client_id, notice, now);
    let mut snapshot = keys.current();
    if !snapshot.has_id_key(alg) {
        snapshot = keys.with_id_key(alg).await.map_err(|e| e.to_string())?;
    }
    snapshot
        .sign_logout(alg, &claims)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no {} key after making one", alg.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claims_are_those_of_section_2_4() {
        let notice = Notice {
            id: "n".into(),
            client_id: "c".into(),
            user_id: "u".into(),
            sid: "s".into(),
            created_at: 0,
            attempts: 0,
            next_attempt_at: 0,
            lease_until: 0,
            last_error: None,
        };
        let claims = LogoutClaims::new("https://id.example", "c", &notice, 1000);
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["aud"], "c");
        assert_eq!(json["sub"], "u");
        assert_eq!(json["sid"], "s");
        assert_eq!(json["exp"], 1120);
        assert_eq!(
            json["events"],
            serde_json::json!({BACKCHANNEL_LOGOUT_EVENT: {}})
        );
        assert!(json.get("nonce").is_none());
        assert_ne!(
            LogoutClaims::new("i", "c", &notice, 0).jti,
            LogoutClaims::new("i", "c", &notice, 0).jti
        );
    }
}
