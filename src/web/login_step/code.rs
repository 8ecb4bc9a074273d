//! `GET /login/code` asks for a code from the user's authenticator app or
//! a recovery code; `POST /login/code` checks it with the password's
//! defences ([`crate::login::Logins::check_code`]: a wrong code counts
//! toward the username's lockout exactly like a wrong password, and while
//! locked nothing is checked) and, when right, starts the session in the
//! write that uses the code up. Every refusal of a code shows the same
//! message. A user with a passkey is offered it on the same page
//! ([`super::passkey`]); its answer comes in the field `credential`.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{step_url, Step};
use crate::audit;
use crate::login::LoginError;
use crate::mfa::amr::Amr;
use crate::mfa::sealed::Stage;
use crate::state::AppState;
use crate::web::csrf::{self, FormNonce};
use crate::web::error::WebError;
use crate::web::{cookies, next, page, passkey, session};

/// The one message of every refused code.
const WRONG: &str = "That code is not right. Enter the current code from your app, or a \
     recovery code.";

#[derive(Template)]
#[template(path = "login_code.html")]
struct CodePage<'a> {
    action: &'a str,
    csrf_token: &'a str,
    message: Option<&'a str>,
    /// Whether the user has TOTP (the code form).
    totp: bool,
    /// Whether to offer the user's passkey.
    passkey: bool,
    passkey_options: &'a str,
}

/// The page, with `message` under `status`.
pub(super) fn render(
    state: &AppState,
    step: &Step,
    key: &crate::secret::Secret,
    nonce: &FormNonce,
    (status, message): (StatusCode, Option<&str>),
) -> HttpResponse {
    let (totp, passkey) = match &step.pending {
        Some(p) => (p.totp, p.passkey && state.passkeys.is_some()),
        None => (true, false),
    };
    let mut b = passkey::page_builder(status, passkey);
    if let Some(c) = nonce.cookie(cookies::secure(state)) {
        b.cookie(c);
    }
    let action = step_url(Stage::Code, step.next.as_deref());
    page::html(
        b,
        &CodePage {
            action: &action,
            csrf_token: &nonce.token(key, csrf::Purpose::LoginStep),
            message,
            totp,
            passkey,
            passkey_options: super::passkey::OPTIONS_PATH,
        },
    )
}

/// `GET /login/code`.
pub(super) async fn form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let step = Step::of(&req, &state, Stage::Code);
    if step.pending.is_none() {
        return step.expired(&state).await;
    }
    let key = csrf::form_key(&state).await?;
    Ok(render(
        &state,
        &step,
        key,
        &step.nonce,
        (StatusCode::OK, None),
    ))
}

/// `POST /login/code`.
pub(super) async fn submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let (form, step, key) = Step::posted(&req, payload, &state, Stage::Code).await?;
    let Some(pending) = &step.pending else {
        return step.expired(&state).await;
    };
    // Before any check: a forged post checks no code and counts nothing.
    if !step.verified(key, form.get("csrf_token")) {
        let message = Some("This form has expired. Please try again.");
        let fresh = FormNonce::fresh();
        return Ok(render(
            &state,
            &step,
            key,
            &fresh,
            (StatusCode::FORBIDDEN, message),
        ));
    }
    if let Some(credential) = form.get("credential") {
        return super::passkey::finish(&req, &state, (&step, key), pending, credential).await;
    }
    let page = |status, message| render(&state, &step, key, &step.nonce, (status, message));
    let Some(code) = form.get("code") else {
        return Ok(page(StatusCode::BAD_REQUEST, Some("Enter the code.")));
    };
    let attempt = step.attempt(&req, &state, pending);
    let checked = state
        .logins
        .check_code(&attempt, &pending.user_id, Some(pending.generation), code)
        .await;
    let checked = match checked {
        Ok(checked) => checked,
        Err(LoginError::BadCredentials) => return Ok(page(StatusCode::BAD_REQUEST, Some(WRONG))),
        Err(LoginError::TooManyFailures(secs)) => {
            let message = "Too many failed sign-ins from your network. Try again later.";
            let mut answer = page(StatusCode::TOO_MANY_REQUESTS, Some(message));
            answer
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs.max(1)));
            return Ok(answer);
        }
        Err(e) => return Err(e.into()),
    };
    let method = checked.proof.method();
    let replacing = session::presented(&req, step.secure);
    let clock = state.clock.clone();
    let started = state
        .db
        .write(move |conn| {
            let now = clock.now();
            match checked.confirm(conn, now)? {
                Some(user) => {
                    let two_factors = (&user, Amr::PASSWORD_AND_OTP);
                    Ok(Some(session::start(
                        conn,
                        two_factors,
                        replacing.as_deref(),
                        now,
                    )?))
                }
                None => Ok::<_, LoginError>(None),
            }
        })
        .await?;
    // Lost to a concurrent use of the same code, a lock or a reset.
    let Some((id, ended)) = started else {
        return Ok(page(StatusCode::BAD_REQUEST, Some(WRONG)));
    };
    session::told(&state, ended);
    audit::second_factor_succeeded(&attempt, &pending.user_id, method);
    audit::login_succeeded(&attempt, &pending.user_id);
    let mut answer = page::see_other(step.next.as_deref().unwrap_or(next::DEFAULT));
    for cookie in step.finished(&id) {
        answer.cookie(cookie);
    }
    Ok(answer.finish())
}
