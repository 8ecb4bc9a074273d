//! A passkey as the second step of a login, after the password:
//! `POST /login/code/passkey/options` answers the options of a ceremony
//! that allows only the pending user's passkeys (user verification
//! required); the answer comes back to `POST /login/code` in the field
//! `credential` instead of `code`, and is checked here. The session
//! starts in the write that takes the credential's use and confirms the
//! login still stands (not locked, reset or disabled meanwhile), as a
//! code's does; its `amr` is two factors, password and passkey.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::code::render;
use super::Step;
use crate::audit::{self, SecondFactorFailure};
use crate::db::passkeys;
use crate::db::DbError;
use crate::login::second_factor::HeldLogin;
use crate::login::LoginError;
use crate::mfa::amr::Amr;
use crate::mfa::passkey::Purpose;
use crate::mfa::sealed::{Pending, Stage};
use crate::secret::Secret;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::passkey::sign_in::{check, use_of};
use crate::web::passkey::{ceremony_done, options_answer, refusal, relying_party};
use crate::web::{next, page, session};

/// The one message of every refused passkey answer.
const WRONG: &str = "That passkey was not accepted. Try again, or enter a code.";

/// Where the options are asked for.
pub const OPTIONS_PATH: &str = "/login/code/passkey/options";

/// `POST /login/code/passkey/options`.
pub(super) async fn options(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let (form, step, key) = Step::posted(&req, payload, &state, Stage::Code).await?;
    let (Some(rp), Some(pending)) = (relying_party(&state), &step.pending) else {
        let message = "Your sign-in expired. Please sign in again.";
        return Ok(refusal(StatusCode::BAD_REQUEST, message));
    };
    if !step.verified(key, form.get("csrf_token")) {
        let message = "This page has expired. Reload it and try again.";
        return Ok(refusal(StatusCode::FORBIDDEN, message));
    }
    let user_id = pending.user_id.clone();
    let rows = state
        .db
        .read(move |conn| passkeys::of_user(conn, &user_id).map_err(DbError::from))
        .await?;
    if rows.is_empty() {
        let message = "You have no passkey. Enter a code instead.";
        return Ok(refusal(StatusCode::BAD_REQUEST, message));
    }
    let now = state.clock.now();
    match rp.start_sign_in(Purpose::SecondFactor, Some(&pending.user_id), &rows, now) {
        Ok((options, c)) => Ok(options_answer(&state, options, &c)),
        Err(e) => Err(WebError::Internal(e.into())),
    }
}

/// The passkey answer `credential` posted to `/login/code` for
/// `pending` (whose CSRF token was checked).
pub(super) async fn finish(
    req: &HttpRequest,
    state: &AppState,
    (step, key): (&Step, &Secret),
    pending: &Pending,
    credential: &str,
) -> Result<HttpResponse, WebError> {
    let attempt = step.attempt(req, state, pending);
    let refused = |status| {
        let mut answer = render(state, step, key, &step.nonce, (status, Some(WRONG)));
        let _ = answer.add_cookie(&ceremony_done(state));
        answer
    };
    let Some(rp) = relying_party(state) else {
        return Ok(refused(StatusCode::BAD_REQUEST));
    };
    let answer = (
        Purpose::SecondFactor,
        Some(pending.user_id.as_str()),
        Some(credential),
    );
    let checked = match check(req, state, rp, answer).await? {
        Ok(checked) => checked,
        Err((_, reason)) => {
            let why = SecondFactorFailure::Passkey(reason);
            audit::second_factor_failed(&attempt, &pending.user_id, why);
            return Ok(refused(StatusCode::BAD_REQUEST));
        }
    };
    let held = HeldLogin::new(&attempt, &pending.user_id, pending.generation);
    let replacing = session::presented(req, step.secure);
    let clock = state.clock.clone();
    let started = state
        .db
        .write(move |conn| {
            let now = clock.now();
            let Some(user) = held.confirm(conn, now)? else {
                return Ok::<_, LoginError>(None);
            };
            if !passkeys::take_use(conn, &use_of(&checked, now))? {
                return Ok(None);
            }
            let two_factors = (&user, Amr::PASSWORD_AND_PASSKEY);
            let started = session::start(conn, two_factors, replacing.as_deref(), now)?;
            held.clear_failures(conn)?;
            Ok(Some(started))
        })
        .await?;
    // Replayed, or the login was locked, reset or disabled meanwhile.
    let Some((id, ended)) = started else {
        let why = SecondFactorFailure::Passkey("replayed");
        audit::second_factor_failed(&attempt, &pending.user_id, why);
        return Ok(refused(StatusCode::BAD_REQUEST));
    };
    session::told(state, ended);
    audit::second_factor_succeeded(&attempt, &pending.user_id, "passkey");
    audit::login_succeeded(&attempt, &pending.user_id);
    let mut answer = page::see_other(step.next.as_deref().unwrap_or(next::DEFAULT));
    for cookie in step.finished(&id) {
        answer.cookie(cookie);
    }
    answer.cookie(ceremony_done(state));
    Ok(answer.finish())
}
