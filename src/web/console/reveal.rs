//! A new client secret's one trip to the page that shows it.
//!
//! Creating a client or rotating its secret is a POST; its answer is a
//! `303` to the client's page (POST/redirect/GET), so that reloading or
//! going back never posts the form again, and the secret is never in a
//! URL. The secret travels in a cookie ([`Jar::Reveal`]: `HttpOnly`,
//! `SameSite=Strict`) that the client's page reads once and clears: a
//! reload shows no secret.
//!
//! The cookie is sealed with AES-256-GCM under a key derived from a
//! server-side key (kept in the database's `csrf_keys` table, made on first
//! use, shared by every instance) and the hash of the session's id, and
//! bound to the client id as associated data. Nothing a page shows helps
//! to open it (the session's CSRF token, on every form, is not part of the
//! key); another session, or a copy of the cookie store alone, cannot open
//! it; and it cannot be shown for another client. The server stores
//! nothing per secret.

use actix_web::cookie::Cookie;
use actix_web::HttpRequest;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngExt;

use crate::db::DbError;
use crate::secret::Secret;
use crate::state::AppState;
use crate::web::cookies::Jar;
use crate::web::csrf;
use crate::web::session::Session;

/// The name of the server-side key in the `csrf_keys` table.
const KEY_NAME: &str = "console_reveal_v1";

/// Separates this key from any other use of the server-side key.
const LABEL: &[u8] = b"authd console secret reveal v2";

/// The server-side key, read (or made) once per process.
pub async fn server_key(state: &AppState) -> Result<&Secret, DbError> {
    csrf::shared_key(state, &state.reveal_key, KEY_NAME).await
}

/// The sealing key of a session: HMAC-SHA256 under the server-side key of
/// a fixed label and the hash of the session's id (HKDF's extract step in
/// one go; RFC 5869 §2.2).
fn key(server_key: &Secret, session_id_hash: &str) -> Option<LessSafeKey> {
    let mac = hmac::Key::new(hmac::HMAC_SHA256, server_key.expose().as_bytes());
    let mut ctx = hmac::Context::with_key(&mac);
    ctx.update(LABEL);
    ctx.update(b"\0");
    ctx.update(session_id_hash.as_bytes());
    let derived = ctx.sign();
    UnboundKey::new(&AES_256_GCM, derived.as_ref())
        .ok()
        .map(LessSafeKey::new)
}

/// `secret` sealed for `client_id` under the session's key (base64url of
/// nonce and ciphertext).
fn seal_value(key: &LessSafeKey, client_id: &str, secret: &Secret) -> Option<String> {
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

/// The secret in `value`, if it was sealed for `client_id` under `key`.
fn open_value(key: &LessSafeKey, client_id: &str, value: &str) -> Option<Secret> {
    let raw = URL_SAFE_NO_PAD.decode(value).ok()?;
    if raw.len() < NONCE_LEN {
        return None;
    }
    let (nonce, sealed) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut sealed = sealed.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(client_id.as_bytes()), &mut sealed)
        .ok()?;
    String::from_utf8(plain.to_vec()).ok().map(Secret::new)
}

/// The cookie carrying `secret` of `client_id` to its page, or `None` if
/// it cannot be sealed (the page then shows no secret).
pub fn seal(
    server_key: &Secret,
    session: &Session,
    client_id: &str,
    secret: &Secret,
    secure: bool,
) -> Option<Cookie<'static>> {
    let key = key(server_key, session.id_hash())?;
    seal_value(&key, client_id, secret).map(|v| Jar::Reveal.make(&v, secure))
}

/// The secret of `client_id` that the request's cookie carries for this
/// session, if any.
pub fn open(
    req: &HttpRequest,
    server_key: &Secret,
    session: &Session,
    client_id: &str,
    secure: bool,
) -> Option<Secret> {
    let key = key(server_key, session.id_hash())?;
    open_value(&key, client_id, &Jar::Reveal.read(req, secure)?)
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
        let server = Secret::generate();
        let (session, other) = (Secret::generate().hash(), Secret::generate().hash());
        let key_of = |s: &str| key(&server, s).unwrap();
        let secret = Secret::generate();
        let sealed = seal_value(&key_of(&session), "c1", &secret).unwrap();
        assert!(!sealed.contains(secret.expose()));
        let opened = open_value(&key_of(&session), "c1", &sealed).unwrap();
        assert_eq!(opened.expose(), secret.expose());
        assert!(open_value(&key_of(&other), "c1", &sealed).is_none());
        assert!(open_value(&key_of(&session), "c2", &sealed).is_none());
        // Another server key (another deployment): nothing.
        let elsewhere = key(&Secret::generate(), &session).unwrap();
        assert!(open_value(&elsewhere, "c1", &sealed).is_none());
        // Tampered or truncated: nothing.
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(&bytes);
        assert!(open_value(&key_of(&session), "c1", &tampered).is_none());
        assert!(open_value(&key_of(&session), "c1", "AAAA").is_none());
        assert!(open_value(&key_of(&session), "c1", "not base64!").is_none());
        // A fresh nonce each time.
        assert_ne!(
            sealed,
            seal_value(&key_of(&session), "c1", &secret).unwrap()
        );
    }
}
