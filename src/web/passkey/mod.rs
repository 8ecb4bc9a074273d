//! The browser side of passkeys (docs/interface.md "Second factors"):
//! the script that runs the WebAuthn ceremonies (`/static/passkey.js`,
//! served by authd: no other site is trusted with a page's script), the
//! ceremony cookie, and the answers shared by the three ceremonies:
//! registering on `/account/security` (`crate::web::security::passkeys`),
//! the second step of a login (`/login/code`), and signing in with a
//! passkey alone ([`sign_in`]).
//!
//! Each ceremony is two POSTs carrying the page's CSRF token: the first
//! answers the options as JSON and sets the sealed ceremony cookie; the
//! second is the page's form, with the authenticator's answer in its
//! `credential` field, and answers a page. Pages that offer a passkey
//! allow our own script (and its requests to us) in their
//! Content-Security-Policy; every other page still allows none.

pub mod sign_in; // POST /login/passkey/options and /login/passkey

use actix_web::cookie::Cookie;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};

use super::cookies::{self, Jar};
use super::page;
use crate::mfa::passkey::{Ceremony, Purpose, RelyingParty};
use crate::state::AppState;

/// Where the script is served.
pub const SCRIPT_PATH: &str = "/static/passkey.js";

const SCRIPT: &str = include_str!("../../../static/passkey.js");

/// Registers the script and the passwordless sign-in.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(SCRIPT_PATH, web::get().to(script))
        .route(sign_in::OPTIONS_PATH, web::post().to(sign_in::options))
        .route(sign_in::PATH, web::post().to(sign_in::finish));
}

/// `GET /static/passkey.js`.
async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(SCRIPT)
}

/// The page headers ([`page::builder`]) of a page that offers a passkey:
/// the policy also allows our own script and its requests to us.
pub fn page_builder(status: StatusCode, passkeys: bool) -> HttpResponseBuilder {
    let mut b = page::builder(status);
    if passkeys {
        let policy = page::CONTENT_SECURITY_POLICY.replace(
            "default-src 'none';",
            "default-src 'none'; script-src 'self'; connect-src 'self';",
        );
        b.insert_header((header::CONTENT_SECURITY_POLICY, policy));
    }
    b
}

/// The relying party, when passkeys are on.
pub fn relying_party(state: &AppState) -> Option<&RelyingParty> {
    state.passkeys.as_deref()
}

/// A JSON refusal of an options request: `{"error": message}`, which the
/// script shows.
pub fn refusal(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "error": message }))
}

/// The options of a ceremony (JSON for `navigator.credentials`), with
/// its state sealed into the ceremony cookie.
pub fn options_answer(
    state: &AppState,
    options: serde_json::Value,
    ceremony: &Ceremony,
) -> HttpResponse {
    match ceremony.seal(state.logins.vault()) {
        Ok(sealed) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .cookie(Jar::Ceremony.make(&sealed, cookies::secure(state)))
            .json(options),
        Err(e) => {
            log::error!("sealing a passkey ceremony: {e}");
            refusal(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.")
        }
    }
}

/// The ceremony the request's cookie carries, if it is for `purpose` and
/// `user_id` and has not expired.
pub fn ceremony(
    req: &HttpRequest,
    state: &AppState,
    purpose: Purpose,
    user_id: Option<&str>,
) -> Option<Ceremony> {
    let now = state.clock.now();
    Jar::Ceremony
        .read(req, cookies::secure(state))
        .and_then(|sealed| Ceremony::open(state.logins.vault(), &sealed, purpose, user_id, now))
}

/// The cookie that ends a ceremony (it is used once, whatever the
/// outcome).
pub fn ceremony_done(state: &AppState) -> Cookie<'static> {
    Jar::Ceremony.removal(cookies::secure(state))
}
