//! Signing in with a passkey alone: "Sign in with a passkey" on the login
//! page. `POST /login/passkey/options` answers the options of a
//! discoverable-credential ceremony (no username: the authenticator
//! offers the user's passkeys, and user verification is required);
//! `POST /login/passkey` checks the answer, which names the credential and
//! its user, and starts the session in the write that takes the
//! credential's use. Nothing exists before that write: no session, no
//! code, no token. Both carry the login form's CSRF token; a refusal
//! counts against the address like a failed login and shows the login
//! page with one message.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{ceremony, ceremony_done, options_answer, refusal, relying_party};
use crate::audit;
use crate::db::passkeys::{self, PasskeyRow, Use};
use crate::db::users::{self, User};
use crate::db::DbError;
use crate::http::form::Form;
use crate::login::client_ip;
use crate::mfa::amr::Amr;
use crate::mfa::passkey::{CheckedUse, PasskeyError, Purpose, RelyingParty};
use crate::state::AppState;
use crate::web::cookies::{self, Jar};
use crate::web::csrf::{self, FormNonce, Purpose as FormPurpose};
use crate::web::error::WebError;
use crate::web::login::{render as login_page, Answer};
use crate::web::{next, page, session};

/// Where the options are asked for.
pub const OPTIONS_PATH: &str = "/login/passkey/options";

/// Where the answer is posted.
pub const PATH: &str = "/login/passkey";

/// The one message of every refused passkey sign-in.
const REFUSED: &str = "That passkey could not sign you in. Try again, or use your password.";

async fn read_form(req: &HttpRequest, payload: web::Payload) -> Result<Form, WebError> {
    Form::read(req, payload)
        .await
        .map_err(|_| WebError::BadRequest("the form could not be read"))
}

/// `POST /login/passkey/options`.
pub(super) async fn options(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let Some(rp) = relying_party(&state) else {
        return Err(WebError::NotFound);
    };
    let form = read_form(&req, payload).await?;
    let key = csrf::form_key(&state).await?;
    let nonce = FormNonce::of(&req, cookies::secure(&state));
    if !nonce.verify(key, FormPurpose::Login, form.get("csrf_token")) {
        let message = "This page has expired. Reload it and try again.";
        return Ok(refusal(StatusCode::FORBIDDEN, message));
    }
    match rp.start_sign_in(Purpose::Passwordless, None, &[], state.clock.now()) {
        Ok((options, c)) => Ok(options_answer(&state, options, &c)),
        Err(e) => Err(WebError::Internal(e.into())),
    }
}

/// `POST /login/passkey`.
pub(super) async fn finish(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let Some(rp) = relying_party(&state) else {
        return Err(WebError::NotFound);
    };
    let secure = cookies::secure(&state);
    let next = next::from_query(&req);
    let form = read_form(&req, payload).await?;
    let key = csrf::form_key(&state).await?;
    let nonce = FormNonce::of(&req, secure);
    let remote = client_ip(&req, state.logins.trusted_proxies());
    let page = |nonce: &FormNonce, status, message| {
        let mut answer = login_page(
            &state,
            key,
            nonce,
            next.as_deref(),
            "",
            Answer::refused(status, message),
        );
        let _ = answer.add_cookie(&ceremony_done(&state));
        answer
    };
    if !nonce.verify(key, FormPurpose::Login, form.get("csrf_token")) {
        let message = "This form has expired. Please sign in again.";
        return Ok(page(&FormNonce::fresh(), StatusCode::FORBIDDEN, message));
    }
    if let Some(_retry) = state.logins.address_limited(remote) {
        audit::passkey_sign_in_failed(None, "address_limited", remote);
        let message = "Too many failed sign-ins from your network. Try again later.";
        return Ok(page(&nonce, StatusCode::TOO_MANY_REQUESTS, message));
    }
    let answer = (Purpose::Passwordless, None, form.get("credential"));
    let checked = check(&req, &state, rp, answer).await?;
    let checked = match checked {
        Ok(checked) => checked,
        Err((user_id, reason)) => {
            audit::passkey_sign_in_failed(user_id.as_deref(), reason, remote);
            state.logins.count_address(remote);
            return Ok(page(&nonce, StatusCode::BAD_REQUEST, REFUSED));
        }
    };
    let replacing = session::presented(&req, secure);
    let clock = state.clock.clone();
    let used = checked.clone();
    let started = state
        .db
        .write(move |conn| {
            let now = clock.now();
            let user = users::by_id(conn, &used.user_id)?.filter(|u| !u.disabled);
            let Some(user) = user else {
                return Ok::<_, DbError>(None);
            };
            if !passkeys::take_use(conn, &use_of(&used, now))? {
                return Ok(None);
            }
            let started = session::start(conn, (&user, Amr::PASSKEY), replacing.as_deref(), now)?;
            Ok(Some((started, user)))
        })
        .await?;
    let Some(((id, ended), user)) = started else {
        audit::passkey_sign_in_failed(Some(&checked.user_id), "replayed", remote);
        state.logins.count_address(remote);
        return Ok(page(&nonce, StatusCode::BAD_REQUEST, REFUSED));
    };
    session::told(&state, ended);
    audit::passkey_sign_in_succeeded(&user.id, &user.username, remote);
    Ok(page::see_other(next.as_deref().unwrap_or(next::DEFAULT))
        .cookie(Jar::Session.make(id.expose(), secure))
        .cookie(Jar::FormNonce.removal(secure))
        .cookie(ceremony_done(&state))
        .finish())
}

/// A checked use as the write takes it.
pub fn use_of(checked: &CheckedUse, now: i64) -> Use<'_> {
    Use {
        credential_id: &checked.credential_id,
        read: &checked.read,
        updated: &checked.updated,
        challenge: &checked.challenge,
        started_at: checked.started_at,
        now,
    }
}

/// What refused an answer: the user the credential named, if any, and
/// the reason for the audit trail.
pub type Refused = (Option<String>, &'static str);

/// Checks `credential`, the answer to a ceremony of `purpose` for
/// `user_id` (none without a username), against the ceremony in the
/// cookie and the passkey it names (one read; a passkey of another user
/// than `user_id` is unknown): the checked use, or why not.
pub async fn check(
    req: &HttpRequest,
    state: &AppState,
    rp: &RelyingParty,
    (purpose, user_id, credential): (Purpose, Option<&str>, Option<&str>),
) -> Result<Result<CheckedUse, Refused>, WebError> {
    let Some(c) = ceremony(req, state, purpose, user_id) else {
        return Ok(Err((None, "expired")));
    };
    let Some(credential) = credential else {
        return Ok(Err((None, PasskeyError::Malformed.reason())));
    };
    let id = match RelyingParty::answer_credential_id(credential) {
        Ok(id) => id,
        Err(e) => return Ok(Err((None, e.reason()))),
    };
    let row: Option<(PasskeyRow, Option<User>)> = state
        .db
        .read(move |conn| {
            let Some(row) = passkeys::find(conn, &id)? else {
                return Ok::<_, DbError>(None);
            };
            let user = users::by_id(conn, &row.user_id)?;
            Ok(Some((row, user)))
        })
        .await?;
    let Some((row, Some(user))) = row else {
        return Ok(Err((None, PasskeyError::Unknown.reason())));
    };
    if user_id.is_some_and(|u| u != user.id) {
        return Ok(Err((Some(user.id), "other_user")));
    }
    if user.disabled {
        return Ok(Err((Some(user.id), "disabled")));
    }
    Ok(rp
        .finish_sign_in(&c, credential, &row)
        .map_err(|e| (Some(row.user_id.clone()), e.reason())))
}
