//! `POST /logout`: ends the browser's session and clears its cookie. The
//! form must carry the session's CSRF token, so that another site cannot
//! log a user out; without a live session there is nothing to protect and
//! the cookie is simply cleared.

use actix_web::{web, HttpRequest, HttpResponse};

use super::cookies::{self, Jar};
use super::error::WebError;
use super::{page, session};
use crate::audit;
use crate::http::form::Form;
use crate::login::client_ip;
use crate::state::AppState;

/// `POST /logout`.
pub(super) async fn logout(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    if let Some(session) = session::current(&req, &state).await? {
        let form = Form::read(&req, payload)
            .await
            .map_err(|_| WebError::BadRequest("the form could not be read"))?;
        if !session.csrf_matches(form.get("csrf_token")) {
            return Err(WebError::Forbidden);
        }
        let user_id = session.user_id.clone();
        session::end(&state, session).await?;
        audit::logout(&user_id, client_ip(&req, state.logins.trusted_proxies()));
    }
    Ok(page::see_other("/login")
        .cookie(Jar::Session.removal(cookies::secure(&state)))
        .finish())
}
