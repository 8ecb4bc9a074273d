//! Passkeys on `/account/security`: the list (name, when added, when
//! last used), adding one (`POST /account/security/passkeys/options`,
//! then `POST /account/security/passkeys` with the authenticator's
//! answer), renaming one and removing one. Every POST carries the
//! session's CSRF token.
//!
//! Adding or removing a passkey changes how the account can be signed
//! into, so it needs a recent sign-in ([`FRESH_SECS`]) that used the
//! user's second factor when they have one: a stolen session cookie, or
//! a password alone, cannot add an attacker's passkey nor remove the
//! user's. Renaming needs only the session.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{actor, render, PATH};
use crate::audit;
use crate::db::passkeys::{self, PasskeyRow};
use crate::db::{is_unique_violation, totp_secrets, DbError};
use crate::mfa::passkey::{self, PasskeyError, Purpose, MAX_PER_USER};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::PageForm;
use crate::web::passkey::{ceremony, ceremony_done, options_answer, refusal, relying_party};
use crate::web::session::{CurrentUser, Session};
use crate::web::{next, page};

/// How recent a sign-in must be to add or remove a passkey (seconds).
pub const FRESH_SECS: i64 = 10 * 60;

/// The message when the sign-in is not recent enough.
pub const NOT_FRESH: &str = "To add or remove a passkey, sign in again first.";

/// A passkey as the page lists it.
pub struct Listed {
    /// Its credential id (the forms name it by this).
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was added.
    pub added: String,
    /// When it last signed in, or "never".
    pub last_used: String,
}

/// The passkeys panel.
pub struct Panel {
    /// The user's passkeys.
    pub list: Vec<Listed>,
    /// Whether the sign-in is recent enough to add or remove one.
    pub fresh: bool,
    /// Whether the user has as many as allowed.
    pub full: bool,
    /// Where to sign in again.
    pub reauth: String,
}

fn day(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Whether `session` may add or remove a passkey at `now`: signed in
/// within [`FRESH_SECS`], and with a second factor when the user has one.
pub fn fresh(session: &Session, has_factor: bool, now: i64) -> bool {
    let recent = now - session.auth_time <= FRESH_SECS;
    let strong = session.amr.otp || session.amr.passkey;
    recent && (strong || !has_factor)
}

/// The panel for `rows`, the user's passkeys.
pub fn panel(session: &Session, rows: &[PasskeyRow], has_totp: bool, now: i64) -> Panel {
    Panel {
        list: rows
            .iter()
            .map(|r| Listed {
                id: r.credential_id.clone(),
                name: r.name.clone(),
                added: day(r.created_at),
                last_used: r.last_used_at.map_or_else(|| "never".to_string(), day),
            })
            .collect(),
        fresh: fresh(session, has_totp || !rows.is_empty(), now),
        full: rows.len() >= MAX_PER_USER,
        reauth: next::login_url(Some(PATH)),
    }
}

/// The user's passkeys and whether they have TOTP.
async fn factors(state: &AppState, user_id: &str) -> Result<(Vec<PasskeyRow>, bool), WebError> {
    let id = user_id.to_string();
    Ok(state
        .db
        .read(move |conn| {
            let rows = passkeys::of_user(conn, &id)?;
            Ok::<_, DbError>((rows, totp_secrets::find(conn, &id)?.is_some()))
        })
        .await?)
}

/// Whether the session may add or remove a passkey now.
async fn may_change(state: &AppState, session: &Session) -> Result<bool, WebError> {
    let (rows, totp) = factors(state, &session.user_id).await?;
    Ok(fresh(session, totp || !rows.is_empty(), state.clock.now()))
}

/// The page again with `message`.
async fn again(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    message: &str,
) -> Result<HttpResponse, WebError> {
    let mut answer = render(state, session, status, Some(message), None).await?;
    let _ = answer.add_cookie(&ceremony_done(state));
    Ok(answer)
}

/// `POST /account/security/passkeys/options`: the options of a
/// registration, as JSON.
pub(super) async fn options(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let Some(rp) = relying_party(&state) else {
        return Err(WebError::NotFound);
    };
    let form = PageForm::read(&req, payload).await?;
    if !session.csrf_matches(form.get("csrf_token")) {
        let message = "This page has expired. Reload it and try again.";
        return Ok(refusal(StatusCode::FORBIDDEN, message));
    }
    if form.get("name").and_then(passkey::clean_name).is_none() {
        let message = "Give the passkey a name (up to 64 characters).";
        return Ok(refusal(StatusCode::BAD_REQUEST, message));
    }
    let (rows, totp) = factors(&state, &session.user_id).await?;
    let now = state.clock.now();
    if !fresh(&session, totp || !rows.is_empty(), now) {
        return Ok(refusal(StatusCode::FORBIDDEN, NOT_FRESH));
    }
    if rows.len() >= MAX_PER_USER {
        let message = "You have as many passkeys as allowed. Remove one first.";
        return Ok(refusal(StatusCode::BAD_REQUEST, message));
    }
    let user = (session.user_id.as_str(), session.username.as_str());
    match rp.start_registration(user, &rows, now) {
        Ok((options, c)) => Ok(options_answer(&state, options, &c)),
        Err(e) => Err(WebError::Internal(e.into())),
    }
}

/// `POST /account/security/passkeys`: the authenticator's answer.
pub(super) async fn add(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let form = PageForm::read_checked(&req, payload, &session).await?;
    let Some(rp) = relying_party(&state) else {
        return Err(WebError::NotFound);
    };
    let who = actor(&session, &req, &state);
    let refused = |reason: &str| audit::passkey_enrol_failed(&session.user_id, reason, who);
    let Some(c) = ceremony(&req, &state, Purpose::Register, Some(&session.user_id)) else {
        refused("expired");
        let message = "Adding the passkey took too long. Try again.";
        return again(&state, &session, StatusCode::BAD_REQUEST, message).await;
    };
    let Some(name) = form.get("name").and_then(passkey::clean_name) else {
        let message = "Give the passkey a name (up to 64 characters).";
        return again(&state, &session, StatusCode::BAD_REQUEST, message).await;
    };
    if !may_change(&state, &session).await? {
        refused("not_fresh");
        return again(&state, &session, StatusCode::FORBIDDEN, NOT_FRESH).await;
    }
    let made = rp
        .finish_registration(&c, form.get("credential").unwrap_or(""))
        .and_then(|pk| passkey::new_row(&session.user_id, &name, &pk, state.clock.now()));
    let row = match made {
        Ok(row) => row,
        Err(e) => {
            refused(e.reason());
            let message = "That passkey could not be added. Try again.";
            return again(&state, &session, StatusCode::BAD_REQUEST, message).await;
        }
    };
    let stored = row.clone();
    let added = state
        .db
        .write(move |conn| {
            if passkeys::of_user(conn, &stored.user_id)?.len() >= MAX_PER_USER {
                return Ok::<_, DbError>(false);
            }
            match passkeys::insert(conn, &stored) {
                Err(e) if is_unique_violation(&e) => Ok(false),
                other => other.map(|()| true).map_err(DbError::from),
            }
        })
        .await?;
    if !added {
        refused(PasskeyError::Duplicate.reason());
        let message = "That passkey is registered already, or you have as many as allowed.";
        return again(&state, &session, StatusCode::BAD_REQUEST, message).await;
    }
    audit::passkey_enrolled(&session.user_id, &row.credential_id, &row.name, who);
    Ok(page::see_other(PATH).cookie(ceremony_done(&state)).finish())
}

/// `POST /account/security/passkeys/rename`.
pub(super) async fn rename(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let form = PageForm::read_checked(&req, payload, &session).await?;
    let id = form.get("credential_id").unwrap_or("").to_string();
    let Some(name) = form.get("name").and_then(passkey::clean_name) else {
        let message = "Give the passkey a name (up to 64 characters).";
        return again(&state, &session, StatusCode::BAD_REQUEST, message).await;
    };
    let (user_id, key, new_name) = (session.user_id.clone(), id.clone(), name.clone());
    let renamed = state
        .db
        .write(move |conn| passkeys::rename(conn, &user_id, &key, &new_name).map_err(DbError::from))
        .await?;
    if !renamed {
        return Err(WebError::NotFound);
    }
    let who = actor(&session, &req, &state);
    audit::passkey_renamed(&session.user_id, &id, &name, who);
    Ok(page::see_other(PATH).finish())
}

/// `POST /account/security/passkeys/remove`.
pub(super) async fn remove(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let form = PageForm::read_checked(&req, payload, &session).await?;
    let id = form.get("credential_id").unwrap_or("").to_string();
    if !may_change(&state, &session).await? {
        return again(&state, &session, StatusCode::FORBIDDEN, NOT_FRESH).await;
    }
    let (user_id, key) = (session.user_id.clone(), id.clone());
    let removed = state
        .db
        .write(move |conn| passkeys::delete(conn, &user_id, &key).map_err(DbError::from))
        .await?;
    if !removed {
        return Err(WebError::NotFound);
    }
    audit::passkey_removed(&session.user_id, &id, actor(&session, &req, &state));
    Ok(page::see_other(PATH).finish())
}
