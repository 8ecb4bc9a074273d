//! A login's second step (docs/interface.md "Second factors"). After a
//! right password, a user with TOTP is sent to `GET /login/code`, and a
//! user whose role requires a second factor they lack to
//! `GET /login/enrol`; no session, code or token exists before that step
//! is done.
//!
//! The step is bound to the first by a sealed cookie
//! ([`Pending`]: the user, their credential generation, the stage, five
//! minutes): a code posted without it, after it expired, or by another
//! browser finds no login to finish. The `next` of the login (an
//! authorization request waiting at `/oauth/authorize`) rides along in
//! the query, as on the login form. Each form carries a CSRF token of the
//! login form's kind (the form nonce, [`Purpose::LoginStep`]).

mod code; // GET and POST /login/code
mod enrol; // GET and POST /login/enrol
mod passkey; // a passkey instead of a code at /login/code

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::cookies::{self, Jar};
use super::csrf::{self, FormNonce, Purpose};
use super::error::WebError;
use super::login::{render as login_page, Answer};
use super::{next, page};
use crate::audit::{self, Attempt};
use crate::http::form::Form;
use crate::login::{client_ip, CheckedLogin};
use crate::mfa::sealed::{Pending, Stage};
use crate::secret::Secret;
use crate::state::AppState;

/// Registers the second step's pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(passkey::OPTIONS_PATH, web::post().to(passkey::options))
        .service(
            web::resource("/login/code")
                .route(web::get().to(code::form))
                .route(web::post().to(code::submit)),
        )
        .service(
            web::resource("/login/enrol")
                .route(web::get().to(enrol::form))
                .route(web::post().to(enrol::submit)),
        );
}

/// The page of `stage`, carrying `next` when there is one.
fn step_url(stage: Stage, next: Option<&str>) -> String {
    let path = match stage {
        Stage::Code => "/login/code",
        Stage::Enrol => "/login/enrol",
    };
    next::with_next(path, next)
}

/// After a right password: the second step, instead of a session. Stores
/// a due rehash of the password, and nothing else (the failure counts
/// are reset only when the step is done).
pub(super) async fn begin(
    state: &AppState,
    attempt: &Attempt<'_>,
    login: CheckedLogin,
    stage: Stage,
    next: Option<&str>,
) -> Result<HttpResponse, WebError> {
    let user = &login.user;
    let pending = Pending::new(
        &user.id,
        &user.username,
        user.credential_generation,
        stage,
        state.clock.now(),
    )
    .with_factors(login.factors.totp.is_some(), login.factors.passkey);
    let sealed = pending
        .seal(state.logins.vault())
        .map_err(|e| WebError::Internal(e.into()))?;
    let user_id = user.id.clone();
    if login.rehash.is_some() {
        state.db.write(move |conn| login.store_rehash(conn)).await?;
    }
    let label = match stage {
        Stage::Code => "code",
        Stage::Enrol => "enrol",
    };
    audit::login_pending(attempt, &user_id, label);
    let secure = cookies::secure(state);
    Ok(page::see_other(&step_url(stage, next))
        .cookie(Jar::LoginStep.make(&sealed, secure))
        .finish())
}

/// What a step request carries: its pending login (if any, of `stage`,
/// unexpired), the form nonce, and `next`.
struct Step {
    pending: Option<Pending>,
    nonce: FormNonce,
    next: Option<String>,
    secure: bool,
}

impl Step {
    /// A posted form of `stage`'s page: its fields, the step, and the
    /// key its CSRF token is checked with.
    async fn posted<'s>(
        req: &HttpRequest,
        payload: web::Payload,
        state: &'s AppState,
        stage: Stage,
    ) -> Result<(Form, Step, &'s Secret), WebError> {
        let form = Form::read(req, payload)
            .await
            .map_err(|_| WebError::BadRequest("the form could not be read"))?;
        let key = csrf::form_key(state).await?;
        Ok((form, Step::of(req, state, stage), key))
    }

    fn of(req: &HttpRequest, state: &AppState, stage: Stage) -> Step {
        let secure = cookies::secure(state);
        let (vault, now) = (state.logins.vault(), state.clock.now());
        Step {
            pending: Jar::LoginStep
                .read(req, secure)
                .and_then(|v| Pending::open(vault, &v, stage, now)),
            nonce: FormNonce::of(req, secure),
            next: next::from_query(req),
            secure,
        }
    }

    /// Who is signing in, for the audit trail and the lockout.
    fn attempt<'a>(&self, req: &HttpRequest, state: &AppState, p: &'a Pending) -> Attempt<'a> {
        Attempt {
            username: &p.username,
            client_id: None,
            remote: client_ip(req, state.logins.trusted_proxies()),
        }
    }

    /// Whether a posted form carries this browser's token.
    fn verified(&self, key: &Secret, submitted: Option<&str>) -> bool {
        self.nonce.verify(key, Purpose::LoginStep, submitted)
    }

    /// The cookies of a finished step: the session, and the step's own
    /// cookies dropped.
    fn finished(&self, session: &Secret) -> [Cookie<'static>; 3] {
        [
            Jar::Session.make(session.expose(), self.secure),
            Jar::LoginStep.removal(self.secure),
            Jar::FormNonce.removal(self.secure),
        ]
    }

    /// No pending login (none, expired, or of the other stage): the login
    /// form again, keeping `next`.
    async fn expired(&self, state: &AppState) -> Result<HttpResponse, WebError> {
        let key = csrf::form_key(state).await?;
        let message = "Your sign-in expired or was not started here. Please sign in again.";
        let mut answer = login_page(
            state,
            key,
            &self.nonce,
            self.next.as_deref(),
            "",
            Answer::refused(StatusCode::BAD_REQUEST, message),
        );
        answer
            .add_cookie(&Jar::LoginStep.removal(self.secure))
            .map_err(|e| WebError::Internal(e.into()))?;
        Ok(answer)
    }
}
