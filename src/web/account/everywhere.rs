//! `POST /account/logout-everywhere`: ends every sign-in session of the
//! user, this browser's included, and sends the browser to the login
//! page. Another browser of the user is signed out at its next request.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::audit;
use crate::login::client_ip;
use crate::state::AppState;
use crate::web::cookies::{self, Jar};
use crate::web::error::WebError;
use crate::web::form::PageForm;
use crate::web::page;
use crate::web::session::{self, CurrentUser};

/// `POST /account/logout-everywhere`.
pub(super) async fn logout_everywhere(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    PageForm::read_checked(&req, payload, &session).await?;
    let ended = session::end_all(&state, &session.user_id).await?;
    audit::logout_everywhere(
        &session.user_id,
        ended.sessions,
        client_ip(&req, state.logins.trusted_proxies()),
    );
    Ok(page::see_other("/login")
        .cookie(Jar::Session.removal(cookies::secure(&state)))
        .finish())
}
