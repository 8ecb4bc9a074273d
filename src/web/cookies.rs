//! The cookies authd sets in browsers, their names and attributes in one
//! place. Each is `HttpOnly` (no script reads it) with `Path=/`, and lasts
//! until the browser closes (the server enforces its own lifetimes). When
//! the issuer is https they are `Secure` and named with the `__Host-`
//! prefix, which browsers accept only over https, for this exact host:
//! a sibling subdomain cannot plant one.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;

use crate::state::AppState;

/// One of our cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jar {
    /// The browser session.
    Session,
    /// The nonce behind the CSRF token of forms shown before a session
    /// exists (the login form).
    FormNonce,
    /// A new client secret on its way from the console's POST to the one
    /// page that shows it, sealed (see `console::reveal`).
    Reveal,
    /// A login between its password and its second step, sealed (see
    /// `crate::mfa::sealed::Pending`).
    LoginStep,
    /// A passkey ceremony between its options and the authenticator's
    /// answer, sealed (see `crate::mfa::passkey::Ceremony`).
    Ceremony,
}

impl Jar {
    /// The cookie's name.
    pub fn name(self, secure: bool) -> &'static str {
        match (self, secure) {
            (Jar::Session, false) => "authd_session",
            (Jar::Session, true) => "__Host-authd_session",
            (Jar::FormNonce, false) => "authd_form",
            (Jar::FormNonce, true) => "__Host-authd_form",
            (Jar::Reveal, false) => "authd_reveal",
            (Jar::Reveal, true) => "__Host-authd_reveal",
            (Jar::LoginStep, false) => "authd_login_step",
            (Jar::LoginStep, true) => "__Host-authd_login_step",
            (Jar::Ceremony, false) => "authd_webauthn",
            (Jar::Ceremony, true) => "__Host-authd_webauthn",
        }
    }

    fn same_site(self) -> SameSite {
        match self {
            // Lax: a user arriving from a client app (a top-level GET
            // from another site, later /oauth/authorize) is still logged
            // in; cross-site POSTs never carry it.
            Jar::Session => SameSite::Lax,
            // Strict: only our own pages post the forms it guards, and
            // only our own pages' redirects lead to the page that reads
            // the revealed secret, or to a login's second step.
            Jar::FormNonce | Jar::Reveal | Jar::LoginStep | Jar::Ceremony => SameSite::Strict,
        }
    }

    /// The value the request carries, if any.
    pub fn read(self, req: &HttpRequest, secure: bool) -> Option<String> {
        req.cookie(self.name(secure)).map(|c| c.value().to_string())
    }

    /// The cookie holding `value`.
    pub fn make(self, value: &str, secure: bool) -> Cookie<'static> {
        Cookie::build(self.name(secure), value.to_string())
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(self.same_site())
            .finish()
    }

    /// A cookie that makes the browser drop this one.
    pub fn removal(self, secure: bool) -> Cookie<'static> {
        let mut c = self.make("", secure);
        c.make_removal();
        c
    }
}

/// Whether cookies must be `Secure`: the issuer (the URL browsers use) is
/// https.
pub fn secure(state: &AppState) -> bool {
    state.issuer.issuer.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_follow_the_scheme() {
        let plain = Jar::Session.make("v", false).to_string();
        assert_eq!(plain, "authd_session=v; HttpOnly; SameSite=Lax; Path=/");
        let tls = Jar::Session.make("v", true).to_string();
        assert_eq!(
            tls,
            "__Host-authd_session=v; HttpOnly; SameSite=Lax; Secure; Path=/"
        );
        let form = Jar::FormNonce.make("n", true).to_string();
        assert!(form.contains("SameSite=Strict") && form.starts_with("__Host-"));
        let gone = Jar::Session.removal(false).to_string();
        assert!(gone.contains("Max-Age=0"), "{gone}");
    }
}
