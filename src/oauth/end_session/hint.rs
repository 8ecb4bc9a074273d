//! The `id_token_hint` of a logout request (RP-Initiated Logout 1.0 §2):
//! an ID token this server issued, which names the user, the app (`aud`)
//! and the session (`sid`) the app asks to end. Its signature (by a key
//! still published) and issuer must hold; its expiry need not (§2: the
//! OP need not mind whether it has expired), since an app logs a user out
//! long after its ID token's short life.

use jsonwebtoken::{decode, decode_header, Validation};
use serde::Deserialize;

use crate::keys::KeySnapshot;

/// What a valid hint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// The user (`sub`).
    pub user_id: String,
    /// The app it was issued to (`aud`).
    pub client_id: String,
    /// The sign-in session (`sid`), when it names one.
    pub sid: Option<String>,
}

/// `aud`: a string, or an array of them (RFC 7519 §4.1.3).
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct HintClaims {
    sub: String,
    aud: Audience,
    azp: Option<String>,
    sid: Option<String>,
}

/// The hint, if it is an ID token of ours: `typ` `JWT` (not an access or
/// logout token), signed by a published key with that key's algorithm,
/// `iss` this issuer; its app is `aud`, or `azp` when `aud` lists several
/// (Core 1.0 §2). `None` for anything else.
pub fn verify(keys: &KeySnapshot, issuer: &str, token: &str) -> Option<Hint> {
    let header = decode_header(token).ok()?;
    if !header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("JWT"))
    {
        return None;
    }
    let (key, alg) = keys.decoding_key(header.kid.as_deref()?)?;
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["iss", "sub", "aud"]);
    let claims = decode::<HintClaims>(token, key, &validation).ok()?.claims;
    let client_id = match claims.aud {
        Audience::One(aud) => aud,
        Audience::Many(mut auds) if auds.len() == 1 => auds.pop()?,
        Audience::Many(auds) => claims.azp.filter(|azp| auds.contains(azp))?,
    };
    Some(Hint {
        user_id: claims.sub,
        client_id,
        sid: claims.sid,
    })
}
