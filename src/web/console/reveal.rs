//! A new client secret's one trip to the page that shows it.
//!
//! Creating a client or rotating its secret is a POST; its answer is a
//! `303` to the client's page (POST/redirect/GET), so that reloading or
//! going back never posts the form again, and the secret is never in a
//! URL. The secret travels in a cookie ([`Jar::Reveal`]: `HttpOnly`,
//! `SameSite=Strict`) that the client's page reads once and clears: a
//! reload shows no secret.
//!
//! The cookie is sealed with AES-256-GCM under a key derived from the
//! session's own secret (which never leaves the server) and bound to the
//! client id: the browser's cookie store alone does not hold the secret,
//! another session cannot open it, and it cannot be shown for another
//! client. The server stores nothing.

use actix_web::cookie::Cookie;
use actix_web::HttpRequest;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngExt;

use crate::secret::Secret;
use crate::web::cookies::Jar;
use crate::web::session::Session;

/// Separates this key from any other use of the session's secret.
const LABEL: &[u8] = b"authd console secret reveal v1";

/// The sealing key of a session: HMAC-SHA256 of a fixed label under the
/// session's own secret (HKDF's extract step in one go; RFC 5869 §2.2).
fn key(session_secret: &str) -> Option<LessSafeKey> {
    let mac = hmac::Key::new(hmac::HMAC_SHA256, session_secret.as_bytes());
    let derived = hmac::sign(&mac, LABEL);
    UnboundKey::new(&AES_256_GCM, derived.as_ref())
        .ok()
        .map(LessSafeKey::new)
}

/// `secret` sealed for `client_id` under the session's key (base64url of
/// nonce and ciphertext).
fn seal_value(session_secret: &str, client_id: &str, secret: &Secret) -> Option<String> {
    let key = key(session_secret)?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill(&mut nonce);
    let mut data = secret.expose().as_bytes().to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(client_id.as_bytes()),
        &mut data,
    )
    .ok()?;
    let mut raw = nonce.to_vec();
    raw.extend_from_slice(&data);
    Some(URL_SAFE_NO_PAD.encode(raw))
}

/// The secret in `value`, if it was sealed for `client_id` under this
/// session's key.
fn open_value(session_secret: &str, client_id: &str, value: &str) -> Option<Secret> {
    let raw = URL_SAFE_NO_PAD.decode(value).ok()?;
    if raw.len() < NONCE_LEN {
        return None;
    }
    let (nonce, sealed) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut sealed = sealed.to_vec();
    let plain = key(session_secret)?
        .open_in_place(nonce, Aad::from(client_id.as_bytes()), &mut sealed)
        .ok()?;
    String::from_utf8(plain.to_vec()).ok().map(Secret::new)
}

/// The cookie carrying `secret` of `client_id` to its page, or `None` if
/// it cannot be sealed (the page then shows no secret).
pub fn seal(
    session: &Session,
    client_id: &str,
    secret: &Secret,
    secure: bool,
) -> Option<Cookie<'static>> {
    seal_value(session.csrf_token(), client_id, secret).map(|v| Jar::Reveal.make(&v, secure))
}

/// The secret of `client_id` that the request's cookie carries for this
/// session, if any.
pub fn open(req: &HttpRequest, session: &Session, client_id: &str, secure: bool) -> Option<Secret> {
    open_value(
        session.csrf_token(),
        client_id,
        &Jar::Reveal.read(req, secure)?,
    )
}

/// Whether the request carries a reveal cookie (to clear it).
pub fn present(req: &HttpRequest, secure: bool) -> bool {
    Jar::Reveal.read(req, secure).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_session_opens_it_and_only_for_its_client() {
        let (session, other) = (Secret::generate(), Secret::generate());
        let secret = Secret::generate();
        let sealed = seal_value(session.expose(), "c1", &secret).unwrap();
        assert!(!sealed.contains(secret.expose()));
        let opened = open_value(session.expose(), "c1", &sealed).unwrap();
        assert_eq!(opened.expose(), secret.expose());
        assert!(open_value(other.expose(), "c1", &sealed).is_none());
        assert!(open_value(session.expose(), "c2", &sealed).is_none());
        // Tampered or truncated: nothing.
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(&bytes);
        assert!(open_value(session.expose(), "c1", &tampered).is_none());
        assert!(open_value(session.expose(), "c1", "AAAA").is_none());
        assert!(open_value(session.expose(), "c1", "not base64!").is_none());
        // A fresh nonce each time.
        assert_ne!(sealed, seal_value(session.expose(), "c1", &secret).unwrap());
    }
}
