//! `GET /register` and `POST /register`: self-service sign-up, served only
//! with `--allow-registration` (otherwise 404, as if it did not exist).
//!
//! The rules are `authd user add`'s ([`sign_up`]); the password is hashed
//! by the same bounded hasher as every login, never on a request thread.
//! Every attempt that passes the CSRF check counts toward the per-address
//! limit (an attempt tells whether a username is taken, and costs a hash),
//! and over the limit the form answers 429 (SECURITY.md). A taken username or a refused
//! password shows the form again with a message, and creates nothing.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::cookies;
use super::csrf::{self, FormNonce, Purpose};
use super::error::WebError;
use super::form::{sentence, PageForm};
use super::page;
use crate::login::client_ip;
use crate::login::sign_up::{self, Refusal, SignUpError};
use crate::secret::Secret;
use crate::state::AppState;

/// Where a new user goes: the login form, then the console.
const AFTER: &str = "/login?registered=1&next=%2Fconsole";

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage<'a> {
    csrf_token: &'a str,
    /// The username as typed, shown again after a refusal.
    username: &'a str,
    message: Option<&'a str>,
}

/// 404 unless registration is on.
fn require_enabled(state: &AppState) -> Result<(), WebError> {
    if state.registration.enabled {
        Ok(())
    } else {
        Err(WebError::NotFound)
    }
}

/// The form, setting the nonce cookie if the browser lacks it.
fn render(
    state: &AppState,
    key: &Secret,
    nonce: &FormNonce,
    username: &str,
    status: StatusCode,
    message: Option<&str>,
) -> HttpResponse {
    let mut b = page::builder(status);
    if let Some(c) = nonce.cookie(cookies::secure(state)) {
        b.cookie(c);
    }
    page::html(
        b,
        &RegisterPage {
            csrf_token: &nonce.token(key, Purpose::Register),
            username,
            message,
        },
    )
}

/// `GET /register`.
pub(super) async fn form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    require_enabled(&state)?;
    let nonce = FormNonce::of(&req, cookies::secure(&state));
    let key = csrf::form_key(&state).await?;
    Ok(render(&state, key, &nonce, "", StatusCode::OK, None))
}

/// What became of a sign-up.
enum Outcome {
    Created,
    Refused(StatusCode, String),
}

fn refused(message: impl Into<String>) -> Outcome {
    Outcome::Refused(StatusCode::BAD_REQUEST, message.into())
}

/// `POST /register`.
pub(super) async fn submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    require_enabled(&state)?;
    let form = PageForm::read(&req, payload).await?;
    let key = csrf::form_key(&state).await?;
    let nonce = FormNonce::of(&req, cookies::secure(&state));
    let username = form.get("username").unwrap_or("");
    // A forged post counts nothing and hashes nothing.
    if !nonce.verify(key, Purpose::Register, form.get("csrf_token")) {
        let message = "This form has expired. Please try again.";
        let fresh = FormNonce::fresh();
        return Ok(render(
            &state,
            key,
            &fresh,
            username,
            StatusCode::FORBIDDEN,
            Some(message),
        ));
    }
    let remote = client_ip(&req, state.logins.trusted_proxies());
    if let Some(secs) = state.logins.address_limited(remote) {
        let message = "Too many attempts from your network. Try again later.";
        let mut answer = render(
            &state,
            key,
            &nonce,
            username,
            StatusCode::TOO_MANY_REQUESTS,
            Some(message),
        );
        if let Ok(v) = header::HeaderValue::from_str(&secs.max(1).to_string()) {
            answer.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(answer);
    }
    state.logins.count_address(remote);
    let outcome = sign_up(&state, &form, username, remote).await?;
    Ok(match outcome {
        Outcome::Created => page::see_other(AFTER).finish(),
        Outcome::Refused(status, message) => {
            let mut answer = render(&state, key, &nonce, username, status, Some(&message));
            if status == StatusCode::SERVICE_UNAVAILABLE {
                answer
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            }
            answer
        }
    })
}

/// Signs up with the form's fields ([`sign_up::sign_up`]).
async fn sign_up(
    state: &AppState,
    form: &PageForm,
    username: &str,
    remote: Option<std::net::IpAddr>,
) -> Result<Outcome, WebError> {
    let asked = sign_up::Request {
        username,
        password: form.get("password"),
        confirm: form.get("password_confirm"),
        email: form.get("email"),
        remote,
    };
    let roles = state.registration.roles.clone();
    let done = sign_up::sign_up(&state.logins, &state.db, &state.clock, roles, asked)
        .await
        .map_err(|e| match e {
            SignUpError::Db(e) => WebError::from(e),
            SignUpError::Internal(why) => WebError::Internal(why.into()),
        })?;
    Ok(match done {
        Ok(()) => Outcome::Created,
        Err(Refusal::Busy) => {
            Outcome::Refused(StatusCode::SERVICE_UNAVAILABLE, Refusal::Busy.to_string())
        }
        Err(Refusal::Invalid(rule)) => refused(sentence(&rule)),
        Err(other) => refused(other.to_string()),
    })
}
