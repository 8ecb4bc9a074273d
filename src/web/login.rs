//! `GET /login` shows the login form; `POST /login` checks the password
//! exactly as the password grant does (the same [`Logins`] check: address
//! limit, username lock, bounded hashing, dummy hash, shared counters),
//! then starts a session and sends the browser on (303); for a user with
//! a second factor, or whose role requires one, it sends the browser to
//! the second step instead ([`super::login_step`]), with no session yet.
//!
//! Every failed attempt gets the same page, status and message, whatever
//! the reason (unknown user, wrong password, disabled, locked).
//!
//! [`Logins`]: crate::login::Logins

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::cookies::{self, Jar};
use super::csrf::{self, FormNonce, Purpose};
use super::error::WebError;
use super::passkey::sign_in::PATH as PASSKEY_PATH;
use super::{login_step, next, page, session};
use crate::audit::{self, Attempt, LoginFailure};
use crate::http::form::Form;
use crate::login::{client_ip, LoginError};
use crate::secret::Secret;
use crate::state::AppState;

/// The one message of every failed attempt.
const FAILED: &str = "Invalid username or password.";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    /// Where the form posts: `/login`, with `next` when there is one.
    action: &'a str,
    csrf_token: &'a str,
    /// The username as typed, shown again after a failure.
    username: &'a str,
    message: Option<&'a str>,
    /// A word on what just succeeded (an account created).
    notice: Option<&'a str>,
    /// Whether to link to `/register`.
    registration: bool,
    /// Where "Sign in with a passkey" posts, when passkeys are on.
    passkey_action: Option<String>,
    passkey_options: &'a str,
}

/// The query parameter that the registration form's redirect adds.
const REGISTERED: &str = "registered=1";

/// What a login page answer is made of.
pub(super) struct Answer<'a> {
    status: StatusCode,
    message: Option<&'a str>,
    notice: Option<&'a str>,
    retry_after: Option<i64>,
}

impl Answer<'_> {
    fn ok() -> Answer<'static> {
        Answer {
            status: StatusCode::OK,
            message: None,
            notice: None,
            retry_after: None,
        }
    }

    pub(super) fn refused(status: StatusCode, message: &str) -> Answer<'_> {
        Answer {
            status,
            message: Some(message),
            notice: None,
            retry_after: None,
        }
    }
}

/// The login page, setting the nonce cookie if the browser lacks it.
pub(super) fn render(
    state: &AppState,
    key: &Secret,
    nonce: &FormNonce,
    next: Option<&str>,
    username: &str,
    answer: Answer<'_>,
) -> HttpResponse {
    let passkeys = state.passkeys.is_some();
    let mut b = super::passkey::page_builder(answer.status, passkeys);
    if let Some(c) = nonce.cookie(cookies::secure(state)) {
        b.cookie(c);
    }
    if let Some(secs) = answer.retry_after {
        b.insert_header((header::RETRY_AFTER, secs.max(1)));
    }
    let action = next::login_url(next);
    page::html(
        b,
        &LoginPage {
            action: &action,
            csrf_token: &nonce.token(key, Purpose::Login),
            username,
            message: answer.message,
            notice: answer.notice,
            registration: state.registration.enabled,
            passkey_action: passkeys.then(|| next::with_next(PASSKEY_PATH, next)),
            passkey_options: super::passkey::sign_in::OPTIONS_PATH,
        },
    )
}

/// `GET /login`.
pub(super) async fn form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let nonce = FormNonce::of(&req, cookies::secure(&state));
    let key = csrf::form_key(&state).await?;
    let next = next::from_query(&req);
    // An app's `login_hint` (OpenID Connect Core 1.0 §3.1.2.1) prefills
    // the username; the template escapes it.
    let hint = next::login_hint(&req).unwrap_or_default();
    // Set by the registration form's redirect; a forged one only shows
    // this sentence.
    let registered = req.query_string().split('&').any(|p| p == REGISTERED);
    let answer = Answer {
        notice: registered.then_some("Your account is ready. Sign in to continue."),
        ..Answer::ok()
    };
    Ok(render(&state, key, &nonce, next.as_deref(), &hint, answer))
}

/// `POST /login`.
pub(super) async fn submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let secure = cookies::secure(&state);
    let next = next::from_query(&req);
    let form = Form::read(&req, payload)
        .await
        .map_err(|_| WebError::BadRequest("the form could not be read"))?;
    let key = csrf::form_key(&state).await?;
    let nonce = FormNonce::of(&req, secure);
    let username = form.get("username").unwrap_or("");
    let page =
        |nonce: &FormNonce, answer| render(&state, key, nonce, next.as_deref(), username, answer);

    // Before anything else: a forged post costs no hash and counts no
    // failure. The page gets a fresh nonce, so the user can simply retry.
    if !nonce.verify(key, Purpose::Login, form.get("csrf_token")) {
        let message = "This form has expired. Please sign in again.";
        return Ok(page(
            &FormNonce::fresh(),
            Answer::refused(StatusCode::FORBIDDEN, message),
        ));
    }
    let Some(password) = form.get("password").filter(|_| !username.is_empty()) else {
        let message = "Enter your username and password.";
        return Ok(page(
            &nonce,
            Answer::refused(StatusCode::BAD_REQUEST, message),
        ));
    };
    let failed = || page(&nonce, Answer::refused(StatusCode::BAD_REQUEST, FAILED));

    // Shed first, as the grant does: a full hashing queue is answered
    // before any storage work.
    if state.logins.shed() {
        return Ok(page(&nonce, busy()));
    }
    let attempt = Attempt {
        username,
        client_id: None,
        remote: client_ip(&req, state.logins.trusted_proxies()),
    };
    let login = match state.logins.check(&attempt, Secret::new(password)).await {
        Ok(login) => login,
        Err(LoginError::BadCredentials) => return Ok(failed()),
        Err(LoginError::TooManyFailures(secs)) => {
            let message = "Too many failed sign-ins from your network. Try again later.";
            return Ok(page(
                &nonce,
                Answer {
                    retry_after: Some(secs),
                    ..Answer::refused(StatusCode::TOO_MANY_REQUESTS, message)
                },
            ));
        }
        Err(LoginError::Busy) => return Ok(page(&nonce, busy())),
        Err(e) => return Err(e.into()),
    };
    let user_id = login.user.id.clone();
    if let Some(stage) = login.factors.next_step() {
        return login_step::begin(&state, &attempt, login, stage, next.as_deref()).await;
    }

    let replacing = session::presented(&req, secure);
    let started = session::start_confirmed(&state, login, replacing).await?;
    let Some(id) = started else {
        audit::login_failed(&attempt, Some(&user_id), LoginFailure::CredentialsChanged);
        return Ok(failed());
    };
    audit::login_succeeded(&attempt, &user_id);
    Ok(page::see_other(next.as_deref().unwrap_or(next::DEFAULT))
        .cookie(Jar::Session.make(id.expose(), secure))
        // The form's nonce has done its job: the next form gets a new one.
        .cookie(Jar::FormNonce.removal(secure))
        .finish())
}

/// The answer while the hashing queue is full (503, as on the grant).
fn busy() -> Answer<'static> {
    Answer {
        retry_after: Some(1),
        ..Answer::refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many sign-ins are waiting. Try again in a moment.",
        )
    }
}
