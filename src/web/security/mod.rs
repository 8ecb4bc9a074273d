//! `GET /account/security` (signed in): the user's second factor
//! (docs/interface.md "Second factors"). Without TOTP it offers a new
//! secret to confirm with a first code (`POST /account/security/totp`);
//! with it, new recovery codes (`POST /account/security/recovery-codes`)
//! and turning it off (`POST /account/security/totp/remove`), each of
//! which needs a current code as well as the session (re-authentication
//! for a sensitive change): a wrong one counts toward the username's
//! lockout like a wrong password, so a stolen session cannot guess its
//! way to removing the factor. Passkeys are listed, added, renamed and
//! removed on the same page ([`passkeys`]). Every POST carries the
//! session's CSRF token.

mod change; // the POSTs that need a current code
pub mod enrol; // POST /account/security/totp
pub mod passkeys; // adding, renaming and removing passkeys
pub mod setup; // the enrolment form and its confirmation, shared with sign-in

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::audit::Actor;
use crate::db::{self, recovery_codes, totp_secrets, DbError};
use crate::login::client_ip;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::page;
use crate::web::session::{CurrentUser, Session};
use setup::Setup;

/// Where the page is.
pub const PATH: &str = "/account/security";

/// Registers the page and its forms.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::get().to(show))
        .route("/account/security/totp", web::post().to(enrol::confirm))
        .route(
            "/account/security/recovery-codes",
            web::post().to(change::regenerate),
        )
        .route(
            "/account/security/totp/remove",
            web::post().to(change::remove),
        )
        .route(
            "/account/security/passkeys/options",
            web::post().to(passkeys::options),
        )
        .route("/account/security/passkeys", web::post().to(passkeys::add))
        .route(
            "/account/security/passkeys/rename",
            web::post().to(passkeys::rename),
        )
        .route(
            "/account/security/passkeys/remove",
            web::post().to(passkeys::remove),
        );
}

/// A second factor that is on.
struct Enrolled {
    since: String,
    codes_left: i64,
}

#[derive(Template)]
#[template(path = "account_security.html")]
struct SecurityPage<'a> {
    username: &'a str,
    csrf_token: &'a str,
    message: Option<&'a str>,
    enrolled: Option<Enrolled>,
    setup: Option<Setup>,
    /// Where the enrolment form posts.
    action: &'static str,
    /// The passkeys panel, when passkeys are on.
    passkeys: Option<passkeys::Panel>,
}

/// The recovery codes, shown once.
#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct CodesPage<'a> {
    /// The page's heading.
    pub heading: &'a str,
    /// The codes.
    pub codes: &'a [String],
    /// Where "Continue" goes.
    pub continue_to: &'a str,
}

/// Who the audit trail says made a change.
fn actor<'a>(session: &'a Session, req: &HttpRequest, state: &AppState) -> Actor<'a> {
    Actor::Account {
        user_id: &session.user_id,
        remote: client_ip(req, state.logins.trusted_proxies()),
    }
}

/// `GET /account/security`.
async fn show(
    CurrentUser(session): CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    render(&state, &session, StatusCode::OK, None, None).await
}

/// The page, with `message` (and, after a wrong enrolment code, the same
/// `setup` again).
async fn render(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    message: Option<&str>,
    setup: Option<Setup>,
) -> Result<HttpResponse, WebError> {
    let user_id = session.user_id.clone();
    let (totp, codes_left, keys) = state
        .db
        .read(move |conn| {
            let totp = totp_secrets::find(conn, &user_id)?;
            let left = recovery_codes::count(conn, &user_id)?;
            let keys = db::passkeys::of_user(conn, &user_id)?;
            Ok::<_, DbError>((totp.map(|t| t.created_at), left, keys))
        })
        .await?;
    let now = state.clock.now();
    let panel = state
        .passkeys
        .is_some()
        .then(|| passkeys::panel(session, &keys, totp.is_some(), now));
    let enrolled = totp.map(|created| Enrolled {
        since: chrono::DateTime::from_timestamp(created, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        codes_left,
    });
    let setup = match (&enrolled, setup) {
        (Some(_), _) => None,
        (None, Some(setup)) => Some(setup),
        (None, None) => Some(Setup::new(state, &session.user_id, &session.username)?),
    };
    Ok(page::html(
        crate::web::passkey::page_builder(status, panel.is_some()),
        &SecurityPage {
            username: &session.username,
            csrf_token: session.csrf_token(),
            message,
            enrolled,
            setup,
            action: "/account/security/totp",
            passkeys: panel,
        },
    ))
}

/// The recovery codes page after a change on this page.
fn codes_page(heading: &str, codes: &[String]) -> HttpResponse {
    page::html(
        page::builder(StatusCode::OK),
        &CodesPage {
            heading,
            codes,
            continue_to: PATH,
        },
    )
}
