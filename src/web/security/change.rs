//! The changes that need a current code besides the session: new
//! recovery codes (the old ones void) and turning TOTP off. The code is
//! checked as at sign-in ([`crate::login::Logins::check_code`]: the
//! address limit, the username's lock, a wrong code counted as a failed
//! login) and used up in the same write as the change.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::{actor, codes_page, render, PATH};
use crate::audit::{self, Attempt};
use crate::db::{AnyConnection, DbError};
use crate::login::{client_ip, LoginError};
use crate::mfa::{self, recovery};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::PageForm;
use crate::web::page;
use crate::web::session::{CurrentUser, Session};

/// The message of a wrong, used or missing code (one for all).
const WRONG_CODE: &str = "That code is not right. Enter the current code from your app.";

/// Why a change did not happen.
enum Refused {
    /// Shown on the page again, with this status.
    Page(StatusCode, &'static str, Option<i64>),
    /// A server failure.
    Server(WebError),
}

impl From<LoginError> for Refused {
    fn from(e: LoginError) -> Refused {
        match e {
            LoginError::BadCredentials => Refused::Page(StatusCode::BAD_REQUEST, WRONG_CODE, None),
            LoginError::TooManyFailures(secs) => Refused::Page(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts from your network. Try again later.",
                Some(secs),
            ),
            other => Refused::Server(other.into()),
        }
    }
}

/// Checks the form's current code, then runs `change`
/// in the write that uses the code up; `None` when the code was used
/// meanwhile.
async fn with_code<T: Send + 'static>(
    req: &HttpRequest,
    session: &Session,
    form: &PageForm,
    state: &AppState,
    change: impl FnOnce(&mut AnyConnection, &str, i64) -> Result<T, DbError> + Send + 'static,
) -> Result<T, Refused> {
    let attempt = Attempt {
        username: &session.username,
        client_id: None,
        remote: client_ip(req, state.logins.trusted_proxies()),
    };
    let code = form.get("code").unwrap_or("");
    let checked = state
        .logins
        .check_code(&attempt, &session.user_id, None, code)
        .await?;
    let method = checked.proof.method();
    let clock = state.clock.clone();
    let done = state
        .db
        .write(move |conn| {
            let now = clock.now();
            match checked.confirm(conn, now)? {
                Some(user) => Ok::<_, LoginError>(Some(change(conn, &user.id, now)?)),
                None => Ok(None),
            }
        })
        .await
        .map_err(Refused::from)?;
    match done {
        Some(done) => {
            audit::second_factor_succeeded(&attempt, &session.user_id, method);
            Ok(done)
        }
        None => Err(Refused::from(LoginError::BadCredentials)),
    }
}

/// The page again after a refusal.
async fn refused(
    state: &AppState,
    session: &Session,
    why: Refused,
) -> Result<HttpResponse, WebError> {
    match why {
        Refused::Server(e) => Err(e),
        Refused::Page(status, message, retry) => {
            let mut answer = render(state, session, status, Some(message), None).await?;
            if let Some(secs) = retry {
                if let Ok(v) = header::HeaderValue::from_str(&secs.max(1).to_string()) {
                    answer.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            Ok(answer)
        }
    }
}

/// `POST /account/security/recovery-codes`.
pub(super) async fn regenerate(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let form = PageForm::read_checked(&req, payload, &session).await?;
    let made = with_code(&req, &session, &form, &state, |conn, user_id, now| {
        Ok(mfa::new_recovery_codes(conn, user_id, now)?)
    })
    .await;
    match made {
        Ok(codes) => {
            let who = actor(&session, &req, &state);
            audit::recovery_codes_generated(&session.user_id, recovery::COUNT, who);
            Ok(codes_page("New recovery codes", &codes))
        }
        Err(why) => refused(&state, &session, why).await,
    }
}

/// `POST /account/security/totp/remove`.
pub(super) async fn remove(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let form = PageForm::read_checked(&req, payload, &session).await?;
    let removed = with_code(&req, &session, &form, &state, |conn, user_id, _| {
        Ok(mfa::remove_totp(conn, user_id)?)
    })
    .await;
    match removed {
        Ok((_, codes)) => {
            audit::totp_removed(&session.user_id, codes, actor(&session, &req, &state));
            Ok(page::see_other(PATH).finish())
        }
        Err(why) => refused(&state, &session, why).await,
    }
}
