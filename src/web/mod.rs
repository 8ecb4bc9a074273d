//! HTTP routes outside the OAuth protocol endpoints: the home page, the
//! health check, and the browser side (the login form, sessions, CSRF),
//! whose pages are askama templates on a shared layout.

pub mod account; // GET /account and its POSTs: allowed apps, sign-in sessions
mod assets; // the stylesheet
pub mod consent; // the consent page of /oauth/authorize
pub mod console; // GET /console and its POSTs: a user's own clients
pub mod cookies; // our cookies' names and attributes
pub mod csrf; // CSRF tokens of forms shown before a session exists
pub mod error; // WebError -> HTML error pages (the only place)
pub mod form; // page form bodies, whose fields may repeat
mod health; // GET /healthz
mod home; // GET /
mod login; // GET and POST /login
mod login_step; // the second step of a login: /login/code, /login/enrol
mod logout; // POST /logout
pub mod next; // where to go after login: local paths only
pub mod page; // HTML responses and their security headers
pub mod passkey; // the passkey script and ceremonies; signing in with a passkey alone
mod register; // GET and POST /register, when registration is on
pub mod security; // GET /account/security and its POSTs: the user's second factors
pub mod session; // sessions: start, check, end; the CurrentUser extractor
pub mod signed_out; // RP-initiated logout's pages: confirm, signed out

use actix_web::web;

pub use session::CurrentUser;

/// Registers the home page, the health check, the stylesheet, the login
/// and logout endpoints, registration, the console and the account page.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::home))
        .route("/healthz", web::get().to(health::healthz))
        .route("/static/authd.css", web::get().to(assets::stylesheet))
        .service(
            web::resource("/login")
                .route(web::get().to(login::form))
                .route(web::post().to(login::submit)),
        )
        .configure(login_step::routes)
        .configure(passkey::routes)
        .route("/logout", web::post().to(logout::logout))
        .service(
            web::resource("/register")
                .route(web::get().to(register::form))
                .route(web::post().to(register::submit)),
        )
        .configure(console::routes)
        .configure(account::routes)
        .configure(security::routes);
}
