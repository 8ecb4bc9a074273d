//! Cross-site request forgery defences for the HTML forms.
//!
//! Before there is a session (the login form), a signed double submit: the
//! browser holds a random nonce in a cookie ([`Jar::FormNonce`]: HttpOnly,
//! SameSite=Strict, so a form posted from another site does not carry
//! it), and the form carries an HMAC-SHA256 of that nonce under a key that
//! every instance shares (stored in the database, made on first use). A
//! post is accepted only when both arrive and match: another site can
//! neither send the cookie nor read a token. The token is bound to a
//! purpose, so that one form's token is refused by another. Nothing per
//! form is stored, and any instance checks any other one's forms.
//!
//! Once logged in, a form carries its session's own secret (stored with
//! the session), compared in constant time: see
//! [`super::session::Session::csrf_matches`].

use actix_web::cookie::Cookie;
use actix_web::HttpRequest;
use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::cookies::Jar;
use crate::db::{csrf_keys, DbError};
use crate::secret::Secret;
use crate::state::AppState;

/// The name of the shared key in the database.
const KEY_NAME: &str = "form_csrf_v1";

/// What a pre-session form is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `POST /login`.
    Login,
    /// `POST /register`.
    Register,
    /// A login's second step: `POST /login/code` and `POST /login/enrol`.
    LoginStep,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Login => b"authd login form",
            Purpose::Register => b"authd registration form",
            Purpose::LoginStep => b"authd login second step form",
        }
    }
}

/// The shared key, read (or made) once per process.
pub async fn form_key(state: &AppState) -> Result<&Secret, DbError> {
    shared_key(state, &state.csrf_key, KEY_NAME).await
}

/// The server-side key called `name` in the `csrf_keys` table, kept in
/// `cell` once read: made by the first instance that needs it, and the
/// same for every instance on the database.
pub async fn shared_key<'a>(
    state: &AppState,
    cell: &'a tokio::sync::OnceCell<Secret>,
    name: &'static str,
) -> Result<&'a Secret, DbError> {
    cell.get_or_try_init(|| async {
        let (candidate, now) = (Secret::generate(), state.clock.now());
        let stored = state
            .db
            .write(move |conn| {
                csrf_keys::get_or_create(conn, name, candidate.expose(), now).map_err(DbError::from)
            })
            .await?;
        Ok(Secret::new(stored))
    })
    .await
}

/// The nonce of a pre-session form.
pub struct FormNonce {
    nonce: Secret,
    /// Not yet in the browser: the response must set the cookie.
    new: bool,
}

impl FormNonce {
    /// The nonce the browser holds, or a new one when it holds none (or
    /// one that we cannot have made).
    pub fn of(req: &HttpRequest, secure: bool) -> FormNonce {
        match Jar::FormNonce
            .read(req, secure)
            .and_then(|v| Secret::parse_generated(&v))
        {
            Some(nonce) => FormNonce { nonce, new: false },
            None => FormNonce::fresh(),
        }
    }

    /// A new nonce (after a failed check: the old one is not trusted).
    pub fn fresh() -> FormNonce {
        FormNonce {
            nonce: Secret::generate(),
            new: true,
        }
    }

    fn mac(&self, key: &Secret, purpose: Purpose) -> hmac::Tag {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key.expose().as_bytes());
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(purpose.label());
        ctx.update(&[0]);
        ctx.update(self.nonce.expose().as_bytes());
        ctx.sign()
    }

    /// The token the form carries.
    pub fn token(&self, key: &Secret, purpose: Purpose) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(key, purpose).as_ref())
    }

    /// Whether `submitted` is this nonce's token for `purpose` (a nonce
    /// the browser did not send has no valid token). Constant time.
    pub fn verify(&self, key: &Secret, purpose: Purpose, submitted: Option<&str>) -> bool {
        let Some(given) = submitted.and_then(|t| URL_SAFE_NO_PAD.decode(t).ok()) else {
            return false;
        };
        !self.new && crate::secret::constant_time_eq(self.mac(key, purpose).as_ref(), &given)
    }

    /// The cookie to set when the browser does not hold this nonce yet.
    pub fn cookie(&self, secure: bool) -> Option<Cookie<'static>> {
        self.new
            .then(|| Jar::FormNonce.make(self.nonce.expose(), secure))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn held(nonce: &FormNonce) -> FormNonce {
        let req = TestRequest::default()
            .cookie(Jar::FormNonce.make(nonce.nonce.expose(), false))
            .to_http_request();
        FormNonce::of(&req, false)
    }

    #[test]
    fn a_token_matches_only_its_nonce_key_and_purpose() {
        let key = Secret::generate();
        let issued = FormNonce::fresh();
        let token = issued.token(&key, Purpose::Login);
        let back = held(&issued);
        assert!(back.cookie(false).is_none(), "the browser has it");
        assert!(back.verify(&key, Purpose::Login, Some(&token)));
        assert!(!back.verify(&Secret::generate(), Purpose::Login, Some(&token)));
        assert!(!back.verify(&key, Purpose::Login, None));
        assert!(!back.verify(&key, Purpose::Login, Some("")));
        assert!(!back.verify(&key, Purpose::Login, Some(back.nonce.expose())));
        assert!(!back.verify(&key, Purpose::Register, Some(&token)));
        let other = held(&FormNonce::fresh());
        assert!(!other.verify(&key, Purpose::Login, Some(&token)));
    }

    #[test]
    fn a_nonce_the_browser_did_not_send_verifies_nothing() {
        let key = Secret::generate();
        let fresh = FormNonce::fresh();
        let token = fresh.token(&key, Purpose::Login);
        assert!(!fresh.verify(&key, Purpose::Login, Some(&token)));
        assert!(fresh.cookie(false).is_some());
        let junk = TestRequest::default()
            .cookie(Jar::FormNonce.make("not-ours", false))
            .to_http_request();
        assert!(FormNonce::of(&junk, false).new);
    }
}
