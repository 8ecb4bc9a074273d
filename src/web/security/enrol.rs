//! `POST /account/security/totp`: confirms the secret the page offered
//! with its first code, stores it with a first set of recovery codes and
//! shows them once. A wrong code shows the same secret again (nothing to
//! rescan); a stale form shows a new one. Wrong codes here are not
//! counted: the secret is not confirmed, so guessing it gains nothing.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::setup::{self, NotConfirmed, Setup};
use super::{actor, codes_page, render, PATH};
use crate::audit;
use crate::mfa::recovery;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::PageForm;
use crate::web::page;
use crate::web::session::CurrentUser;

/// The message of a wrong first code.
pub const WRONG_FIRST_CODE: &str =
    "That code does not match. Check that the time on your device is right, and try again.";

/// `POST /account/security/totp`.
pub(super) async fn confirm(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let form = PageForm::read_checked(&req, payload, &session).await?;
    let (sealed, code) = (form.get("secret"), form.get("code"));
    let confirmed = match setup::confirm(&state, &session.user_id, sealed, code)? {
        Ok(confirmed) => confirmed,
        Err(NotConfirmed::Stale) => {
            let message = "This setup expired. Scan the new code below.";
            return render(
                &state,
                &session,
                StatusCode::BAD_REQUEST,
                Some(message),
                None,
            )
            .await;
        }
        Err(NotConfirmed::WrongCode) => {
            let again = sealed
                .map(|s| Setup::again(&state, &session.user_id, &session.username, s))
                .transpose()?
                .flatten();
            let status = StatusCode::BAD_REQUEST;
            return render(&state, &session, status, Some(WRONG_FIRST_CODE), again).await;
        }
    };
    let (user_id, now) = (session.user_id.clone(), state.clock.now());
    let stored = state
        .db
        .write(move |conn| confirmed.store(conn, &user_id, now))
        .await?;
    let Some(codes) = stored else {
        // Already on (the form was posted twice): nothing to show.
        return Ok(page::see_other(PATH).finish());
    };
    let who = actor(&session, &req, &state);
    audit::totp_enrolled(&session.user_id, who);
    audit::recovery_codes_generated(&session.user_id, recovery::COUNT, who);
    Ok(codes_page("Two-step verification is on", &codes))
}
