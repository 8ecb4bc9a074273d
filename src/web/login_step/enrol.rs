//! `GET /login/enrol`: a role requires a second factor that the user has
//! not set up, so the login shows a new TOTP secret (as on
//! `/account/security`) before anything is issued. `POST /login/enrol`
//! confirms it with its first code and, in one write, stores it with a
//! first set of recovery codes and starts the session; the codes are
//! shown once, with a link on to where the login was going. The session's
//! `amr` is the password's alone: the new secret proves nothing about who
//! signed in, only the next sign-in does.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{step_url, Step};
use crate::audit::{self, Actor};
use crate::login::second_factor::HeldLogin;
use crate::login::LoginError;
use crate::mfa::amr::Amr;
use crate::mfa::recovery;
use crate::mfa::sealed::{Pending, Stage};
use crate::state::AppState;
use crate::web::csrf::{self, FormNonce};
use crate::web::error::WebError;
use crate::web::security::enrol::WRONG_FIRST_CODE;
use crate::web::security::setup::{self, NotConfirmed, Setup};
use crate::web::security::CodesPage;
use crate::web::{cookies, next, page, session};

#[derive(Template)]
#[template(path = "login_enrol.html")]
struct EnrolPage<'a> {
    action: &'a str,
    csrf_token: &'a str,
    message: Option<&'a str>,
    setup: Setup,
}

fn render(
    state: &AppState,
    step: &Step,
    (key, nonce): (&crate::secret::Secret, &FormNonce),
    (status, message): (StatusCode, Option<&str>),
    setup: Setup,
) -> HttpResponse {
    let mut b = page::builder(status);
    if let Some(c) = nonce.cookie(cookies::secure(state)) {
        b.cookie(c);
    }
    let action = step_url(Stage::Enrol, step.next.as_deref());
    page::html(
        b,
        &EnrolPage {
            action: &action,
            csrf_token: &nonce.token(key, csrf::Purpose::LoginStep),
            message,
            setup,
        },
    )
}

fn new_setup(state: &AppState, pending: &Pending) -> Result<Setup, WebError> {
    Setup::new(state, &pending.user_id, &pending.username)
}

/// `GET /login/enrol`.
pub(super) async fn form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let step = Step::of(&req, &state, Stage::Enrol);
    let Some(pending) = &step.pending else {
        return step.expired(&state).await;
    };
    let key = csrf::form_key(&state).await?;
    let setup = new_setup(&state, pending)?;
    let ok = (StatusCode::OK, None);
    Ok(render(&state, &step, (key, &step.nonce), ok, setup))
}

/// `POST /login/enrol`.
pub(super) async fn submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let (form, step, key) = Step::posted(&req, payload, &state, Stage::Enrol).await?;
    let Some(pending) = &step.pending else {
        return step.expired(&state).await;
    };
    if !step.verified(key, form.get("csrf_token")) {
        let message = Some("This form has expired. Please try again.");
        let (fresh, setup) = (FormNonce::fresh(), new_setup(&state, pending)?);
        let refused = (StatusCode::FORBIDDEN, message);
        return Ok(render(&state, &step, (key, &fresh), refused, setup));
    }
    let (user_id, sealed) = (&pending.user_id, form.get("secret"));
    let confirmed = match setup::confirm(&state, user_id, sealed, form.get("code"))? {
        Ok(confirmed) => confirmed,
        Err(why) => {
            let again = match (why, sealed) {
                (NotConfirmed::WrongCode, Some(s)) => {
                    Setup::again(&state, user_id, &pending.username, s)?
                }
                _ => None,
            };
            let setup = match again {
                Some(setup) => setup,
                None => new_setup(&state, pending)?,
            };
            let refused = (StatusCode::BAD_REQUEST, Some(WRONG_FIRST_CODE));
            return Ok(render(&state, &step, (key, &step.nonce), refused, setup));
        }
    };
    let attempt = step.attempt(&req, &state, pending);
    let held = HeldLogin::new(&attempt, user_id, pending.generation);
    let replacing = session::presented(&req, step.secure);
    let clock = state.clock.clone();
    let finished = state
        .db
        .write(move |conn| {
            let now = clock.now();
            let Some(user) = held.confirm(conn, now)? else {
                return Ok::<_, LoginError>(None);
            };
            let Some(codes) = confirmed.store(conn, &user.id, now)? else {
                return Ok(None);
            };
            let id = session::start(conn, (&user, Amr::PASSWORD), replacing.as_deref(), now)?;
            held.clear_failures(conn)?;
            Ok(Some((id, codes)))
        })
        .await?;
    // Reset, disabled or locked meanwhile, or enrolled by another tab:
    // signing in again finds out which.
    let Some(((id, ended), codes)) = finished else {
        return step.expired(&state).await;
    };
    session::told(&state, ended);
    let who = Actor::Account {
        user_id,
        remote: attempt.remote,
    };
    audit::totp_enrolled(user_id, who);
    audit::recovery_codes_generated(user_id, recovery::COUNT, who);
    audit::login_succeeded(&attempt, user_id);
    let continue_to = step.next.as_deref().unwrap_or(next::DEFAULT);
    let mut b = page::builder(StatusCode::OK);
    for cookie in step.finished(&id) {
        b.cookie(cookie);
    }
    let heading = "Two-step verification is on";
    Ok(page::html(
        b,
        &CodesPage {
            heading,
            codes: &codes,
            continue_to,
        },
    ))
}
