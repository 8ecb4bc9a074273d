//! `POST /account/revoke`: the user takes back what they allowed an app
//! (`client_id` in the form): its remembered consent and its refresh
//! tokens for this user ([`consents::revoke_app`]).

use actix_web::{web, HttpRequest, HttpResponse};

use super::revoked_path;
use crate::audit;
use crate::login::client_ip;
use crate::manage::consents;
use crate::manage::ManageError;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::PageForm;
use crate::web::page;
use crate::web::session::CurrentUser;

/// `POST /account/revoke`.
pub(super) async fn revoke(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let form = PageForm::read_checked(&req, payload, &session).await?;
    let client_id = form
        .get("client_id")
        .ok_or(WebError::BadRequest("the form names no app"))?
        .to_string();
    let (user_id, id, clock) = (
        session.user_id.clone(),
        client_id.clone(),
        state.clock.clone(),
    );
    let revoked = state
        .db
        .write(move |conn| consents::revoke_app(conn, &user_id, &id, clock.now()))
        .await
        .map_err(|e: ManageError| WebError::from(e))?;
    audit::app_revoked(
        &session.user_id,
        &client_id,
        revoked.consent,
        revoked.refresh_tokens,
        revoked.codes,
        client_ip(&req, state.logins.trusted_proxies()),
    );
    Ok(page::see_other(&revoked_path(&client_id)).finish())
}
